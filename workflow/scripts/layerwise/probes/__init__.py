"""Separability probes of paper 003 §4.2 / Figure 3 on the frozen features of each trained layer."""
