"""GPU leases with a simulated device count (LAYERWISE_GPU_COUNT).

Concurrent jobs must get disjoint devices and never more than exist: each job
claims a marker file per leased device with O_EXCL while it runs, so any
overlap makes a job fail. A SIGKILLed job's lease must be free at once.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from layerwise import gpu, jobwatch
from layerwise.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "workflow" / "scripts"
sys.path.insert(0, str(SCRIPTS))
import launch  # noqa: E402  (the entry script, for plan())

# Runs while holding devices: claims <held>/<dev> exclusively, records them, sleeps, unclaims.
HOLD = textwrap.dedent(
    """
    import os, sys, time
    held, record, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    devices = [d for d in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if d]
    for d in devices:
        os.close(os.open(os.path.join(held, d), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    with open(record, "a") as f:
        f.write(",".join(devices) + "\\n")
    time.sleep(seconds)
    for d in devices:
        os.remove(os.path.join(held, d))
    """
)


def _env(tmp_path, count):
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS), "LAYERWISE_GPU_COUNT": str(count)}
    env["LAYERWISE_GPU_LOCK_DIR"] = str(tmp_path / "locks")
    env.pop("SLURM_JOB_ID", None)
    return env


def _hold_script(tmp_path):
    (tmp_path / "held").mkdir(exist_ok=True)
    script = tmp_path / "hold.py"
    script.write_text(HOLD)
    return script


def test_device_slots_sources():
    assert gpu.device_slots({"LAYERWISE_GPU_COUNT": "3"}) == ["0", "1", "2"]
    assert gpu.device_slots({"LAYERWISE_GPU_COUNT": "0", "CUDA_VISIBLE_DEVICES": "1"}) == []
    assert gpu.device_slots({"CUDA_VISIBLE_DEVICES": "2, 5"}) == ["2", "5"]
    assert gpu.device_slots({"CUDA_VISIBLE_DEVICES": ""}) == []
    with pytest.raises(InputError, match="LAYERWISE_GPU_COUNT"):
        gpu.device_slots({"LAYERWISE_GPU_COUNT": "two"})


def test_device_slots_without_a_driver_skip_torch_and_with_one_ask_it(tmp_path, monkeypatch):
    """No driver path: no device and no torch import (a second per job); a driver: torch counts."""
    import torch

    monkeypatch.setattr(gpu, "DRIVER_PATHS", (str(tmp_path / "absent"),))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: pytest.fail("torch asked without a driver"))
    assert gpu.device_slots({}) == []
    (tmp_path / "present").mkdir()
    monkeypatch.setattr(gpu, "DRIVER_PATHS", (str(tmp_path / "absent"), str(tmp_path / "present")))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert gpu.device_slots({}) == ["0", "1"]


def test_more_gpus_than_slots_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="gpu=3 but this machine has 2"):
        gpu.acquire(3, ["0", "1"], tmp_path)


def test_concurrent_jobs_get_disjoint_devices(tmp_path):
    """Seven launcher jobs of 1 GPU on 3 simulated GPUs; plus direct 2- and 3-GPU leases."""
    script = _hold_script(tmp_path)
    record = tmp_path / "record.txt"
    env = _env(tmp_path, 3)
    launch_cmd = [sys.executable, str(SCRIPTS / "launch.py"), "--gpus", "1", "--"]
    jobs = [
        subprocess.Popen(
            launch_cmd + [sys.executable, str(script), str(tmp_path / "held"), str(record), "0.4"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(7)
    ]
    # multi-device leases compete for the same slots, taken in this process
    taken = []
    for count in (2, 3):
        lease = gpu.acquire(count, ["0", "1", "2"], tmp_path / "locks", poll_seconds=0.05, timeout=60)
        for d in lease.devices:
            os.close(os.open(tmp_path / "held" / d, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        taken.append(lease.devices)
        time.sleep(0.2)
        for d in lease.devices:
            os.remove(tmp_path / "held" / d)
        lease.release()
    errors = [job.communicate(timeout=120)[1] for job in jobs]
    assert [job.returncode for job in jobs] == [0] * 7, errors
    leases = [line.split(",") for line in record.read_text().split()]
    assert len(leases) == 7 and all(len(lease) == 1 for lease in leases)
    assert {d for lease in leases for d in lease} <= {"0", "1", "2"}
    assert [sorted(t) for t in taken] == [sorted(set(t)) for t in taken]
    assert [len(t) for t in taken] == [2, 3]


def test_killed_job_frees_its_lease(tmp_path):
    env = _env(tmp_path, 1)
    job = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "launch.py"), "--gpus", "1", "--", sys.executable, "-c"]
        + ["import sys, time; open(sys.argv[1], 'w'); time.sleep(120)", str(tmp_path / "started")],
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists():
            assert job.poll() is None, "launcher exited early"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # while it runs, its device is leased: nothing is free
        with pytest.raises(TimeoutError):
            gpu.acquire(1, ["0"], tmp_path / "locks", poll_seconds=0.05, timeout=0.3)
    finally:
        os.kill(job.pid, signal.SIGKILL)  # the launcher; its command gets SIGTERM (PR_SET_PDEATHSIG)
        job.wait()
    lease = gpu.acquire(1, ["0"], tmp_path / "locks", poll_seconds=0.05, timeout=5)
    assert lease.devices == ["0"]
    lease.release()


def test_plan_under_slurm_takes_no_lease(tmp_path):
    environ = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "0,1", "LAYERWISE_GPU_LOCK_DIR": str(tmp_path)}
    argv, env, lease = launch.plan(2, ["python", "train.py", "--x"], environ)
    assert lease is None and env == {}
    assert argv == ["python", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py", "--x"]
    argv, env, lease = launch.plan(1, ["python", "train.py"], environ)
    assert argv == ["python", "train.py"] and lease is None
    assert not list(tmp_path.iterdir())  # no lock files under SLURM


def test_plan_without_gpus_runs_on_cpu_and_cpu_jobs_see_no_gpu(tmp_path):
    environ = {"LAYERWISE_GPU_COUNT": "0", "LAYERWISE_GPU_LOCK_DIR": str(tmp_path)}
    assert launch.plan(4, ["python", "t.py"], environ) == (["python", "t.py"], {}, None)
    environ = {"LAYERWISE_GPU_COUNT": "2", "LAYERWISE_GPU_LOCK_DIR": str(tmp_path)}
    assert launch.plan(0, ["python", "t.py"], environ) == (["python", "t.py"], {"CUDA_VISIBLE_DEVICES": ""}, None)
    with pytest.raises(InputError, match="must start with python"):
        launch.plan(2, ["bash", "-c", "true"], environ)
    with pytest.raises(InputError, match="gpu must be 0 or more"):
        launch.plan(-1, ["python", "t.py"], environ)


def test_launcher_reports_bad_input_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "launch.py"), "--gpus", "3", "--", sys.executable, "-c", "pass"],
        env=_env(tmp_path, 2),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: resources gpu=3 but this machine has 2")


# A job's command under the launcher: records its process group, starts a grandchild, and
# publishes out.txt when `go` appears or when it is asked to stop (SIGTERM), the worst case.
JOB = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    from pathlib import Path
    from layerwise.errors import run_cli
    from layerwise.h5io import atomic_path
    import argparse
    out, started = Path(sys.argv[1]), Path(sys.argv[2])
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    def main(args):
        sleeper = subprocess.Popen(["sleep", "120"])
        started.write_text(f"{os.getpgid(0)} {sleeper.pid}")
        while not stop and not out.with_name("go").exists():
            time.sleep(0.05)
        with atomic_path(out) as tmp:
            tmp.write_text("orphan" if stop else "job")
    parser = argparse.ArgumentParser()
    parser.add_argument("rest", nargs="*")
    run_cli(main, parser)
    """
)
# Stands in for Snakemake (the watchdog finds the nearest ancestor named snakemake): starts
# the job's shell like Snakemake's shell() does, then waits.
SNAKEMAKE = "import subprocess, sys\nsys.exit(subprocess.run(['bash', '-c', sys.argv[1]]).returncode)\n"


def _start_job(tmp_path):
    (tmp_path / "job.py").write_text(JOB)
    stub = tmp_path / "bin" / "snakemake"
    stub.parent.mkdir()
    stub.write_text(SNAKEMAKE)
    shell = (f"set -e; {sys.executable} {SCRIPTS / 'launch.py'} --gpus 0 -- {sys.executable} {tmp_path / 'job.py'} "
             f"{tmp_path / 'out.txt'} {tmp_path / 'started'} 2> {tmp_path / 'job.log'}; true")
    parent = subprocess.Popen([sys.executable, str(stub), shell], env=_env(tmp_path, 0))
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists() or not (tmp_path / "started").read_text():
        assert parent.poll() is None and time.monotonic() < deadline, "job did not start"
        time.sleep(0.05)
    pgid, sleeper = map(int, (tmp_path / "started").read_text().split())
    return parent, pgid, sleeper


def _group_alive(pgid):
    """Whether a process of group ``pgid`` runs (zombies awaiting their reaper do not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process groups are read from /proc")
def test_killing_snakemake_ends_the_job_group_before_it_publishes(tmp_path):
    parent, pgid, sleeper = _start_job(tmp_path)
    assert pgid != os.getpgid(parent.pid)  # the command has its own group
    parent.kill()  # kill -9 of Snakemake: the job's shell survives it
    parent.wait()
    deadline = time.monotonic() + 30
    while _group_alive(pgid):
        assert time.monotonic() < deadline, "the job's process group outlived Snakemake"
        time.sleep(0.05)
    assert not jobwatch.alive(str(sleeper))  # the grandchild went with the group
    assert not (tmp_path / "out.txt").exists()
    log = (tmp_path / "job.log").read_text()
    assert "the Snakemake job that started this command is gone" in log and "ending process group" in log
    assert f"error: {tmp_path / 'out.txt'}: not written: this process" in log  # refused on SIGTERM


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process groups are read from /proc")
def test_job_under_a_living_snakemake_publishes_and_leaves_no_process(tmp_path):
    # The control for the test above: same job, nobody killed.
    parent, pgid, sleeper = _start_job(tmp_path)
    (tmp_path / "go").touch()
    assert parent.wait(timeout=60) == 0
    assert (tmp_path / "out.txt").read_text() == "job"
    assert not _group_alive(pgid)  # its leftover grandchild was ended with the job
