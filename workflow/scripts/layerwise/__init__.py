"""Layer-wise training pipeline library (no Snakemake imports: importable from tests and scripts)."""

__version__ = "0.1.0"
