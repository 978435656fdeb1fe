"""The DAG of the autoencoder stage as plain Python (read by workflow/rules/autoencoder.smk,
tested without Snakemake): which jobs exist, what each starts from, and their params."""

import json

from layerwise.autoencoder.names import NAMES, STARTS_FROM, VARIANTS


class AutoencoderPlan:
    def __init__(self, config):
        self.cfg = config["autoencoder"]
        self.residual = sorted(self.cfg["variants"])
        for name in self.residual:
            if name in NAMES:
                raise ValueError(
                    f"config autoencoder.variants.{name}: the name is reserved for paper 002's "
                    f"augmented networks ({', '.join(NAMES)}); rename the variant"
                )
        if self.cfg["default"] not in self.residual + list(NAMES):
            raise ValueError(
                f"config autoencoder.default={self.cfg['default']!r} is neither a key of "
                f"autoencoder.variants ({', '.join(self.residual)}) nor one of {', '.join(NAMES)}"
            )

    @staticmethod
    def path(dataset, name, file):
        return f"results/{dataset}/autoencoder/{name}/{file}"

    def residual_pattern(self):
        """Wildcard constraint of {ae} for train_autoencoder (names are [A-Za-z0-9_.]+)."""
        return "|".join(n.replace(".", r"\.") for n in self.residual)

    @staticmethod
    def augmented_pattern():
        return "|".join(NAMES)

    def residual_params(self, name):
        # manifest_side: the low-res view an ImageNet-style manifest is trained/encoded at
        return json.dumps({**self.cfg["variants"][name], "manifest_side": self.cfg["manifest_side"]},
                          sort_keys=True)

    def augmented_params(self):
        return json.dumps({k: v for k, v in self.cfg["augmented"].items() if k != "table"}, sort_keys=True)

    def augmented_init(self, dataset, name):
        start = STARTS_FROM[name]
        return [] if start is None else self.path(dataset, start, "model.pt")

    def report_evals(self, dataset):
        return [self.path(dataset, n, "eval.h5") for n in ("baseline",) + VARIANTS]

    def report_residual(self, dataset):
        return [self.path(dataset, n, "features.h5") for n in self.residual]

    def demo_targets(self, dataset, residual_dataset=None):
        """Rule all's autoencoder files: paper 002's table and figures on ``dataset``, paper 000's
        residual autoencoder (its MSE table and curves) on ``residual_dataset`` (None: ``dataset``),
        and the ``default`` model's features.h5 on the dataset of its kind."""
        residual_dataset = residual_dataset or dataset
        default = self.cfg["default"]
        home = residual_dataset if default in self.residual else dataset
        targets = [self.path(home, default, "features.h5")]
        if self.residual:
            targets += [
                f"results/{residual_dataset}_ae_mse.csv",
                f"results/{residual_dataset}/figures/ae_residual_curves.png",
            ]
        if self.cfg["augmented"]["table"]:
            targets += [
                f"results/{dataset}_ae_table.csv",
                f"results/{dataset}/figures/ae_reconstructions.png",
                f"results/{dataset}/figures/ae_training_curves.png",
            ]
        return targets
