"""`bench compare`: saved results cell by cell, paired over the same images (against scipy and
statsmodels through bench.stats), unpaired otherwise and said so, and a recovery result against
the paper's grid; bad input is one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import compare, compare_report
from bench.cli import main
from bench.pipeline.results import Results
from bench.recovery.codec import pack_correct

N = 400
REPORTS = Path(__file__).resolve().parent.parent / "reports"


def _save(path: Path, bits: dict, image_ids, experiment="recover") -> Path:
    cells = []
    for (reg, lr, hp), b in bits.items():
        cell = {"generator": "lsgan", "generator_seed": 0, "regulator": reg, "learning_rate": lr, "hyperparameter": hp,
                "seed": 0}  # fmt: skip
        record = {
            "accuracy": float(b.mean() * 100),
            "correct": pack_correct(b),
            "n_images": len(b),
            "accuracy_lo": 0.0,
            "accuracy_hi": 100.0,
        }
        cells.append(
            {"key": str(cell), "cell": cell, "status": "finished", "record": record, "error": None, "resumed": False}
        )
    res = Results(experiment, {}, cells, context={"image_ids": list(image_ids)})
    path.write_text(res.to_json())
    return path


def _bits(rate, seed):
    return np.random.default_rng(seed).random(N) < rate


def test_paired_over_the_same_images_against_hand_counts(tmp_path):
    from scipy.stats import binomtest

    a = _bits(0.8, 0)
    b = a.copy()
    flip = np.flatnonzero(a)[:40]  # 40 right answers made wrong: exactly 10 points lower, paired
    b[flip] = False
    same = _bits(0.5, 1)
    pa = _save(tmp_path / "a.json", {("wasserstein", 0.1, 1.0): a, ("energy", 0.1, 1.0): same}, range(N))
    pb = _save(tmp_path / "b.json", {("wasserstein", 0.1, 1.0): b, ("energy", 0.1, 1.0): same}, range(N))
    found = compare.compare([pa, pb])
    w, e = sorted(found["rows"], key=lambda r: r.cell, reverse=True)
    assert w.paired and w.diff == pytest.approx(-10.0) and w.outside
    assert w.pvalue == pytest.approx(binomtest(0, 40, 0.5).pvalue)
    assert e.diff == 0 and not e.outside  # the same bits: no difference, no interval
    assert "paired over them" in found["notes"][0]
    md = compare_report.markdown(found)
    assert "## Differences outside their interval (1 of 2)" in md and "regulator=wasserstein" in md


def test_other_images_are_unpaired_and_said_so(tmp_path):
    pa = _save(tmp_path / "a.json", {("wasserstein", 0.1, 1.0): _bits(0.8, 0)}, range(N))
    pb = _save(tmp_path / "b.json", {("wasserstein", 0.1, 1.0): _bits(0.8, 1)}, range(N, 2 * N))
    found = compare.compare([pa, pb])
    (r,) = found["rows"]
    assert not r.paired and r.pvalue is None and "unpaired" in found["notes"][0]
    from bench.stats import unpaired_bootstrap_ci

    x, y = _bits(0.8, 1) * 100.0, _bits(0.8, 0) * 100.0
    ci = unpaired_bootstrap_ci(x, y, n_boot=compare.N_BOOT, seed=0)
    assert (r.diff, r.lo, r.hi) == pytest.approx((ci.value, ci.lo, ci.hi))


def test_unpaired_bootstrap_matches_scipy():
    from scipy import stats

    x, y = np.random.default_rng(0).normal(1, 1, 50), np.random.default_rng(1).normal(0, 2, 70)
    from bench.stats import unpaired_bootstrap_ci

    ci = unpaired_bootstrap_ci(x, y, n_boot=500, seed=3)
    ref = stats.bootstrap(
        (x, y),
        lambda u, v, axis: u.mean(axis) - v.mean(axis),
        n_resamples=500,
        method="percentile",
        vectorized=True,
        random_state=np.random.default_rng(3),
    )
    assert ci.value == pytest.approx(x.mean() - y.mean())
    assert (ci.lo, ci.hi) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))


def test_bad_input_is_one_line(tmp_path, capsys):
    pa = _save(tmp_path / "a.json", {("wasserstein", 0.1, 1.0): _bits(0.8, 0)}, range(N))
    pb = _save(tmp_path / "b.json", {("wasserstein", 0.1, 1.0): _bits(0.8, 0)}, range(N), experiment="rank")
    for argv, needle in (
        ([str(pa)], "at least two"),
        ([str(pa), str(pb)], "different experiments"),
        ([str(pa), str(pa), "--paper"], "--paper: give exactly one"),
        ([str(tmp_path / "none.json"), str(pa)], "no such results file"),
    ):
        assert main(["compare", *argv, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and "\n" not in err and "Traceback" not in err


def test_the_committed_recovery_reports(tmp_path, monkeypatch, capsys):
    """The issue's cases: recover-paper against the LWGAN family's and against the paper."""
    monkeypatch.setattr(compare, "N_BOOT", 50)
    paper = REPORTS / "recover-paper.json"
    assert main(["compare", str(paper), "--paper", "--out", str(tmp_path / "p")]) == 0
    md = (tmp_path / "p" / "compare.md").read_text()
    assert "paper - lsgan" in md and "Spearman rho" in md and (tmp_path / "p" / "compare.pdf").stat().st_size > 0
    assert (
        main(
            [
                "compare",
                str(paper),
                str(REPORTS / "generators-paper" / "recover-paper.json"),
                "--out",
                str(tmp_path / "g"),
            ]
        )
        == 0
    )
    md = (tmp_path / "g" / "compare.md").read_text()
    assert "iso-lwgan - lsgan" in md and "the same target images" in md


def test_welch_interval_matches_scipy():
    from scipy import stats

    from bench.stats import welch_interval

    a, b = [6.43, 6.29, 6.58], [6.30, 6.35, 6.91, 6.0]
    ci = welch_interval(a, b)
    ref = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert ci.value == pytest.approx(np.mean(b) - np.mean(a))
    assert (ci.lo, ci.hi) == pytest.approx((ref.low, ref.high))
    assert np.isnan(welch_interval([1.0], [1.0, 2.0]).lo)  # one seed: no spread known
    assert tuple(welch_interval([2.0, 2.0], [3.0, 3.0])) == (1.0, 1.0, 1.0)
    tiny = welch_interval([1e-150, 2e-150, 3e-150], [2e-150, 3e-150, 5e-150])  # variances underflow when squared
    ref = stats.ttest_ind([2.0, 3.0, 5.0], [1.0, 2.0, 3.0], equal_var=False).confidence_interval(0.95)
    assert (tiny.lo * 1e150, tiny.hi * 1e150) == pytest.approx((ref.low, ref.high))


def _save_seeds(path: Path, values: dict) -> Path:
    """A non-recovery result: {(model, seed): recon}; every record also carries a setting and a time."""
    cells = []
    for (model, seed), recon in values.items():
        cell = {"objective": "lwgan", "model": model, "seed": seed}
        record = {
            "recon": recon,
            "recon_lo": recon - 0.01,
            "recon_hi": recon + 0.01,
            "lambda_iso": 1.0,
            "train_time_s": 100.0 + seed,
            "seed": seed,
        }
        cells.append(
            {"key": str(cell), "cell": cell, "status": "finished", "record": record, "error": None, "resumed": False}
        )
    path.write_text(Results("mnist", {}, cells).to_json())
    return path


def test_over_seeds_pools_each_cells_seeds_with_welch(tmp_path, capsys):
    from scipy import stats

    a = {("base", 0): 6.4, ("base", 1): 6.3, ("base", 2): 6.6, ("iso", 0): 8.2, ("iso", 1): 8.0, ("iso", 2): 8.3}
    b = {("base", 0): 6.35, ("base", 1): 6.5, ("base", 2): 6.45, ("iso", 0): 9.9, ("iso", 1): 10.1, ("iso", 2): 10.0}
    pa, pb = _save_seeds(tmp_path / "a.json", a), _save_seeds(tmp_path / "b.json", b)
    found = compare.compare([pa, pb], over_seeds=True)
    rows = {r.cell: r for r in found["rows"]}
    assert {r.metric for r in found["rows"]} == {"recon"}  # no bounds, setting, time or seed
    base, iso = rows["objective=lwgan|model=base"], rows["objective=lwgan|model=iso"]
    ref = stats.ttest_ind([6.35, 6.5, 6.45], [6.4, 6.3, 6.6], equal_var=False).confidence_interval()
    assert (base.lo, base.hi) == pytest.approx((ref.low, ref.high)) and not base.outside
    assert iso.diff == pytest.approx(10.0 - 8.1666667) and iso.outside
    assert "seed 0, 1, 2 against" in " ".join(found["notes"]) and "Welch" in found["notes"][0]
    out = tmp_path / "o"
    assert main(["compare", str(pa), str(pb), "--over-seeds", "--out", str(out)]) == 0
    assert "1 outside their 95% interval" in capsys.readouterr().out
    assert "## Differences outside their interval (1 of 2)" in (out / "compare.md").read_text()
    assert main(["compare", str(pa), str(pb), "--over-seeds", "--paper", "--out", str(out)]) == 2


def test_over_seeds_pools_generator_seeds_of_a_recovery_result(tmp_path):
    """Recovery cells differ by generator seed: --over-seeds pools those too, over accuracy."""
    from scipy import stats

    def save(path, acc):
        cells = []
        for g, a in enumerate(acc):
            cell = {"generator": "lsgan", "generator_seed": g, "regulator": "wasserstein", "learning_rate": 0.1,
                    "hyperparameter": 1.0, "seed": 0}  # fmt: skip
            record = {"accuracy": a, "accuracy_lo": a - 3, "accuracy_hi": a + 3, "paper_accuracy": 46.0}
            cells.append(
                {
                    "key": str(cell),
                    "cell": cell,
                    "status": "finished",
                    "record": record,
                    "error": None,
                    "resumed": False,
                }
            )
        path.write_text(Results("recover", {}, cells).to_json())
        return path

    a, b = [80.1, 82.4, 79.0], [81.0, 83.3, 80.2]
    found = compare.compare([save(tmp_path / "a.json", a), save(tmp_path / "b.json", b)], over_seeds=True)
    (r,) = found["rows"]  # one grid cell; the constant paper_accuracy is no outcome
    ref = stats.ttest_ind(b, a, equal_var=False).confidence_interval()
    assert r.metric == "accuracy" and (r.lo, r.hi) == pytest.approx((ref.low, ref.high))
    assert "generator_seed 0, 1, 2" in " ".join(found["notes"])


def test_files_are_named_by_the_shortest_tail_that_tells_them_apart(tmp_path):
    a, b = tmp_path / "runs" / "fp32" / "recover-paper.json", tmp_path / "runs" / "bf16" / "recover-paper.json"
    assert compare.short_names([a, b]) == ["fp32/recover-paper", "bf16/recover-paper"]
    assert compare.short_names([tmp_path / "x.json", tmp_path / "y.json"]) == ["x", "y"]
    assert compare.short_names([a]) == ["recover-paper"]


def test_the_figure_is_difference_against_mean_in_a_grid_with_every_file_named(tmp_path):
    from PIL import Image

    rows = [
        compare.CellDiff(f"c{i}", "b", m, 1.0 + i, 1.5 + i, 0.5, 0.1, 0.9, False, group=g)
        for i, g in enumerate(["wasserstein", "energy"])
        for m in ("recon", "frechet", "discrepancy", "rank", "lambda_hat", "irregularity", "batch_recon")
    ]
    found = {"rows": rows, "names": ["a", "b"], "paths": [tmp_path / "a.json", tmp_path / "b.json"], "notes": []}
    png = next(p for p in compare_report.figure(found, tmp_path) if p.suffix == ".png")
    w, h = Image.open(png).size
    assert w / h < 2.5  # seven metrics in a 3-column grid, not one row 9x wider than tall
    md = compare_report.markdown(found)
    assert f"- `a`: {(tmp_path / 'a.json').as_posix()}" in md  # the full path once, at the top
    assert md.count(str(tmp_path)) == 2
