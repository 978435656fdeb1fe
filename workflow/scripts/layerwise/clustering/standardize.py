"""Feature standardisation before a head: every head of this stage sees z-scored features.

Heads on unstandardised features are unfair to representations whose scale is
far from 1 (a ReLU(cos + b) map is mostly small; pixels are 0..255): Adam's
step size and the SVM's C then mean different things per method. The
statistics come from the training rows only and travel with the head as
buffers, so prediction on validation/test rows uses the training mean/std.
Shared with the other heads of the pipeline (autoencoder/augmented classifiers).
"""

import torch
import torch.nn as nn


class FeatureStandardizer(nn.Module):
    """x -> (x - mean) / std per feature (any trailing shape), statistics of the training features."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    @classmethod
    def fit(cls, features):
        """Mean/std over the rows of a CPU tensor (n, ...); constant features get std 1."""
        x = torch.as_tensor(features).double()
        std = x.std(0, unbiased=False)
        return cls(x.mean(0), torch.where(std > 0, std, torch.ones_like(std)))

    def forward(self, x):
        return (x.float() - self.mean) / self.std


def standardized_head(head, train_features):
    """``head`` preceded by the standardisation fitted on ``train_features``."""
    return nn.Sequential(FeatureStandardizer.fit(train_features), head)
