"""Paper 002's classifiers on data they must learn (tests/unit/learnable.py): the classifier
alone, the fine-tuned baseline and every SAE/SWWAE variant beat chance by a stated margin,
and steps 1/4 keep their best-validation epoch. A dead pathway, a joint loss that swamps C,
or a step that loses the classifier's weights fails here."""

import pytest
import torch
from learnable import CLASSES, bars

from layerwise.autoencoder.evaluate import evaluate
from layerwise.autoencoder.names import VARIANTS
from layerwise.autoencoder.procedure import train_augmented

CFG = {
    "arch": "vgg11",
    "width": 1 / 8,
    "batch_norm": True,
    "subsample": None,
    "augment": False,
    "batch_size": 16,
    "decoder_batch_size": 16,
    "optimizer": "adam",
    "momentum": 0.9,
    "weight_decay": 0.0,
    "classifier_epochs": 6,
    "classifier_lr": 0.005,
    "decoder_epochs": 1,
    "decoder_lr": 0.002,
    "finetune_epochs": 2,
    "finetune_lr": 0.0005,
    "lambda": 0.1,
    "loss_weights": None,
    "patience": 2,
    "show": 2,
    "seed": 0,
}
CHANCE_ERR = 1 - 1 / CLASSES
MARGIN = 0.35  # test accuracy >= chance (25 %) + 35 points


def _saved(net):
    return {"config": net.config, "state_dict": {k: v.clone() for k, v in net.state_dict().items()}}


@pytest.fixture(scope="module")
def chain():
    torch.set_num_threads(1)
    train, val, test = bars(320, side=32, seed=0), bars(64, side=32, seed=2), bars(160, side=32, seed=1)
    nets = {}
    nets["classifier"], hist, _ = train_augmented("classifier", CFG, train, test, CLASSES, None, "cpu", val=val)
    nets["classifier_history"] = hist
    start = _saved(nets["classifier"])
    nets["baseline"], _, _ = train_augmented("baseline", CFG, train, test, CLASSES, None, "cpu", init=start, val=val)
    pre = {}
    for family in ("sae", "swwae"):
        net, _, _ = train_augmented(f"{family}_pretrain", CFG, train, test, CLASSES, None, "cpu", init=start, val=val)
        pre[family] = _saved(net)
    for name in VARIANTS:
        nets[name], _, _ = train_augmented(
            name, CFG, train, test, CLASSES, None, "cpu", init=pre[name.split("_")[0]], val=val
        )
    return nets, test


@pytest.mark.parametrize("name", ("classifier", "baseline") + VARIANTS)
def test_every_classifier_beats_chance_by_the_margin(chain, name):
    nets, test = chain
    err = evaluate(nets[name], *test, reconstruct=False)["top1_err"]
    assert err <= CHANCE_ERR - MARGIN, f"{name}: test top-1 error {err:.3f}"


def test_step_1_keeps_the_best_validation_epoch(chain):
    nets, _ = chain
    curve = nets["classifier_history"]["classify/val_top1_err"]
    assert 1 <= len(curve) <= CFG["classifier_epochs"]
    # stopped early only after `patience` epochs without a gain
    if len(curve) < CFG["classifier_epochs"]:
        assert len(curve) - 1 - curve.index(min(curve)) >= CFG["patience"]
    val = bars(64, side=32, seed=2)
    assert evaluate(nets["classifier"], *val, reconstruct=False)["top1_err"] == pytest.approx(min(curve))
