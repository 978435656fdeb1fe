"""Per-job estimates: seconds, images processed, peak memory and the disk of each output.

Training jobs (train_layer, train_e2e) are costed from the model's per-layer FLOPs
(models.py) at the device's calibrated FLOP rate, plus the per-step overhead and the job's
start-up; ImageNet-style loaders overlap with compute, so a job takes the longer of the two.
The data, store, graph and batches stages use per-item rates; any other rule (a plot, a
table, a rule this module does not know) gets the generic estimate: start-up plus a second,
and the printout names it.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

from layerwise.plan.models import e2e_head, layer_costs
from layerwise.plan.rates import DEFAULTS

KB = 1024
# HDF5 / torch.save container overhead per output kind (object headers, params attrs, zip
# entries), measured on the .test config's outputs.
OVERHEAD = {"data": 17 * KB, "graph": 12 * KB, "batches": 14 * KB, "eval": 13 * KB, "weights": 6 * KB,
            "store": 16 * KB}
# The store's JPEGs at short side 256, quality 90: 27.8 KiB per real ImageNet photo (measured on
# 65 000 of them; generated images take 14.4 KiB), scaled by the area of store.short_side (docs/data.md).
STORE_BYTES_256 = 27.8 * KB
GENERIC_SECONDS = 1.0
# The robust samplers' numba kernels compile on their first use on a machine (then cached in
# layerwise/submodular/__pycache__): 6 CPU seconds measured on the .test config (7.0 s of
# CPU for the first robust-hier job, against 0.9 s for a random one).
NUMBA_COMPILE_S = 6.0
NUMBA_CACHE = Path(__file__).resolve().parents[1] / "submodular" / "__pycache__"


@dataclass
class Estimate:
    seconds: float
    on_gpu: bool
    image_layers: float = 0.0  # images x layers passed (forward through frozen layers counted)
    peak_mb: float = 0.0  # estimated peak memory of a training step (device) or of the job (host)
    outputs: dict = field(default_factory=dict)  # path -> (kind, bytes)
    generic: bool = False
    bound: str = ""  # training jobs: what binds, "compute" or "loader" (ImageNet-style decoding)


def output_kind(path):
    name = path.rsplit("/", 1)[-1]
    for kind, test in (("data", name == "data.h5"), ("store", name == "store.h5"),
                       ("graph", "/graph/" in path), ("batches", "/batches/" in path),
                       ("weights", name.endswith(".pt")), ("eval", name == "eval.h5")):
        if test:
            return kind
    return "other"


class Estimator:
    """Estimates of one plan: ``datasets`` (DatasetInfo per name), ``cpu`` / ``gpu`` rates
    (calibration dicts; gpu None when no GPU calibration applies) and ``gpus`` (GPUs the run has)."""

    def __init__(self, datasets, cpu, gpu, gpus):
        self.datasets, self.cpu, self.gpu, self.gpus = datasets, cpu, gpu, gpus

    def __call__(self, job):
        fn = getattr(self, f"_{job.rule}", None)
        if not job.outputs:  # a target rule (all): nothing runs
            return Estimate(0.0, False)
        est = fn(job) if fn else Estimate(self.cpu["job_startup_s"] + GENERIC_SECONDS, False, generic=True)
        for path in job.outputs:
            kind = output_kind(path)
            if path not in est.outputs and kind != "other":
                est.outputs[path] = (kind, None)
        return est

    def _light(self):
        return self.cpu.get("light_startup_s", self.cpu["job_startup_s"])

    # ---- rates ----
    def _rates(self, job):
        """(calibration, training GFLOP/s, forward GFLOP/s, on_gpu) of the device a job runs on."""
        if job.gpus and self.gpus and self.gpu is not None:
            prec = "bf16" if job.params.get("precision", "auto") in ("auto", "bf16") else "fp32"
            g, f = self.gpu["gflops"], self.gpu["forward_gflops"]
            return self.gpu, g.get(prec, g["fp32"]), f.get(prec, f["fp32"]), True
        scale = _thread_scale(job.threads)
        return self.cpu, self.cpu["gflops"]["fp32"] * scale, self.cpu["forward_gflops"]["fp32"] * scale, False

    # ---- data stages ----
    def _prepare_data(self, job):
        info = self.datasets[job.wildcards["dataset"]]
        n = info.n_train + info.n_test
        if info.manifest:  # header checks: ~0.3 ms per file per thread; paths ~60 B each
            seconds = n * 3e-4 / max(1, job.threads)
            size = n * (60 + 3 * 8) + OVERHEAD["data"]
        else:
            pixels = info.side * info.side * info.channels
            seconds = n * pixels * 2e-8
            size = n * (pixels + 3 * 8) + OVERHEAD["data"] + self._latents(job, n)
        return Estimate(self._light() + seconds, False, outputs={job.outputs[0]: ("data", size)})

    @staticmethod
    def _latents(job, n):
        """Synthetic ground truth kept in data.h5: X(0..d-1) as uint8 and per-image offsets."""
        s = job.params.get("synthetic")
        if not s:
            return 0
        sides = [s["semantic_size"] * s["patch_size"] ** i for i in range(len(s["classes_per_level"]))]
        return n * (sum(v * v for v in sides) + 16)

    def _build_store(self, job):
        info = self.datasets[job.wildcards["dataset"]]
        n = info.n_train + info.n_test
        short = job.params.get("short_side", 256)
        seconds = n / (DEFAULTS["store_images_per_thread_s"] * max(1, job.threads))
        size = n * STORE_BYTES_256 * (short / 256) ** 2 + OVERHEAD["store"]
        return Estimate(self.cpu["job_startup_s"] + seconds, False, outputs={job.outputs[0]: ("store", size)})

    def _build_graph(self, job):
        info, g = self.datasets[job.wildcards["dataset"]], job.params
        n, classes = info.n_train, max(1, info.num_classes)
        dim, knn = g.get("projection_dim", 256), g.get("knn", 20)
        n_c = n / classes
        dense = g.get("form") == "dense" or (
            g.get("form", "auto") == "auto" and classes * n_c * n_c * 4 <= g.get("dense_budget_mb", 1024) * 2**20)
        wbytes = 2 if g.get("dtype") == "float16" else 4
        size = 3 * 8 * n + OVERHEAD["graph"]
        size += classes * n_c * n_c * wbytes if dense else n * knn * (4 + wbytes) * 0.8 + n * dim * 4
        pixels = (g.get("side", 32) ** 2 if info.manifest else info.side**2) * info.channels
        flops = 2 * n * pixels * dim + 2 * n * n_c * dim  # projection + per-class similarities
        seconds = flops / (self.cpu["forward_gflops"]["fp32"] * _thread_scale(job.threads) * 1e9)
        if info.manifest:  # decode + low-res view of every training image
            seconds += n / (DEFAULTS["graph_images_per_thread_s"] * max(1, job.threads))
        return Estimate(self.cpu["job_startup_s"] + seconds, False, outputs={job.outputs[0]: ("graph", size)})

    def _partition_batches(self, job):
        info, p = self.datasets[job.wildcards["dataset"]], job.params
        n, b = info.n_train, p.get("batch_size", 128)
        batches = math.ceil(n / b)
        sampler = job.wildcards.get("sampler", "")
        levels = p.get("levels", []) if sampler == "robust-hier" else []
        if sampler.startswith("robust"):  # greedy gains: ~n x block size evaluations per level, 5 ns each
            seconds = sum(n * min(k, n) * 5e-9 for k in [*levels, b]) / max(1, job.threads)
            if not any(NUMBA_CACHE.glob("facility.*.nbi")):
                seconds += NUMBA_COMPILE_S
        else:
            seconds = n * 1e-7
        size = batches * (b * 8 + 16) + 18 * 16 * (len(levels) + 1) + OVERHEAD["batches"]
        return Estimate(self.cpu["job_startup_s"] + seconds, False, outputs={job.outputs[0]: ("batches", size)})

    # ---- training ----
    def _train_layer(self, job):
        return self._train(job, int(job.params.get("layer", job.wildcards.get("layer", 1))))

    def _train_e2e(self, job):
        return self._train(job, None)

    def _train(self, job, layer):
        p = job.params
        if "model" not in p:
            return Estimate(self.cpu["job_startup_s"] + GENERIC_SECONDS, False, generic=True)
        info = self.datasets[job.wildcards["dataset"]]
        side = p.get("image_size") or info.side
        costs = layer_costs(p["model"], info.num_classes, info.channels, side)
        n, n_test, epochs = info.n_train, info.n_test, p["schedule"]["epochs"]
        batch = p.get("batch_size", 128)
        if layer is None:  # end to end: every block, the last head
            fwd_train = sum(c.block_flops for c in costs) + e2e_head(p["model"], info.num_classes,
                                                                     info.channels, side)[0]
            fwd_frozen, depth, passes_frozen = 0.0, len(costs), 0
            params = sum(c.block_params for c in costs) + costs[-1].head_params
            acts = sum(c.activations for c in costs)
        else:
            c = costs[layer - 1]
            fwd_train, depth = c.block_flops + c.head_flops, layer
            fwd_frozen = sum(x.block_flops for x in costs[: layer - 1])
            cached = p.get("cache_frozen", True) and p.get("augment", "none") == "none" and not info.manifest
            passes_frozen = n if cached else epochs * n  # the frozen stack runs once when cached
            params, acts = c.block_params + c.head_params, c.activations
        cal, gflops, fgflops, on_gpu = self._rates(job)
        measured = cal.get("layers", {}).get(f"{info.kind}/{p.get('preset')}/{layer or 'e2e'}")
        train_s = epochs * n / measured if measured else epochs * n * 3 * fwd_train / (gflops * 1e9)
        # frozen passes, per-epoch test evaluation, final logits and the probes' feature subsample
        sub = p.get("eval", {}).get("feature_subsample") or n
        fwd = passes_frozen * fwd_frozen + (epochs + 1) * n_test * (fwd_frozen + fwd_train)
        fwd += (min(sub, n) + min(sub, n_test)) * (fwd_frozen + fwd_train)
        steps = epochs * math.ceil(n / batch)
        compute = train_s + fwd / (fgflops * 1e9) + steps * cal["step_overhead_s"]
        bound = "compute"
        if info.manifest:  # the loader decodes every epoch's crops; it overlaps with the steps
            kind = "store" if p.get("loader", "store") == "store" else "manifest"
            rate = DEFAULTS["loader_images_per_cpu_s"][kind] * max(1, p.get("workers", job.threads))
            loading = (epochs * n + (epochs + 1) * n_test) / rate
            bound = "loader" if loading > compute else bound
            compute = max(compute, loading)
        seconds = cal["job_startup_s"] + compute
        bytes_ = 2 if on_gpu and p.get("precision", "auto") != "fp32" else 4
        peak_mb = (batch * acts * bytes_ + params * 4 * 4) / 2**20
        ev = p.get("eval", {})
        logits = 2 if ev.get("logits_dtype") == "float16" else 4
        pooled = costs[(layer or len(costs)) - 1].width * ev.get("pooled_size", 2) ** 2
        eval_size = (n_test * (info.num_classes * logits + 8) + (min(sub, n) + min(sub, n_test)) * (pooled * 4 + 16)
                     + 4 * 8 * epochs + OVERHEAD["eval"])
        weights = params * 4 + OVERHEAD["weights"] + (2 * KB if layer is None else 0)
        outputs = {}
        for path in job.outputs:
            kind = output_kind(path)
            outputs[path] = (kind, weights if kind == "weights" else eval_size if kind == "eval" else None)
        return Estimate(seconds, on_gpu, image_layers=epochs * n + passes_frozen * max(0, depth - 1)
                        if layer else epochs * n * depth, peak_mb=peak_mb, outputs=outputs, bound=bound)


def _thread_scale(threads):
    """CPU throughput of ``threads`` torch threads relative to one (70 % parallel efficiency)."""
    return 1 + 0.7 * (max(1, threads) - 1)
