"""Class-by-class similarity graph of paper 000 (Appendix A): features, kernels, storage."""
