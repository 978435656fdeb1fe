"""Paper 002's augmented classifiers: VGG pathway shapes, joint loss by hand, section 4.1 steps."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from sklearn.metrics import top_k_accuracy_score

from layerwise.autoencoder import objective
from layerwise.autoencoder.evaluate import topk_errors
from layerwise.autoencoder.procedure import build, plan, train_augmented
from layerwise.errors import InputError
from layerwise.models.augmented import AugmentedNet

CFG = {
    "arch": "vgg11",
    "width": 1 / 16,
    "batch_norm": True,
    "subsample": None,
    "augment": False,
    "batch_size": 8,
    "decoder_batch_size": 8,
    "optimizer": "adam",
    "momentum": 0.9,
    "weight_decay": 0.0,
    "classifier_epochs": 1,
    "classifier_lr": 0.01,
    "decoder_epochs": 1,
    "decoder_lr": 0.01,
    "finetune_epochs": 1,
    "finetune_lr": 0.001,
    "lambda": 0.1,
    "loss_weights": None,
    "show": 2,
    "seed": 0,
}


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def tiny_data(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g), torch.arange(n) % 3


@pytest.mark.parametrize("arch", ["vgg11", "vgg16"])
def test_classification_pathway_has_torchvision_vgg_convolutions(arch):
    with torch.device("meta"):  # shapes only: skips initialising VGG's 100M+ parameters
        ours = AugmentedNet(arch=arch, image_size=(32, 32), num_classes=10, batch_norm=True)
        ref = getattr(torchvision.models, arch + "_bn")(weights=None)
    def shapes(m):
        return [tuple(c.weight.shape) for c in m.modules() if isinstance(c, torch.nn.Conv2d)]

    assert shapes(ours.macro) == shapes(ref.features)
    pools = sum(isinstance(m, torch.nn.MaxPool2d) for m in ref.features.modules())
    assert ours.num_macro == pools == 5


def test_decoders_mirror_each_macro_layer_and_reconstruct_every_level_shape():
    net = AugmentedNet(arch="vgg16", image_size=(32, 32), num_classes=4, width=1 / 16, switches="known")
    x = torch.rand(2, 3, 32, 32)
    acts, switches = net.encode(x)
    for wiring in ("stacked", "layerwise"):
        recon = net.decode(acts, switches, wiring)
        assert [r.shape for r in recon] == [a.shape for a in acts[:-1]]
    n_dec = sum(isinstance(m, torch.nn.Conv2d) for m in net.decoders.modules())
    assert n_dec == 13  # as many convolutions as the encoder


def test_bad_input_size_is_one_clear_error():
    with pytest.raises(InputError, match="multiples of 32"):
        AugmentedNet(arch="vgg11", image_size=(27, 27))


def test_topk_errors_match_scikit_learn():
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(200, 7, generator=g), torch.randint(0, 7, (200,), generator=g)
    ours = topk_errors(logits, labels, ks=(1, 5))
    for k in (1, 5):
        ref = top_k_accuracy_score(labels.numpy(), logits.numpy(), k=k, labels=np.arange(7))
        assert ours[k] == pytest.approx(1 - ref, abs=1e-12)


@pytest.mark.parametrize("switches,mode", [("known", "all"), ("fixed", "layerwise"), ("known", "first")])
def test_joint_loss_equals_c_plus_lambda_sum_of_weighted_terms_by_hand(switches, mode):
    torch.manual_seed(0)
    net = AugmentedNet(
        arch="vgg11", image_size=(32, 32), num_classes=3, width=1 / 16, switches=switches
    ).eval()
    x, y = torch.rand(3, 3, 32, 32), torch.tensor([0, 2, 1])
    weights, lam = [0.5, 2.0, 0.25, 1.5, 3.0], 0.3
    loss, _ = objective.joint_loss(net, x, y, mode, weights, lam)

    # by hand: encoder, pooling switches, classifier, decoders, squared errors image by image
    acts, idx, h = [x], [], (x - net.mean) / net.std
    for layer in net.macro:
        h, i = F.max_pool2d(layer.convs(h), 2, 2, return_indices=True)
        acts.append(h)
        idx.append(i)
    logits = net.head(acts[-1])
    c = -sum(torch.log_softmax(logits[b], 0)[y[b]] for b in range(3)) / 3

    def dec(layer, a):  # decoder of macro-layer `layer` (1-based) applied to a
        size = acts[layer - 1].shape[-2:]
        if switches == "known":
            up = F.max_unpool2d(a, idx[layer - 1], 2, 2, output_size=size)
        else:
            up = torch.zeros(a.shape[:2] + size)
            up[..., ::2, ::2] = a
        return net.decoders[layer - 1].convs(up)

    recon = {}
    if mode == "layerwise":
        for layer in range(1, 6):
            recon[layer - 1] = dec(layer, acts[layer])
    else:
        r = acts[5]
        for layer in range(5, 0, -1):
            r = dec(layer, r)
            recon[layer - 1] = r
    levels = [0] if mode == "first" else range(5)
    u = sum(
        weights[layer] * sum(((recon[layer][b] - acts[layer][b]) ** 2).sum() for b in range(3)) / 3 for layer in levels
    )
    assert loss.item() == pytest.approx((c + lam * u).item(), rel=1e-5)


def _saved(net):
    return {"config": net.config, "state_dict": {k: v.clone() for k, v in net.state_dict().items()}}


def test_section_4_1_steps_freeze_the_classifier_and_initialise_from_layerwise():
    train, test = tiny_data(16), tiny_data(8, seed=1)
    cls, hist, _ = train_augmented("classifier", CFG, train, test, 3, None, "cpu")
    assert "classify/C" in hist and cls.decoders is None
    before = _saved(cls)

    # step 2: layer-wise decoders with the classifier frozen -> classifier bit for bit unchanged
    pre, _, weights = train_augmented("swwae_pretrain", CFG, train, test, 3, None, "cpu", init=before)
    assert weights == [1.0] * 5
    after = pre.state_dict()
    for key, value in before["state_dict"].items():
        assert torch.equal(value, after[key]), key  # weights and BN running statistics
    fresh = build("swwae_pretrain", CFG, train[0], 3, init=before).state_dict()
    assert any(not torch.equal(fresh[k], after[k]) for k in after if k.startswith("decoders."))

    # step 3 starts SWWAE-all's stacked decoders from the layer-wise ones
    start = build("swwae_all", CFG, train[0], 3, init=_saved(pre)).state_dict()
    assert all(torch.equal(start[k], after[k]) for k in after)

    # steps 3 + 4 run, and fine-tuning changes the classifier too
    final, hist, weights = train_augmented("swwae_all", CFG, train, test, 3, None, "cpu", init=_saved(pre))
    assert list(hist)[0].startswith("decoders/") and "finetune/test_top1_err" in hist
    assert len(weights) == 5 and all(w > 0 for w in weights)
    assert not torch.equal(final.state_dict()["macro.0.convs.0.weight"], after["macro.0.convs.0.weight"])


def test_plan_follows_section_4_1():
    assert plan("classifier") == (None, None, None, ["classify"])
    assert plan("baseline") == ("classifier", None, None, ["finetune"])
    assert plan("sae_pretrain") == ("classifier", "fixed", "layerwise", ["decoders"])
    assert plan("sae_first") == ("sae_pretrain", "fixed", "first", ["decoders", "finetune"])
    assert plan("swwae_all") == ("swwae_pretrain", "known", "all", ["decoders", "finetune"])
    assert plan("swwae_layerwise") == ("swwae_pretrain", "known", "layerwise", ["finetune"])
    with pytest.raises(ValueError):
        plan("swwae-all")


def test_a_saved_augmented_encoder_rebuilds_and_extracts_the_same_features(tmp_path):
    from layerwise.autoencoder.checkpoint import build_model, load_model_file, save_model
    from layerwise.autoencoder.features import extract

    torch.manual_seed(0)
    net = AugmentedNet(
        arch="vgg11", image_size=(32, 32), num_classes=3, width=1 / 16, switches="fixed"
    ).eval()
    save_model(tmp_path / "model.pt", "augmented", net, CFG, {})
    save_model(tmp_path / "same.pt", "augmented", net, CFG, {})  # torch.save to a file records its name
    assert (tmp_path / "model.pt").read_bytes() == (tmp_path / "same.pt").read_bytes()
    again = build_model(load_model_file(tmp_path / "model.pt"))
    images = tiny_data(6)[0]
    feats = extract(again, images, batch_size=4)
    assert feats.shape == (6, net.macro[-1].convs[0].out_channels) and feats.dtype == np.float32
    assert np.array_equal(feats, extract(net, images, batch_size=4))
    (tmp_path / "bad.pt").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="bad.pt"):
        load_model_file(tmp_path / "bad.pt")
