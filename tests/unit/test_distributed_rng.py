"""Each DDP rank saves and restores its own random state in loop.fit's checkpoints (2 gloo ranks)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "workflow" / "scripts"

SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import torch
    from layerwise import distributed
    from layerwise.training import checkpoint, loop

    rank, world, device = distributed.init_from_env()
    model = torch.nn.Linear(2, 2)
    task = loop.Task(model, torch.optim.SGD(model.parameters(), lr=0.1), None, None)
    state = loop._State()
    torch.manual_seed(100 + rank)  # a different stream per rank
    snap = loop._snapshot(task, state, "key")  # collective: every rank's state
    if rank == 0:
        checkpoint.save(sys.argv[1], snap)
    distributed.barrier()
    expected = torch.rand(3)
    torch.manual_seed(7)  # lose it
    loop._restore(task, state, checkpoint.load(sys.argv[1], "key"))
    got = torch.rand(3)
    with open(f"{sys.argv[1]}.rank{rank}", "w") as f:  # not stdout: two ranks' prints may interleave
        f.write(f"rank {rank} world {len(snap['ranks'])} same {torch.equal(got, expected)}")
    """
)


def test_each_rank_resumes_its_own_random_stream(tmp_path):
    script = tmp_path / "rng.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script), str(tmp_path / "ckpt")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [(tmp_path / f"ckpt.rank{r}").read_text() for r in (0, 1)]
    assert lines == ["rank 0 world 2 same True", "rank 1 world 2 same True"]
