"""Deep layerwise clustering (paper 001), its Figure-3 baselines, SVM heads and latent recovery."""
