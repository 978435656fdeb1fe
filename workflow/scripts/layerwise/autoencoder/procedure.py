"""Paper 002 section 4.1: the training procedure of the augmented networks, one job per name.

Names (the ``{ae}`` wildcard; underscores so that ``graph.features: ae:<name>``
accepts them) and the steps each job runs:

    classifier        step 1: train the classification pathway (C only)
    sae_pretrain      step 2: layer-wise decoders, fixed switches, classifier frozen
    swwae_pretrain    step 2: layer-wise decoders, known switches, classifier frozen
    {sae,swwae}_first/all   from *_pretrain: step 3 (stacked decoders initialised from
                            the layer-wise ones, classifier frozen), then step 4
    {sae,swwae}_layerwise   from *_pretrain: step 4 only
    baseline          from classifier: step 4 with lambda = 0 and no decoder ("finetuning
                      the pretrained VGGNet further without the decoding network", 4.3)

Step 4 fine-tunes everything on C + lambda * U at the reduced learning rate.
Steps 1 and 4 measure the top-1 error on a validation part carved from the
training images every epoch, keep the best epoch's weights and stop after
``patience`` epochs without a gain; every job has the same epoch budget.
"""

import logging

import torch

from layerwise.autoencoder import inputs, objective
from layerwise.autoencoder.evaluate import evaluate
from layerwise.autoencoder.names import NAMES, STARTS_FROM
from layerwise.autoencoder.residual import make_optimizer
from layerwise.models.augmented import AugmentedNet
from layerwise.training.loop import EarlyStop, Task, fit

log = logging.getLogger(__name__)
SWITCHES = {"sae": "fixed", "swwae": "known"}


def plan(name):
    """(initialised from, switches, mode, phases) of a job name."""
    if name not in NAMES:
        raise ValueError(f"unknown augmented network {name!r}; one of {NAMES}")
    if name == "classifier":
        return None, None, None, ["classify"]
    if name == "baseline":
        return "classifier", None, None, ["finetune"]
    family, _, mode = name.partition("_")
    if mode == "pretrain":
        return STARTS_FROM[name], SWITCHES[family], "layerwise", ["decoders"]
    phases = ["finetune"] if mode == "layerwise" else ["decoders", "finetune"]
    return STARTS_FROM[name], SWITCHES[family], mode, phases


def build(name, cfg, train_x, num_classes, init=None):
    """The network of job ``name``: fresh (step 1) or loaded from the saved ``init`` dict."""
    _, switches, _, _ = plan(name)
    torch.manual_seed(cfg["seed"])
    if init is None:
        mean, std = inputs.channel_stats(train_x)
        return AugmentedNet(
            arch=cfg["arch"],
            in_channels=train_x.shape[1],
            num_classes=num_classes,
            image_size=tuple(train_x.shape[-2:]),
            width=cfg["width"],
            batch_norm=cfg["batch_norm"],
            switches=switches,
            mean=mean,
            std=std,
        )
    net = AugmentedNet(**{**init["config"], "switches": switches})
    missing, unexpected = net.load_state_dict(init["state_dict"], strict=False)
    if unexpected or any(not k.startswith("decoders.") for k in missing):
        raise ValueError(f"{name}: initial state does not fit ({missing=}, {unexpected=})")
    return net


def _decoder_param_groups(net, lr):
    lrs = lr if isinstance(lr, list) else [lr] * net.num_macro
    return [{"params": d.parameters(), "lr": r} for d, r in zip(net.decoders, lrs, strict=False)]


def train_augmented(name, cfg, train, test, num_classes, scratch, device, init=None, val=None):
    """Run the steps of job ``name``; returns (network on CPU, history, loss weights).

    ``train``/``test``/``val`` are (uint8 images (n, C, H, W), int64 labels); the
    history has per-phase, per-epoch training losses, validation and test errors.
    ``val`` None: no early stopping, the last epoch is kept. ``scratch``: the job's
    checkpoint.Scratch (one checkpoint per phase; None: none).
    """
    _, switches, mode, phases = plan(name)  # the init model comes in as `init`
    train_x, train_y = train
    net = build(name, cfg, train_x, num_classes, init).to(device)
    net.check_input(train_x.shape, "data.h5")
    weights = None
    if mode is not None:
        if mode == "layerwise" and phases == ["decoders"]:
            weights = [1.0] * net.num_macro  # separate pathways: each decoder sees only its U_l
        elif cfg["loss_weights"] is not None:
            weights = [float(w) for w in cfg["loss_weights"]]
        else:
            first = inputs.batches(len(train_x), cfg["batch_size"], inputs.generator(cfg["seed"], "balance"))[
                0
            ]
            net.eval()
            weights = objective.balanced_weights(net, inputs.to_float(train_x[first]).to(device), mode)
        log.info("%s: loss weights %s", name, weights)
    history = {}
    for phase in phases:
        _run(phase, name, net, mode, weights, cfg, train, test, scratch, device, history, val)
    return net.cpu().eval(), history, weights


def _run(phase, name, net, mode, weights, cfg, train, test, scratch, device, history, val=None):
    train_x, train_y = train
    frozen = phase == "decoders"
    for module in (net.macro, net.head):
        module.requires_grad_(not frozen)
    if phase == "classify":
        opt, epochs, bs, lam = (
            make_optimizer(net.parameters(), {**cfg, "lr": cfg["classifier_lr"]}),
            cfg["classifier_epochs"],
            cfg["batch_size"],
            0.0,
        )
    elif phase == "decoders":
        opt = make_optimizer(_decoder_param_groups(net, cfg["decoder_lr"]), {**cfg, "lr": 0.0})
        epochs, bs, lam = cfg["decoder_epochs"], cfg["decoder_batch_size"], None
    else:
        opt = make_optimizer(net.parameters(), {**cfg, "lr": cfg["finetune_lr"]})
        epochs, bs, lam = cfg["finetune_epochs"], cfg["batch_size"], (cfg["lambda"] if mode else 0.0)

    epoch_gen = {}  # the epoch's generator: its order, then its augmentations, batch after batch

    def batches(epoch, start):  # checkpoints fall on epoch ends only, so start is 0
        epoch_gen["gen"] = gen = inputs.generator(cfg["seed"], name, phase, epoch)
        return inputs.batches(len(train_x), bs, gen)[start:]

    def train_mode():
        net.train()
        if frozen:  # frozen pathway: no BN statistics updates either
            net.macro.eval()
            net.head.eval()

    def step(idx, at):
        x = inputs.to_float(train_x[idx])
        if cfg["augment"]:
            x = inputs.augment(x, epoch_gen["gen"])
        x, y = x.to(device), train_y[idx].to(device)
        if frozen:
            loss, stats = _decoder_loss(net, x, mode, weights)
        else:
            loss, stats = objective.joint_loss(net, x, y, mode, weights, lam)
        stats["loss"] = loss.item()
        return loss, {f"{phase}/{k}": v * len(idx) for k, v in stats.items()}, len(idx)

    watch = val is not None and len(val[0]) > 0 and phase != "decoders"
    val_key = f"{phase}/val_top1_err"

    def evaluate_epoch(at, loss):
        out = {}
        if phase == "finetune":  # test curves of step 4 only (the figure's); saves CPU elsewhere
            metrics = evaluate(net, *test, device=device, reconstruct=mode is not None)
            out.update({f"{phase}/test_{k}": v for k, v in metrics.items()})
        if watch:
            out[val_key] = evaluate(net, *val, device=device, reconstruct=False)["top1_err"]
        return out

    # the best epoch's weights live in the checkpoint too, so a resumed run keeps them
    stop = EarlyStop(val_key, "min", cfg.get("patience", 0)) if watch else None
    task = Task(net, opt, batches, step, epochs=epochs, evaluate=evaluate_epoch, early_stop=stop,
                train_mode=train_mode, desc=f"{name} {phase}",
                hint="Lower autoencoder.augmented's learning rates (classifier_lr, decoder_lr, finetune_lr)")
    params = {k: v for k, v in cfg.items() if k != "show" and not k.endswith("epochs")}
    result = fit(task, scratch, f"{name}.{phase}", {**params, "phase": phase})
    for key, values in result.history.items():
        history[key] = [float(v) for v in values]
    net.requires_grad_(True)


def _decoder_loss(net, x, mode, weights):
    """U only, with the encoder's activations computed without gradient (classifier frozen)."""
    with torch.no_grad():
        acts, switches = net.encode(x)
    terms = objective.sse_terms(net.decode(acts, switches, objective.wiring(mode)), acts)
    u = objective.reconstruction_loss(terms, weights, mode)
    return u, {"U": u.item()}
