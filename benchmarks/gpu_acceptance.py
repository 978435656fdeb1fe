"""Helpers of benchmarks/gpu_acceptance.sh: job inputs without Snakemake, and the summary table.

    python benchmarks/gpu_acceptance.py dataset-params ROOT          # prepare_data.py --params
    python benchmarks/gpu_acceptance.py job-params THREADS [--smoke] # train_layer.py --params
    python benchmarks/gpu_acceptance.py shrink DATA OUT TRAIN TEST   # the --cpu-smoke data.h5
    python benchmarks/gpu_acceptance.py summary LOGDIR               # the final table

The config is config/config.yaml with the schema's defaults filled in as
Snakemake's ``validate`` fills them (properties, additionalProperties and
``$ref`` across the schema files), so the job is the one the workflow would
run: CIFAR-10, paper-width SimCNN k=3 (Table 2), layer 1, run shuffle-s0,
for one epoch.
"""

import copy
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "workflow" / "schemas"
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

DATASET, PRESET, SAMPLER, SEED, LAYER = "cifar10", "simcnn-k3", "shuffle-s0", 0, 1


def _resolve(ref, doc):
    if ref.startswith("#/"):
        target = doc
        for part in ref[2:].split("/"):
            target = target[part]
        return target, doc
    other = yaml.safe_load((SCHEMAS / ref).read_text())
    return other, other


def fill_defaults(instance, schema, doc):
    """Snakemake's validate(set_default=True) without jsonschema: defaults of absent properties."""
    if "$ref" in schema:
        schema, doc = _resolve(schema["$ref"], doc)
    if not isinstance(instance, dict):
        return instance
    props = schema.get("properties", {})
    for key, sub in props.items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            fill_defaults(instance[key], sub, doc)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key in instance:
            if key not in props:
                fill_defaults(instance[key], extra, doc)
    return instance


def load_config():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    schema = yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text())
    return fill_defaults(config, schema, schema)


def dataset_params(root):
    entry = dict(load_config()["datasets"][DATASET])
    entry["root"] = str(Path(root).resolve())
    return json.dumps(entry)


def job_params(threads, smoke=False):
    from layerwise.training.runs import RunPlan

    cfg = json.loads(RunPlan(load_config()).job_params(DATASET, PRESET, SAMPLER, SEED, layer=LAYER, threads=threads))
    cfg["schedule"]["epochs"] = 1
    if smoke:  # the plumbing only: a narrow layer on the tiny data.h5 (CPU seconds)
        cfg["model"].update(width=16, aux_width=32)
    return json.dumps(cfg)


def shrink(data, out, n_train, n_test):
    """The first rows of each split of ``data`` as a new data.h5 (the --cpu-smoke input)."""
    import numpy as np

    from layerwise.data.store import load_split, open_data, write_arrays

    with open_data(data) as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["class_names"][()]]
    xtr, ytr = load_split(data, "train")
    xte, yte = load_split(data, "test")
    images = np.concatenate([xtr[:n_train], xte[:n_test]])
    labels = np.concatenate([ytr[:n_train], yte[:n_test]])
    n_train, n_test = min(n_train, len(xtr)), min(n_test, len(xte))
    splits = {"train": np.arange(n_train), "test": n_train + np.arange(n_test)}
    write_arrays(out, images, labels, names, splits, {"shrunk_from": str(data)}, 0)


def _gpu_step_rates(text):
    """{(dataset, layer): (fp32, bf16) images/s} from gpu_step.py's tables."""
    rates, dataset = {}, None
    for line in text.splitlines():
        head = re.match(r"^(\w+) \S+, batch \d+", line)
        if head:
            dataset = head.group(1)
        row = re.match(r"^\s+(\d+|e2e)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", line)
        if row and dataset:
            rates[(dataset, row.group(1))] = (float(row.group(2)), float(row.group(4)))
    return rates


def summary(logdir):
    logdir = Path(logdir)
    read = {name: (logdir / name).read_text() if (logdir / name).exists() else "" for name in
            ("status.txt", "tests.log", "gpu_step.log", "loader.log", "train_layer.log")}
    status = dict(line.split(" ", 1) for line in read["status.txt"].splitlines() if " " in line)
    steps = _gpu_step_rates(read["gpu_step.log"])
    loader = dict(re.findall(r"^RESULT (\w+)=([\d.]+)", read["loader.log"], re.M))
    rows = []

    def row(what, value, against="", note=""):
        rows.append((what, value, against, note))

    tests = re.findall(r"^=* ?(\d+ (?:passed|failed|skipped|deselected|error).*?) in [\d.]+s", read["tests.log"], re.M)
    row("CUDA-only tests", tests[-1] if tests else "-", "", status.get("tests", "not run"))
    for dataset in ("cifar10", "imagenet"):
        if (dataset, "1") in steps:
            fp32, bf16 = steps[(dataset, "1")]
            row(f"gpu_step.py {dataset} {PRESET} layer 1", f"{bf16:.0f} img/s bf16", f"{fp32:.0f} fp32",
                status.get("gpu_step", ""))
    if not steps:
        row("gpu_step.py", "-", "", status.get("gpu_step", "not run") + " (needs CUDA)")
    gpu_store = float(loader.get("store_gpu_images_per_s", 0))
    cpu_store = float(loader.get("store_cpu_images_per_s", 0))
    ref = steps.get(("imagenet", "1"), (0, 0))[1]
    row("store loader, GPU decode", f"{gpu_store:.0f} img/s" if gpu_store else "-",
        f"{gpu_store / ref:.2f}x gpu_step bf16 (target >= 0.7x)" if gpu_store and ref else "",
        status.get("loader", "not run"))
    row("store loader, CPU decode", f"{cpu_store:.0f} img/s" if cpu_store else "-", "", "")
    seconds = re.search(r"train_layer: (\d+) images in ([\d.]+) s", read["train_layer.log"])
    if seconds:
        rate = int(seconds.group(1)) / float(seconds.group(2))
        ref = steps.get(("cifar10", "1"), (0, 0))[1]
        row(f"train_layer.py {DATASET} {PRESET} layer 1, 1 epoch", f"{rate:.0f} img/s",
            f"{rate / ref:.2f}x gpu_step bf16 (target >= 0.8x)" if ref else "", status.get("train_layer", ""))
    else:
        row("train_layer.py", "-", "", status.get("train_layer", "not run"))
    width = [max(len(str(r[i])) for r in rows) for i in range(4)]
    print("\n== GPU acceptance summary ==")
    for r in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, width, strict=True)).rstrip())


def train_rate(eval_path, data_path):
    """``train_layer: N images in S s`` from the job's eval.h5 (train_seconds excludes evaluation)."""
    import h5py

    with h5py.File(eval_path, "r") as f:
        seconds = float(f.attrs["train_seconds"])
    with h5py.File(data_path, "r") as f:
        n = len(f["splits/train"])
    print(f"train_layer: {n} images in {seconds:.3f} s")


def main(argv):
    cmd, args = argv[0], argv[1:]
    if cmd == "dataset-params":
        print(dataset_params(args[0]))
    elif cmd == "job-params":
        print(job_params(int(args[0]), smoke="--smoke" in args))
    elif cmd == "shrink":
        shrink(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == "train-rate":
        train_rate(args[0], args[1])
    elif cmd == "summary":
        summary(args[0])
    else:
        raise SystemExit(f"unknown command {cmd!r}; see {__file__}")


if __name__ == "__main__":
    main(sys.argv[1:])
