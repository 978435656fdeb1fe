"""2 gloo processes (torchrun through launch.py) train to the same weights as 1 process.

Same tiny model, same fixed mini-batch sequence (rows of capacity 6, one
batch of 5 as when the batch size does not divide the training set), same
global batch. Tolerance: max |w2 - w1| <= 1e-5 after 3 epochs of SGD with
momentum; the only difference is the float32 summation order of gloo's
all-reduce (observed differences are ~1e-7).
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "workflow" / "scripts"
TOLERANCE = 1e-5

TRAIN = textwrap.dedent(
    """
    import os, sys
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # CPU/gloo test even on a GPU machine
    import numpy as np, torch
    from layerwise import distributed

    torch.set_num_threads(1)
    rank, world, device = distributed.init_from_env()
    torch.manual_seed(0)
    x, y = torch.randn(23, 8), torch.randint(0, 3, (23,))
    model = torch.nn.Sequential(
        torch.nn.Conv1d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(32, 3)
    )
    model = distributed.wrap_model(model, device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    order = np.random.default_rng(1).permutation(23)
    rows = np.full((4, 6), -1)
    rows.flat[: 23] = order  # batches of 6, 6, 6, 5 (last row padded)
    for epoch in range(3):
        for row in rows:
            share = torch.as_tensor(distributed.rank_share(row, rank, world, key="train.batch_size"))
            out = model(x[share].unsqueeze(1))
            loss = torch.nn.functional.cross_entropy(out, y[share], reduction="sum")
            opt.zero_grad()
            (loss * distributed.loss_scale(row, world)).backward()
            opt.step()
    if distributed.is_main(rank):
        state = getattr(model, "module", model).state_dict()
        torch.save({"world": world, "state": state}, sys.argv[1])
    distributed.barrier()
    distributed.cleanup()
    """
)


def _run(argv, tmp_path, gpus):
    env = {
        **os.environ,
        "PYTHONPATH": str(SCRIPTS),
        "LAYERWISE_GPU_COUNT": str(gpus),  # simulated devices: the launcher leases them
        "LAYERWISE_GPU_LOCK_DIR": str(tmp_path / "locks"),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("SLURM_JOB_ID", None)
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_two_gloo_ranks_equal_one_process(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    launch = [sys.executable, str(SCRIPTS / "launch.py")]
    _run(launch + ["--gpus", "1", "--", sys.executable, str(script), str(tmp_path / "one.pt")], tmp_path, 1)
    two = _run(launch + ["--gpus", "2", "--", sys.executable, str(script), str(tmp_path / "two.pt")], tmp_path, 2)
    assert "torch.distributed.run --standalone --nproc_per_node=2" in two.stderr
    a = torch.load(tmp_path / "one.pt")
    b = torch.load(tmp_path / "two.pt")
    assert (a["world"], b["world"]) == (1, 2)
    assert a["state"].keys() == b["state"].keys()
    diff = max((a["state"][k] - b["state"][k]).abs().max().item() for k in a["state"])
    print(f"max |w(2 ranks) - w(1 process)| = {diff:.3g} (tolerance {TOLERANCE})")
    assert diff <= TOLERANCE, f"2 ranks differ from 1 process by {diff}"
    # the training moved the weights far more than the tolerance: the comparison can fail
    torch.manual_seed(0)
    torch.randn(23, 8), torch.randint(0, 3, (23,))
    init = torch.nn.Sequential(
        torch.nn.Conv1d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(32, 3)
    ).state_dict()
    moved = max((a["state"][k] - init[k]).abs().max().item() for k in init)
    assert moved > 1000 * TOLERANCE
