"""The cost plan of a target before running it: jobs, images processed, device-hours, memory,
disk per output kind, critical path and wall time on given cores and GPUs (issue 23).

    python workflow/scripts/plan.py results/imagenet_table3.csv --cores 16 --gpus 4
    python workflow/scripts/plan.py results/tiny_table3.csv --configfile .test/config.yaml --compare

It reads the DAG of Snakemake's dry run in --directory (threads and resources as the rules
declare them for these --cores / gpu), the rates of a calibration file written by
benchmarks/calibrate.py (results/plan/calibration*.json, or --calibration) or, when none
applies, of a short self-calibration on this machine; the printout says which. --compare
plans the finished target again (--forceall) and prints each rule's estimate beside the
seconds of its jobs' benchmark files, and each output's estimated size beside the file's.
"""

import time

_START = time.process_time()
# This interpreter's own imports are the self-calibration's start-up of a light job (numpy,
# h5py), in CPU seconds; a training job's (torch and the library) is timed in a fresh
# interpreter beside the dry run.
import h5py  # noqa: E402, F401
import numpy  # noqa: E402, F401

_LIGHT = time.process_time() - _START

import argparse  # noqa: E402
import glob  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

from layerwise.errors import run_cli  # noqa: E402
from layerwise.plan import compare as cmp  # noqa: E402
from layerwise.plan import dag, datasets, printing, rates, schedule  # noqa: E402
from layerwise.plan.estimate import Estimator  # noqa: E402


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help="target files (default: rule all)")
    parser.add_argument("--cores", type=int, default=16, help="cores of the run (threads are capped by it)")
    parser.add_argument("--gpus", type=int, default=0, help="GPUs of the run (--resources gpu=N)")
    parser.add_argument("--directory", default=".", help="working directory of the run (config/, results/)")
    parser.add_argument("--configfile", action="append", default=[], help="as snakemake --configfile")
    parser.add_argument("--config-json", default=None,
                        help="the whole config as JSON (the report rule passes the run's own config)")
    parser.add_argument("--sizes", action="append", default=[], metavar="NAME=TRAIN,TEST[,CLASSES]",
                        help="split sizes of a dataset, e.g. imagenet=1281167,50000,1000 (ILSVRC-2012) "
                             "when planning on a generated tree")
    parser.add_argument("--calibration", action="append", default=None,
                        help="calibration files (default: results/plan/calibration*.json)")
    parser.add_argument("--gpu-device", default=None,
                        help="name of the GPU the run will use (e.g. 'NVIDIA H100 80GB HBM3'), when it is "
                             "not this machine's: its calibration file then applies")
    parser.add_argument("--forceall", action="store_true", help="plan every job, not only the missing ones")
    parser.add_argument("--csv", default=None, help="also write the per-job estimates here")
    parser.add_argument("--compare", action="store_true", help="estimates against a finished run's benchmarks")
    parser.add_argument("--compare-csv", default=None, help="with --compare: write the comparison here")
    parser.add_argument("--snakemake-args", default="", help="more snakemake arguments, one string")
    return parser


def plan(args, out=sys.stdout):
    """Run the plan; returns (jobs, estimates, simulation)."""
    started = time.perf_counter()
    directory = Path(args.directory).resolve()
    cfiles = [str(Path(c).resolve()) for c in args.configfile]
    if args.config_json:  # JSON is YAML: Snakemake reads it as one more config file
        tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        tmp.write(args.config_json)
        tmp.close()
        cfiles.append(tmp.name)
    # the dry run (a subprocess) and the self-calibration run side by side
    pool = ThreadPoolExecutor(2)
    heavy = pool.submit(rates.import_seconds, rates.TRAINING_IMPORTS)
    dry = pool.submit(dag.dry_run, args.targets, directory, args.cores, args.gpus, cfiles,
                      args.snakemake_args.split(), forceall=args.forceall or args.compare)
    paths = args.calibration if args.calibration is not None else sorted(
        glob.glob(str(directory / "results" / "plan" / "calibration*.json")))
    cpu, gpu, notes = rates.load(paths, args.gpu_device)
    if cpu is None:
        cpu = rates.measure("cpu", source="plan.py self-calibration", startup=(heavy.result(), _LIGHT))
        saved = directory / "results" / "plan" / "calibration-cpu.json"
        if args.calibration is None:  # the next plan reads it instead of measuring again
            rates.write(saved, cpu)
        notes.append(f"cpu rates: self-calibrated now on this machine ({cpu['device']}, "
                     f"{cpu['gflops']['fp32']:.1f} GFLOP/s per thread; no calibration file applied)"
                     + (f", saved to {saved.relative_to(directory)}" if args.calibration is None else ""))
    try:
        jobs = dry.result()
    finally:
        pool.shutdown()
        if args.config_json:
            Path(cfiles[-1]).unlink()
    if args.gpus and gpu is None and any(j.gpus for j in jobs):
        notes.append("gpu rates: no calibration of the run's GPU applies (benchmarks/calibrate.py on it, "
                     "or --gpu-device NAME): GPU jobs are estimated at this machine's CPU rates")
    sets = datasets.resolve(jobs, directory, datasets.parse_sizes(args.sizes))
    notes += [f"{d.name}: {d.n_train:,} train / {d.n_test:,} test images, {d.num_classes} classes, from {d.source}"
              for d in sets.values()]
    est = {j.jobid: Estimator(sets, cpu, gpu, args.gpus)(j) for j in jobs}
    seconds = {k: e.seconds for k, e in est.items()}
    sim = schedule.simulate(jobs, seconds, args.cores, args.gpus)
    path = schedule.critical_path(jobs, seconds)
    target = " ".join(args.targets) or "rule all"
    notes.append(f"planned in {time.perf_counter() - started:.1f} s")
    printing.print_plan(out, f"plan of {target}: {len(jobs)} jobs", jobs, est, sim, path, args.cores, args.gpus,
                        notes)
    if args.csv:
        printing.write_csv(args.csv, jobs, est, sim)
    return jobs, est, sim


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    jobs, est, _ = plan(args)
    if args.compare:
        rows, outputs = cmp.compare(Path(args.directory).resolve(), jobs, est)
        cmp.print_compare(sys.stdout, rows, outputs)
        if args.compare_csv:
            cmp.write_compare_csv(args.compare_csv, rows, outputs)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
