"""What every experiment's record carries for its MLflow run: binned training curves, the
model's configuration, its final training losses and checkpoint digest."""

from __future__ import annotations

from bench.figures import binned

HISTORY_LOGGED = ("recon", "critic_gap", "grad_penalty", "mmd", "iso", "loss_gq", "loss")


def mlflow_extras(trained, cfg, label: str) -> dict:
    """What a record carries for its MLflow run and the loss figures: binned training curves,
    the configuration, the final training losses, the checkpoint's digest."""
    curves, every = {}, 1
    for k in HISTORY_LOGGED:
        if trained.history.get(k):
            curves[f"train/{k}"], every = binned(trained.history[k])
    return {
        "histories": curves,
        "history_every": every,
        "params": {f"cfg.{k}": v for k, v in cfg.to_dict().items()},
        "metrics": {f"train_{k}": v for k, v in trained.metrics.items() if isinstance(v, (int, float))},
        "tags": {"checkpoint": trained.entry.digest, "cached": str(trained.entry.loaded).lower()},
        "checkpoints": {label: trained.entry.digest},
    }
