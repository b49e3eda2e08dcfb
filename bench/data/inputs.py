"""A dataset as a run's MLflow input: plain data (name, digest, source, context, profile), so
a record or a prepare() fact can carry it from any process to the driver, which logs it
(bench.tracking). MLflow's store keeps a digest of at most 36 characters: our fingerprints are 16.
"""

from __future__ import annotations

import json

CONTEXTS = ("training", "evaluation", "training+evaluation")


def dataset_input(
    name: str,
    digest: str,
    source: str,
    *,
    source_type: str = "local",
    context: str = "training",
    profile: dict | None = None,
) -> dict:
    """One dataset input; `context` says what the run did with it (MLflow's mlflow.data.context)."""
    if context not in CONTEXTS:
        raise ValueError(f"dataset {name}: context {context!r}, expected one of {', '.join(CONTEXTS)}")
    if not digest or len(digest) > 36:
        raise ValueError(f"dataset {name}: digest {digest!r} must be 1-36 characters")
    return {
        "name": name,
        "digest": digest,
        "source_type": source_type,
        "source": source,
        "context": context,
        "profile": json.dumps(profile or {}, sort_keys=True),
    }


def mnist_input(mnist, context: str) -> dict:
    """MNIST as read: its folder, its fingerprint (the model cache's key), each file's sha256."""
    profile = {
        "train": int(mnist.train_images.shape[0]),
        "test": int(mnist.test_images.shape[0]),
        "sha256": dict(sorted(mnist.files.items())),
    }
    return dataset_input("mnist", mnist.fingerprint, str(mnist.source), context=context, profile=profile)


def synthetic_input(data, context: str = "training") -> dict:
    """A seeded synthetic dataset: made by code, so its source names the sampler and the seed."""
    profile = {
        "train": int(data.train.shape[0]),
        "heldout": int(data.heldout.shape[0]),
        "ambient_dim": data.ambient_dim,
        "intrinsic_dim": data.intrinsic_dim,
    }
    return dataset_input(
        f"{data.name}-s{data.seed}",
        data.fingerprint,
        f"bench.data.synthetic:{data.name}?seed={data.seed}",
        source_type="code",
        context=context,
        profile=profile,
    )


def unique(inputs: list[dict]) -> list[dict]:
    """Each (name, digest, context) once, in first-seen order."""
    seen: dict[tuple, dict] = {}
    for d in inputs:
        seen.setdefault((d["name"], d["digest"], d["context"]), d)
    return list(seen.values())
