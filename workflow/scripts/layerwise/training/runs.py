"""The layer-wise stage's run plan from the validated config (used by layerwise.smk).

Pure Python, no Snakemake: the rule file builds one :class:`RunPlan` and its
lambdas call these methods, so the DAG (layers, runs, seeds) is static and
testable. Runs are named ``{preset}.{sampler}-s{seed}``. Sampler kinds:
``robust-*`` (one file, every training seed), ``random`` (one random-s<seed>
file per seed) and ``shuffle`` (shuffle-s<seed>: ordinary SGD, a fresh
permutation every epoch drawn by the training job; no file).
"""

import json

from layerwise.errors import InputError
from layerwise.training.sampler import shuffle_seed

VGG11_LAYERS = 8


def store_path(dataset):
    """The training-image store of an ImageNet-style dataset (rule build_store)."""
    return f"results/{dataset}/store.h5"


class RunPlan:
    def __init__(self, config):
        self.config = config
        self.lw = config["layerwise"]

    def profile(self, dataset):
        """The dataset's layer-wise profile; the error names the missing config key."""
        if dataset not in self.lw["profiles"]:
            raise InputError(
                f"config layerwise.profiles has no entry {dataset!r}; add one (see the synthetic, "
                "cifar10 and imagenet profiles in config/config.yaml)"
            )
        return self.lw["profiles"][dataset]

    def model(self, dataset, preset):
        models = self.profile(dataset)["models"]
        if preset not in models:
            raise InputError(f"config layerwise.profiles.{dataset}.models has no preset {preset!r}")
        return models[preset]

    @staticmethod
    def layers(model):
        return VGG11_LAYERS if model["arch"] == "vgg11" else model["layers"]

    def random_seeds(self):
        """Seeds of the random sequences: ours if set, else the batches stage's, else `seeds`."""
        if self.lw["random_seeds"] is not None:
            return self.lw["random_seeds"]
        return self.config.get("batches", {}).get("random_seeds", self.lw["seeds"])

    def runs(self, preset, kind):
        """(run name, sampler, seed) of a preset for a sampler kind (robust-*, random, shuffle)."""
        if kind in ("random", "shuffle"):
            return [(f"{preset}.{kind}-s{s}-s{s}", f"{kind}-s{s}", s) for s in self.random_seeds()]
        return [(f"{preset}.{kind}-s{s}", kind, s) for s in self.lw["seeds"]]

    def run_evals(self, dataset, preset, run):
        """eval.h5 of every layer of a layer-wise run, or the single e2e/eval.h5."""
        model = self.model(dataset, preset)
        base = f"results/{dataset}/train/{run}"
        if model["train"] == "e2e":
            return [f"{base}/e2e/eval.h5"]
        return [f"{base}/layer{j}/eval.h5" for j in range(1, self.layers(model) + 1)]

    @staticmethod
    def batches_input(dataset, sampler):
        """The mini-batch file a run reads: none for shuffle-s<seed>."""
        return [] if shuffle_seed(sampler) is not None else [f"results/{dataset}/batches/{sampler}.h5"]

    @staticmethod
    def batches_arg(files):
        """The training scripts' --batches argument for a job's batches input (none: shuffle)."""
        return f"--batches {files[0]}" if files else ""

    def previous_weights(self, dataset, preset, sampler, seed, layer):
        run = f"results/{dataset}/train/{preset}.{sampler}-s{seed}"
        return [f"{run}/layer{j}/weights.pt" for j in range(1, int(layer))]

    def eval_settings(self, dataset):
        """layerwise.eval with the profile's non-null eval keys over it (ImageNet: a subsample)."""
        own = self.profile(dataset).get("eval") or {}
        return {**self.lw["eval"], **{k: v for k, v in own.items() if v is not None}}

    def job_params(self, dataset, preset, sampler, seed, layer=None, threads=1):
        """Everything one training job needs, as one JSON string (threads: the rule's for the dataset)."""
        profile, model = self.profile(dataset), self.model(dataset, preset)
        schedule = {**profile["schedule"], **model["schedule"]}
        schedule["checkpoint_every"] = self.lw["checkpoint_every"]
        schedule["checkpoint_minutes"] = self.lw["checkpoint_minutes"]
        cfg = {
            "run": f"{preset}.{sampler}-s{seed}",
            "dataset": dataset,
            "sampler": sampler,
            "preset": preset,
            "seed": int(seed),
            "model": {k: v for k, v in model.items() if k != "schedule"},
            "schedule": schedule,
            "batch_order": self.lw["batch_order"],
            "augment": profile["augment"],
            "cache_frozen": self.lw["cache_frozen"],
            "eval": self.eval_settings(dataset),
        }
        cfg["precision"] = self.lw["precision"]  # auto: bf16 on CUDA, fp32 on CPU
        data = self.config["datasets"][dataset]
        if data["kind"] == "imagenet":
            cfg["workers"] = int(threads)  # DataLoader workers reading the store or manifest
            cfg["image_size"] = profile["image_size"]  # RandomResizedCrop / centre-crop side
            if data["loader"] == "store":
                cfg["store"] = {"path": store_path(dataset), **data["store"]}
        if shuffle_seed(sampler) is not None:  # the dataset's batch size (batches.datasets over batches)
            own = (self.config["batches"].get("datasets") or {}).get(dataset) or {}
            cfg["batch_size"] = own.get("batch_size") or self.config["batches"]["batch_size"]
        if layer is not None:
            cfg["layer"] = int(layer)
        return json.dumps(cfg, sort_keys=True)

    def table_rows(self, dataset, table):
        """Rows of a table: one per preset and sampler kind, with the eval files of each run."""
        tables = self.profile(dataset)["tables"]
        if table not in tables:
            raise InputError(f"config layerwise.profiles.{dataset}.tables has no {table!r}")
        rows = []
        for preset in tables[table]:
            model = self.model(dataset, preset)
            for kind in self.lw["samplers"]:
                runs = {r: self.run_evals(dataset, preset, r) for r, _, _ in self.runs(preset, kind)}
                rows.append({"preset": preset, "sampler": kind, "runs": runs,
                             "model": {k: model[k] for k in ("arch", "train", "k")}})
        return rows

    def table_inputs(self, dataset, table):
        rows = self.table_rows(dataset, table)
        return sorted({p for row in rows for paths in row["runs"].values() for p in paths})
