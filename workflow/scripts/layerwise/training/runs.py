"""The layer-wise stage's run plan from the validated config (used by layerwise.smk).

Pure Python, no Snakemake: the rule file builds one :class:`RunPlan` and its
lambdas call these methods, so the DAG (layers, runs, seeds) is static and
testable. Runs are named ``{preset}.{sampler}-s{seed}``. Sampler kinds:
``robust-*`` (one file, every training seed), ``random`` (one random-s<seed>
file per seed) and ``shuffle`` (shuffle-s<seed>: ordinary SGD, a fresh
permutation every epoch drawn by the training job; no file).

A preset with ``reuse_layers_from: <preset>`` (Table 1's M~_f = 512 row) trains only
its last layer J, on the frozen layers 1..J-1 of the named preset's run with the
same sampler and seed: one job instead of J, and the rows differ only in layer J
(as paper 003 section 4.1 compares them).
"""

import json

from layerwise.errors import InputError
from layerwise.training.sampler import shuffle_seed

VGG11_LAYERS = 8
# Keys a reusing preset may set differently from its donor: they shape only layer J.
REUSE_MAY_DIFFER = ("aux_width_final", "reuse_layers_from")
# Model keys added after runs existed, at their schema defaults: left out of a job's params so
# those jobs keep their params (Snakemake reruns a job whose params changed); the model
# builder takes the same defaults (simcnn.ModelSpec), and reuse is the plan's business.
QUIET_DEFAULTS = {"aux_padding": 1, "aux_pool_batchnorm": False, "reuse_layers_from": ""}


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
        layers = self.layers(model)
        donor = self.reused_run(dataset, preset, run)
        own = [f"{base}/layer{layers}/eval.h5"]
        if donor:
            return [f"results/{dataset}/train/{donor}/layer{j}/eval.h5" for j in range(1, layers)] + own
        return [f"{base}/layer{j}/eval.h5" for j in range(1, layers)] + own

    def reused_run(self, dataset, preset, run):
        """The run whose layers 1..J-1 ``run`` reuses (same sampler and seed), or None."""
        donor = self.model(dataset, preset).get("reuse_layers_from")
        if not donor:
            return None
        self.check_reuse(dataset, preset, donor)
        return donor + run[len(preset):]

    def check_reuse(self, dataset, preset, donor):
        """The donor must be a layer-wise preset whose blocks and heads equal ours up to M~_f."""
        key = f"config layerwise.profiles.{dataset}.models.{preset}.reuse_layers_from"
        models = self.profile(dataset)["models"]
        if donor not in models or donor == preset:
            raise InputError(f"{key}: {donor!r} is not another preset of that profile")
        ours = {k: v for k, v in self.model(dataset, preset).items() if k not in REUSE_MAY_DIFFER}
        theirs = {k: v for k, v in models[donor].items() if k not in REUSE_MAY_DIFFER}
        if ours != theirs or ours.get("train", "layerwise") != "layerwise":
            diff = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
            raise InputError(f"{key}: preset {donor!r} differs in {diff or ['train']}; layers 1..J-1 "
                             "can be reused only from a layer-wise preset that differs in aux_width_final")

    @staticmethod
    def batches_input(dataset, sampler):
        """The mini-batch file a run reads: none for shuffle-s<seed>."""
        return [] if shuffle_seed(sampler) is not None else [f"results/{dataset}/batches/{sampler}.h5"]

    @staticmethod
    def batches_arg(files):
        """The training scripts' --batches argument for a job's batches input (none: shuffle)."""
        return f"--batches {files[0]}" if files else ""

    def previous_weights(self, dataset, preset, sampler, seed, layer):
        """weights.pt of layers 1..j-1: this run's, or the donor run's for a reusing preset."""
        run = f"{preset}.{sampler}-s{seed}"
        donor = self.reused_run(dataset, preset, run)
        if donor:
            last = self.layers(self.model(dataset, preset))
            if int(layer) != last:
                raise InputError(f"{run} reuses layers 1..{last - 1} of {donor} (reuse_layers_from); "
                                 f"only its layer {last} is trained, not layer {layer}")
            run = donor
        return [f"results/{dataset}/train/{run}/layer{j}/weights.pt" for j in range(1, int(layer))]

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
            "model": {k: v for k, v in model.items()
                      if k != "schedule" and not (k in QUIET_DEFAULTS and v == QUIET_DEFAULTS[k])},
            "schedule": schedule,
            "batch_order": self.lw["batch_order"],
            "augment": profile["augment"],
            "cache_frozen": self.lw["cache_frozen"],
            "eval": self.eval_settings(dataset),
        }
        cfg["precision"] = self.lw["precision"]  # auto: bf16 on CUDA, fp32 on CPU
        data = self.config["datasets"][dataset]
        if data["kind"] == "imagenet":
            cfg["workers"] = int(threads)  # job threads, split into DataLoader workers (loader_workers)
            cfg["image_size"] = profile["image_size"]  # RandomResizedCrop / centre-crop side
            if data["loader"] == "store":
                cfg["store"] = {"path": store_path(dataset), **data["store"]}
        # The dataset's batch size (batches.datasets over batches): shuffle runs cut their batches with
        # it; file runs check that their file was built with it (and robust-hier with these levels).
        own = (self.config["batches"].get("datasets") or {}).get(dataset) or {}
        key = f"batches.datasets.{dataset}" if own else "batches"
        cfg["batch_size"] = own.get("batch_size") or self.config["batches"]["batch_size"]
        cfg["batch_key"] = f"{key}.batch_size"
        if sampler == "robust-hier":
            cfg["levels"] = own["levels"] if own.get("levels") is not None else self.config["batches"]["levels"]
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
                row = {"preset": preset, "sampler": kind, "runs": runs, "ensemble": self.ensemble(dataset),
                       "model": {k: model[k] for k in ("arch", "train", "k")}}
                if model.get("reuse_layers_from"):
                    row["reused"] = (f"layers 1..{self.layers(model) - 1} are those of the "
                                     f"{model['reuse_layers_from']} runs; only layer {self.layers(model)} "
                                     "was retrained (paper 003 Table 1)")
                rows.append(row)
        return rows

    def ensemble(self, dataset):
        """What the profile's ensembles sum: logits (cifar.py) or probabilities (imagenet.py)."""
        return self.profile(dataset).get("ensemble", "logits")

    def table_inputs(self, dataset, table):
        rows = self.table_rows(dataset, table)
        return sorted({p for row in rows for paths in row["runs"].values() for p in paths})

    def decoupled_rule_kinds(self):
        """(rule name, dataset, J, regex of the dataset's decoupled presets with J layers): one
        train_decoupled rule per dataset and J (its output list is fixed; workflow/rules/decoupled.smk)."""
        kinds = []
        for dataset, profile in sorted(self.lw["profiles"].items()):
            by_layers = {}
            for name, model in profile["models"].items():
                if model.get("train") == "decoupled":
                    by_layers.setdefault(self.layers(model), []).append(name)
            for layers, names in sorted(by_layers.items()):
                name = f"train_decoupled_{dataset.replace('-', '_')}_J{layers}"
                kinds.append((name, dataset, layers, "|".join(sorted(names))))
        return kinds

    def decoupled_rows(self, dataset):
        """Rows of results/{dataset}_decoupled.csv: its presets on the first of layerwise.samplers
        (one sequence kind answers sequential vs decoupled; the demo pays for one)."""
        first = self.lw["samplers"][0]
        return [r for r in self.table_rows(dataset, "decoupled") if r["sampler"] == first]
