"""Autoencoder feature stage: paper 000's residual autoencoder and paper 002's augmented classifiers."""
