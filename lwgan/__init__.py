"""LSGAN, LWGAN and Iso-LWGAN: models, losses, trainers and the generator-variant registry."""
