"""Robust submodular partitioning (paper 000): f_NN, Algorithms 1-3, certificates, samplers."""
