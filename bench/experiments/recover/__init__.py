"""The latent-recovery study (`bench recover`) and its generator-dependence study (`bench dependence`)."""
