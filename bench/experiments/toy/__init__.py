"""The toy experiments of the Iso-LWGAN paper on synthetic data (`bench isometry`, `bench stochastic`)
and what they share."""
