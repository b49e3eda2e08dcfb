"""A number format judged by equivalence (bench.equivalence) on hand-made recovery results: the
same outcomes are equivalent, a shift of 2 points is not, a reseed that changes more outcomes than
the format passes the variance check, and results of other checkpoints are refused."""

import numpy as np
import pytest

from bench import equivalence as eq
from bench.errors import BenchError
from bench.pipeline.results import Results
from bench.recovery.codec import pack_correct

N = 1000
GRID = [("none", 0.1, 0.0), ("wasserstein", 0.1, 1.0), ("wasserstein", 1.0, 1.0), ("energy", 0.1, 1.0),
        ("log_normal_density", 0.1, 1.0), ("logistic_cutoff", 0.1, 2.0),
        ("truncated_normal_cutoff", 0.1, 3.0)]  # fmt: skip


def _results(bits, seed=0, digests=None) -> Results:
    cells = []
    for (gs, reg, lr, hp), b in bits.items():
        cell = {"generator": "g", "generator_seed": gs, "regulator": reg, "learning_rate": lr, "hyperparameter": hp,
                "seed": seed}  # fmt: skip
        record = {"accuracy": float(b.mean() * 100), "correct": pack_correct(b), "n_images": N}
        cells.append(
            {"key": str(cell), "cell": cell, "status": "finished", "record": record, "error": None, "resumed": False}
        )
    settings = {"regulators": [r for r, _, _ in GRID], "generators": ["g"], "split_seed": 0}
    return Results(
        "recover",
        settings,
        cells,
        facts={"checkpoints": digests or {"g s0": "abc"}},
        context={"image_ids": list(range(N))},
    )


def _grid(rng, seeds=(0, 1, 2)):
    return {(gs, r, lr, hp): rng.random(N) < 0.85 for gs in seeds for r, lr, hp in GRID}


def _flips(b, rng, k):
    """b with k right answers made wrong and k wrong ones made right: outcomes change, the accuracy does not."""
    out = b.copy()
    out[rng.choice(np.flatnonzero(b), k, replace=False)] = False
    out[rng.choice(np.flatnonzero(~b), k, replace=False)] = True
    return out


@pytest.fixture
def saved(tmp_path, monkeypatch):
    from bench.recovery.recover_settings import RecoverSettings

    def save(name, res):
        res.settings = {**RecoverSettings(regulators=tuple(r for r, _, _ in GRID)).__dict__, "split_seed": 0}
        path = tmp_path / f"{name}.json"
        path.write_text(res.to_json(), encoding="utf-8")
        return path

    return save


def test_the_same_outcomes_with_a_few_flips_are_equivalent_and_a_two_point_shift_is_not(saved):
    rng = np.random.default_rng(0)
    base = _grid(rng)
    a = saved("a", _results(base))
    near = {k: _flips(b, rng, 15) for k, b in base.items()}  # 3% of images change outcome, both ways
    res = eq.equivalence(a, saved("b", _results(near)))
    assert res["pooled"]["equivalent"] and abs(res["mean_shift"]) < 0.5
    assert res["runs"] == len(base) and res["mcnemar"]["chance_range"][0] <= res["mcnemar"]["below_05"] + 5
    shifted = {k: b | (rng.random(N) < 0.15) for k, b in base.items()}  # about +2 points everywhere
    res = eq.equivalence(a, saved("c", _results(shifted)))
    assert not res["pooled"]["equivalent"] and not res["equivalent"] and res["mean_shift"] > 1.5
    assert "Not shown equivalent" in eq.markdown(res)


def test_a_reseed_that_changes_more_outcomes_passes_the_variance_check(saved):
    rng = np.random.default_rng(1)
    base = _grid(rng, seeds=(0,))
    a = saved("a", _results(base))
    fmt = {k: _flips(b, rng, 15) for k, b in base.items()}
    reseed = {k: _flips(b, rng, 100) for k, b in base.items()}
    res = eq.equivalence(a, saved("b", _results(fmt)), saved("r", _results(reseed, seed=1)))
    r = res["reseed"]
    assert r["not_above"] and r["excess"][2] < 0 and r["format_changed_median"] < r["reseed_changed_median"]
    # The other way round: a format that flips more than the reseed fails the check.
    res = eq.equivalence(a, saved("b2", _results(reseed)), saved("r2", _results(fmt, seed=1)))
    assert not res["reseed"]["not_above"] and not res["equivalent"]


def test_results_of_other_checkpoints_are_refused(saved):
    rng = np.random.default_rng(2)
    base = _grid(rng, seeds=(0,))
    with pytest.raises(BenchError, match="checkpoints differ"):
        eq.equivalence(saved("a", _results(base)), saved("b", _results(base, digests={"g s0": "other"})))
