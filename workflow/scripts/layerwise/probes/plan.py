"""Which probe files a dataset needs: every layer of the probed layer-wise runs (no Snakemake imports)."""


def probe_files(config, dataset, layers_of):
    """``results/{dataset}/probes/{run}/layer{j}.h5`` for the configured runs; empty without a profile.

    ``layers_of(dataset, preset)`` gives a preset's layer count (the layer-wise stage's run plan).
    """
    lw = config.get("layerwise")
    if not lw or dataset not in lw.get("profiles", {}):
        return []
    cfg, models = config["probes"], lw["profiles"][dataset]["models"]
    presets = cfg["presets"]
    if presets is None:
        presets = [p for p, m in models.items() if m.get("train", "layerwise") != "e2e"]
    seeds = cfg["seeds"] if cfg["seeds"] is not None else lw["seeds"]
    files = []
    for preset in presets:
        for seed in seeds:
            run = f"{preset}.{cfg['sampler']}.seed{seed}"
            files += [f"results/{dataset}/probes/{run}/layer{j}.h5" for j in range(1, layers_of(dataset, preset) + 1)]
    return files
