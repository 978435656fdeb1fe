"""Names of paper 002's augmented networks and what each job starts from (no torch import:
the rule file reads this at DAG time).

Underscores, not hyphens, so that ``graph.features: ae:<name>`` accepts every name.
"""

VARIANTS = ("sae_first", "sae_all", "sae_layerwise", "swwae_first", "swwae_all", "swwae_layerwise")
# job name -> the job whose model.pt it starts from (section 4.1, steps 1-4)
STARTS_FROM = {
    "classifier": None,
    "baseline": "classifier",
    "sae_pretrain": "classifier",
    "swwae_pretrain": "classifier",
    **{v: v.split("_")[0] + "_pretrain" for v in VARIANTS},
}
NAMES = tuple(STARTS_FROM)
# rows of the paper 002 Table 1 layout, with the paper's spelling
DISPLAY = {
    "baseline": "VGGNet (baseline)",
    "sae_first": "SAE-first",
    "sae_all": "SAE-all",
    "sae_layerwise": "SAE-layerwise",
    "swwae_first": "SWWAE-first",
    "swwae_all": "SWWAE-all",
    "swwae_layerwise": "SWWAE-layerwise",
}
