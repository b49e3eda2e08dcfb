"""lwgan-bench: evaluation harness for latent-variable generative models."""

__version__ = "0.1.0"
