"""Greedy layer-wise (paper 003) and end-to-end training on fixed mini-batch sequences."""
