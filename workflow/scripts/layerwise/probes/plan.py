"""Which probe files a dataset needs: every layer of the probed layer-wise runs (no Snakemake imports)."""


def probed_presets(config, dataset):
    """The presets probed on ``dataset``: probes.presets (a list, or per dataset), else all layer-wise."""
    models = config["layerwise"]["profiles"][dataset]["models"]
    presets = config["probes"]["presets"]
    if isinstance(presets, dict):
        return list(presets.get(dataset, []))
    if presets is None:
        return [p for p, m in models.items() if m.get("train", "layerwise") != "e2e"]
    return list(presets)


def probe_run(sampler, preset, seed):
    """Run name of a probed preset and seed; `random`/`shuffle` pair the sequence seed with it."""
    if sampler in ("random", "shuffle"):
        return f"{preset}.{sampler}-s{seed}-s{seed}"
    return f"{preset}.{sampler}-s{seed}"


def probe_files(config, dataset, layers_of):
    """``results/{dataset}/probes/{run}/layer{j}.h5`` for the configured runs; empty without a profile.

    ``layers_of(dataset, preset)`` gives a preset's layer count (the layer-wise stage's run plan).
    """
    lw = config.get("layerwise")
    if not lw or dataset not in lw.get("profiles", {}):
        return []
    cfg = config["probes"]
    seeds = cfg["seeds"] if cfg["seeds"] is not None else lw["seeds"]
    files = []
    for preset in probed_presets(config, dataset):
        for seed in seeds:
            run = probe_run(cfg["sampler"], preset, seed)
            files += [f"results/{dataset}/probes/{run}/layer{j}.h5" for j in range(1, layers_of(dataset, preset) + 1)]
    return files


def probe_groups(config, dataset):
    """preset -> curve label of the figure: runs of equal architecture and k are averaged."""
    models = config["layerwise"]["profiles"][dataset]["models"]
    groups = {}
    for preset in probed_presets(config, dataset):
        model = models[preset]
        arch = "VGG-11" if model.get("arch") == "vgg11" else "SimCNN"
        groups[preset] = f"{arch} k={model.get('k', 1)}"
    return groups
