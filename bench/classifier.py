"""The frozen MNIST classifier that scores recovered and generated images, and its feature space.

A small CNN (three conv blocks, a 128-unit penultimate layer) trained on the 60,000 training
images only, with random shifts of up to 2 pixels and a one-cycle learning rate; it takes pixels
in [-1, 1] ([N, 1, 28, 28]), the generators' output range, so generated images are scored as is.
Its penultimate activations are the feature space of `frechet_distance` (an MNIST analogue of FID).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.cache import train_or_load
from bench.precision import for_model, key_extra
from bench.progress import ProgressFn, null_progress
from lwgan import numerics

FEATURE_DIM = 128


# The scorer is one fixed model: seeds vary generators and image subsets, never the judge, so
# accuracies and Frechet distances from runs with different seeds stay comparable.
SCORER_SEED = 0


@dataclass
class ClassifierConfig:
    width: int = 32  # channels of the first conv block; doubled per block (32-64-128)
    epochs: int = 5  # seed 0: 99.55% on the 10,000 test images (2 CPU threads; thread counts change the rounding)
    batch_size: int = 128
    lr: float = 3e-3  # peak of the one-cycle schedule (Adam)
    weight_decay: float = 1e-4  # decoupled (AdamW); keeps the frozen scorer's logits tame
    shift: int = 2  # random translation in pixels, the only augmentation
    dropout: float = 0.25  # before the last layer


class MnistCNN(nn.Module):
    """conv-BN-ReLU-pool x3 (28 -> 14 -> 7 -> 3), then 128 features, then 10 logits."""

    def __init__(self, width: int = 32, dropout: float = 0.25):
        super().__init__()
        w = width

        def block(i: int, o: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]

        self.body = nn.Sequential(*block(1, w), *block(w, 2 * w), *block(2 * w, 4 * w), nn.Flatten())
        self.penultimate = nn.Sequential(nn.Linear(4 * w * 9, FEATURE_DIM), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(FEATURE_DIM, 10))
        # Channels-last convolutions: oneDNN's fast layout on the CPU (1.6x at inference, 1000
        # images); the values are the same up to float rounding.
        self.body.to(memory_format=torch.channels_last)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.penultimate(self.body(x.contiguous(memory_format=torch.channels_last)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_classifier(cfg: ClassifierConfig | None = None) -> MnistCNN:
    cfg = cfg or ClassifierConfig()
    return MnistCNN(cfg.width, cfg.dropout)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by its own integer offset in [-max_shift, max_shift]^2, padding with
    the background value (-1). One gather for the whole batch."""
    if max_shift <= 0:
        return x
    n, c, h, w = x.shape
    s = max_shift
    padded = F.pad(x, (s, s, s, s), value=-1.0)
    off = torch.randint(0, 2 * s + 1, (2, n), generator=generator, device=generator.device)
    off = off.to(x.device)
    rows = (off[0][:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # [n,1,h,1]
    cols = (off[1][:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # [n,1,1,w]
    b = torch.arange(n, device=x.device)[:, None, None, None]
    ch = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[b, ch, rows, cols]


def _check_pixels(images: torch.Tensor, name: str = "images") -> None:
    if not torch.is_floating_point(images) or images.dim() != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(
            f"{name}: expected float pixels [N, 1, 28, 28] in [-1, 1] "
            f"(bench.data.to_pixels), got {tuple(images.shape)} {images.dtype}"
        )


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    seed: int,
    device: torch.device,
    progress: ProgressFn = null_progress,
    epochs: int | None = None,
    cfg: ClassifierConfig | None = None,
    precision: str = "fp32",
) -> tuple[MnistCNN, dict[str, list[float]]]:
    """Train the CNN on pixels [N,1,28,28] in [-1,1] and int labels [N]; returns (model in eval
    mode, history {"loss": mean loss per epoch}). Deterministic for a seed on a given device.
    `precision` "bf16": forward and loss under bfloat16 autocast, weights and AdamW state float32.
    Weights and activations are channels-last in both precisions: oneDNN's fast layout on the CPU
    (an epoch 16.5 s against 21.3 s in NCHW, float32; NCHW bfloat16 convolutions ran slower than
    float32). The layout changes the convolutions' rounding and so the weights trained: NCHW
    float32 training gives another scorer (digest 6bbea2..., 99.47%) than the one every committed
    report cites (47833a..., 99.55%), which channels-last training reproduces."""
    numerics.check(precision, "train_classifier: precision")
    cfg = cfg or ClassifierConfig()
    if epochs is not None:
        cfg = ClassifierConfig(**{**asdict(cfg), "epochs": epochs})
    _check_pixels(images)
    device = torch.device(device)
    n = images.shape[0]
    steps_per_epoch = -(-n // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    gen = torch.Generator(device="cpu").manual_seed(seed)
    # The init and dropout use torch's global RNG: seed it inside a fork so the caller's RNG state
    # is untouched and the result depends on `seed` only.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        model = build_classifier(cfg).to(device)
        model = model.to(memory_format=torch.channels_last)
        opt = numerics.adam(model.parameters(), precision, decoupled=True, lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(total, 1))
        x_all, y_all = images.to(device), labels.to(device)
        history: dict[str, list[float]] = {"loss": []}
        model.train()
        step = 0
        for epoch in range(cfg.epochs):
            perm = torch.randperm(n, generator=gen).to(device)
            running = torch.zeros((), device=device)
            for i in range(steps_per_epoch):
                idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]
                x = random_shift(x_all[idx], cfg.shift, gen).contiguous(memory_format=torch.channels_last)
                with numerics.autocast(device, precision):
                    loss = F.cross_entropy(model(x), y_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                running += loss.detach()
                step += 1
                # one host sync per 50 steps, not per step
                if step % 50 == 0 or i == steps_per_epoch - 1:
                    progress("train classifier", step, total, epoch=epoch + 1, loss=float(running / (i + 1)))
            history["loss"].append(float(running / steps_per_epoch))
    model.eval()
    return model.to(memory_format=torch.contiguous_format), history


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted digit per image, int64 [N], on the images' device."""
    return logits(model, images, batch_size).argmax(dim=1)


@torch.no_grad()
def logits(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    _check_pixels(images)
    dev = next(model.parameters()).device
    out = [model(images[i : i + batch_size].to(dev)) for i in range(0, images.shape[0], batch_size)]
    return torch.cat(out).to(images.device) if out else torch.empty(0, 10, device=images.device)


@torch.no_grad()
def features(model: MnistCNN, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Penultimate-layer activations [N, 128] (after ReLU): the space of `frechet_distance`."""
    _check_pixels(images)
    dev = next(model.parameters()).device
    out = [model.features(images[i : i + batch_size].to(dev)) for i in range(0, images.shape[0], batch_size)]
    return torch.cat(out).to(images.device)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Percentage (0-100) of images whose predicted digit equals the label."""
    pred = predict(model, images, batch_size)
    return 100.0 * float((pred.cpu() == labels.cpu()).double().mean())


def _covariance(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"frechet_distance: need [N>=2, D] features, got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(feats_a, feats_b) -> float:
    """Frechet (2-Wasserstein squared) distance between Gaussians fitted to two feature sets:
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

    tr (S_a S_b)^(1/2) = tr (S_a^(1/2) S_b S_a^(1/2))^(1/2), a symmetric PSD matrix, so two
    eigen-decompositions give it without the complex round-off of a general sqrtm."""
    a = feats_a.detach().cpu().numpy() if isinstance(feats_a, torch.Tensor) else feats_a
    b = feats_b.detach().cpu().numpy() if isinstance(feats_b, torch.Tensor) else feats_b
    mu_a, s_a = _covariance(a)
    mu_b, s_b = _covariance(b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"frechet_distance: feature sizes differ ({mu_a.shape[0]} vs {mu_b.shape[0]})")
    root_a = _sqrt_psd(s_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ s_b @ root_a), 0, None)).sum()
    d = float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * cross)
    return max(d, 0.0)


def digit_shares(pred: torch.Tensor) -> list[float]:
    """Fraction of each digit 0-9 among predictions (sums to 1)."""
    counts = torch.bincount(pred.cpu().long(), minlength=10)[:10].double()
    return (counts / max(int(pred.numel()), 1)).tolist()


@torch.no_grad()
def generator_quality(
    generator: nn.Module,
    model: MnistCNN,
    test_images: torch.Tensor,
    n: int = 10000,
    seed: int = 0,
    *,
    latent_dim: int | None = None,
    batch_size: int = 1000,
) -> dict:
    """Judge an unconditional generator with the classifier: n samples from z ~ N(0, I).

    Returns {"frechet": distance to the test images in the classifier's feature space,
    "shares": [share of each digit], "min_share", "min_share_digit", "n"}."""
    _check_pixels(test_images, "test_images")
    latent_dim = latent_dim or getattr(generator, "latent_dim", None)
    if latent_dim is None:
        raise ValueError("generator_quality: pass latent_dim (the generator has no .latent_dim)")
    dev = next(generator.parameters()).device
    gen = torch.Generator(device="cpu").manual_seed(seed)
    z = torch.randn(n, latent_dim, generator=gen)
    samples = torch.cat([generator(z[i : i + batch_size].to(dev)).cpu() for i in range(0, n, batch_size)])
    pred = predict(model, samples, batch_size)
    shares = digit_shares(pred)
    fd = frechet_distance(features(model, samples, batch_size), features(model, test_images, batch_size))
    low = int(np.argmin(shares))
    return {"frechet": fd, "shares": shares, "min_share": shares[low], "min_share_digit": low, "n": n}


BF16_PAYS = True  # bf16 trains the classifier faster on this project's CPU (benchmarks/cold_start.py)


def classifier_precision(precision: str, device) -> str:
    """The scorer's training format for a run's fp32, bf16 or auto (bench.precision.for_model)."""

    return for_model(precision, device, BF16_PAYS)


def classifier_key(cfg: ClassifierConfig, precision: str = "fp32") -> dict:
    """The cache key's config: the config, and the precision when it is not fp32."""

    return {**asdict(cfg), **key_extra(precision)}


def load_or_train_classifier(
    mnist,
    *,
    seed: int = SCORER_SEED,
    device: torch.device | str | None = None,
    progress: ProgressFn = null_progress,
    retrain: bool = False,
    epochs: int | None = None,
    cfg: ClassifierConfig | None = None,
    on_event=None,
    precision: str = "fp32",
) -> tuple[MnistCNN, object]:
    """Train the scorer on MNIST's training set through the model cache, or load it.

    Returns (model in eval mode with requires_grad False, on `device`; CacheEntry). The payload
    holds the state dict, the loss history and the metrics: test_accuracy (percent, on the
    10,000 test images) and train_seconds. `precision` (fp32, bf16 or auto) is the training's
    number format; bf16 enters the cache key, fp32 keeps the key of the checkpoints made before."""
    from bench.data import to_pixels

    cfg = cfg or ClassifierConfig()
    if epochs is not None:
        cfg = ClassifierConfig(**{**asdict(cfg), "epochs": epochs})
    device = torch.device(device or "cpu")
    precision = classifier_precision(precision, device)

    def train() -> dict:
        t0 = time.perf_counter()
        model, history = train_classifier(
            to_pixels(mnist.train_images),
            mnist.train_labels,
            seed=seed,
            device=device,
            progress=progress,
            cfg=cfg,
            precision=precision,
        )
        seconds = time.perf_counter() - t0
        acc = accuracy(model, to_pixels(mnist.test_images), mnist.test_labels)
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        return {
            "state": {"classifier": state},
            "history": history,
            "metrics": {"test_accuracy": acc, "train_seconds": seconds, "device": device.type, "precision": precision},
        }

    payload, entry = train_or_load(
        "classifier", classifier_key(cfg, precision), mnist.fingerprint, seed, train, retrain=retrain, on_event=on_event
    )
    model = build_classifier(cfg)
    model.load_state_dict(payload["state"]["classifier"])
    model = model.to(device).eval().requires_grad_(False)
    return model, entry
