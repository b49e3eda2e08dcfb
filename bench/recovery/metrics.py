"""Scores of one recovered grid cell (SPEC part A, and what the author's evaluation code reports).

Definitions (pixels in [-1, 1], errors between the target x and the recovery G(z_final)):
- accuracy: % of images whose G(z_final) the frozen classifier assigns the target's true label,
  with a percentile bootstrap 95% interval over images. An image with a NaN/inf pixel is counted
  as misclassified: no digit was produced.
- l1: mean over images of the per-image l1 norm sum_p |x_p - G(z)_p| (the author's get_l1_l2_loss).
- l2: mean over images of the per-image l2 norm sqrt(sum_p (x_p - G(z)_p)^2) (same source; also
  the reconstruction error of SPEC part B).
- mae: mean absolute error per pixel, the recovery objective's data term.
- z_mean, z_var: mean and population variance (ddof 0) of all recovered elements pooled.
- ks_pvalue: Kolmogorov-Smirnov p-value of the pooled elements against the prior's CDF.
- correct: which images were classified right, as packed bits (bench.recovery.codec), so two
  cells on the same images can be compared image by image (paired statistics).
- In-span targets (G(z*) of known z*): latent_error, the mean over images of ||z - z*||_2;
  latent_rmse, the same per element (||z - z*|| / sqrt(d)); latent_recovered, the % of images
  with latent_rmse <= tol.
A cell whose recovery went non-finite is scored as it is: the metrics that come out NaN/inf are
listed under "nonfinite_metrics", and "n_nonfinite" counts the images with non-finite z or loss.
"""

from __future__ import annotations

import math

import numpy as np
import torch

import regulators
from bench.recovery.codec import pack_correct
from bench.stats import bootstrap_ci

BOOT_SAMPLES = 10_000


@torch.no_grad()
def predict(classifier: torch.nn.Module, images: torch.Tensor, *, batch_size: int = 1000, device=None) -> torch.Tensor:
    """Predicted labels [n] (CPU int64); -1 for an image with a non-finite pixel."""
    device = torch.device(device or "cpu")
    was_training = classifier.training
    classifier.eval()
    try:
        out = []
        for i in range(0, images.shape[0], batch_size):
            x = images[i : i + batch_size].to(device=device, dtype=torch.float32)
            finite = torch.isfinite(x.flatten(1)).all(1)
            pred = classifier(torch.nan_to_num(x)).argmax(-1)
            out.append(torch.where(finite, pred, torch.full_like(pred, -1)).cpu())
    finally:
        classifier.train(was_training)
    return torch.cat(out)


def pixel_errors(targets: torch.Tensor, images: torch.Tensor) -> dict[str, float]:
    """l1, l2 (per-image norms, averaged over images) and mae (per pixel); see the module doc."""
    d = (images.double() - targets.double()).flatten(1)
    return {
        "l1": d.abs().sum(1).mean().item(),
        "l2": d.square().sum(1).sqrt().mean().item(),
        "mae": d.abs().mean().item(),
    }


def latent_stats(z: torch.Tensor, prior="normal") -> dict[str, float]:
    """Mean, population variance and KS p-value (vs the prior's CDF) of the pooled elements of z."""
    from scipy.stats import kstest

    prior = regulators.get_prior(prior) if isinstance(prior, str) else prior
    pooled = z.detach().double().flatten().cpu().numpy()
    mean = float(pooled.mean())
    var = float(np.mean(np.square(pooled - mean)))
    if np.isfinite(pooled).all():
        cdf = lambda v: prior.cdf(torch.from_numpy(np.asarray(v, dtype=np.float64))).numpy()
        p = float(kstest(pooled, cdf).pvalue)
    else:
        p = math.nan  # KS of a sample with NaN is undefined
    return {"z_mean": mean, "z_var": var, "ks_pvalue": p}


def latent_errors(z: torch.Tensor, z_star: torch.Tensor, tol: float) -> dict[str, float]:
    """How close the recovered latents [n, d] are to the ones that made the targets."""
    dist = (z.double() - z_star.double().to(z.device)).norm(dim=1).cpu()
    rmse = dist / math.sqrt(z.shape[1])
    return {
        "latent_error": float(dist.mean()),
        "latent_rmse": float(rmse.mean()),
        "latent_recovered": float((rmse <= tol).double().mean() * 100),
    }


def score_cell(
    rec,
    targets: torch.Tensor,
    labels: torch.Tensor,
    classifier: torch.nn.Module,
    *,
    prior="normal",
    n_boot: int = BOOT_SAMPLES,
    seed: int = 0,
    device=None,
    batch_size: int = 1000,
) -> dict:
    """All metrics of one CellRecovery against its targets [n, 1, 28, 28] and labels [n]."""
    pred = predict(classifier, rec.images_rec, batch_size=batch_size, device=device)
    hit = (pred == labels.cpu().long()).numpy()
    correct = hit.astype(np.float64) * 100
    _, lo, hi = bootstrap_ci(correct, n_boot=n_boot, seed=seed)
    scores = {
        "accuracy": float(correct.mean()),
        "accuracy_lo": lo,
        "accuracy_hi": hi,
        **pixel_errors(targets.cpu(), rec.images_rec),
        **latent_stats(rec.z_final, prior),
        "final_loss": float(rec.final_loss.double().mean()),
    }
    scores["nonfinite_metrics"] = [k for k, v in scores.items() if not math.isfinite(v)]
    scores["n_images"] = int(targets.shape[0])
    scores["correct"] = pack_correct(hit)
    scores["n_nonfinite"] = int(rec.n_nonfinite)
    scores["wall_s"] = float(rec.wall_s)
    return scores
