"""Iso-LWGAN experiment 3 (`bench mnist`): base LWGAN against Iso-LWGAN on MNIST, with the ablation."""
