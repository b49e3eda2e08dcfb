"""What a run leaves behind, and what can be made again from it: the results JSON (each record
as the experiment's `slim` keeps it, the verdicts with their stability), and from that saved form
the CSV, figures and markdown (`bench report` rebuilds them byte for byte; `--rejudge` judges the
saved cells again by the current rules)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bench import sensitivity
from bench.atomic import atomic_write_text
from bench.facts import git_state
from bench.outputs import probe_dir, probe_files
from bench.pipeline.registry import Experiment, ensure_registered, get
from bench.pipeline.results import Results, load
from bench.plugins import PluginError
from bench.report import markdown_table, write_csv, write_report


def slimmed(exp: Experiment, outcome: dict, cell: dict, settings: dict) -> dict:
    """A cell's outcome as the saved results keep it (the experiment's `slim` of its record)."""
    if exp.slim is None or not outcome.get("record"):
        return outcome
    return {**outcome, "record": exp.slim(outcome["record"], cell, settings)}


def judge(exp: Experiment, results: Results) -> list[dict]:
    """The experiment's verdicts on the results, each with how stable it is (bench.sensitivity),
    as saved dicts."""

    return [v.to_dict() for v in sensitivity.measure(exp, results, exp.verdicts(results))]


def write_outputs(exp: Experiment, results: Results, files: dict[str, Path]):
    """Save the results JSON, then make the CSV, figures and markdown from the saved form (so a
    rebuild from the JSON makes the same markdown byte for byte). Returns (saved, figures)."""

    text = results.to_json()
    atomic_write_text(files["json"], text)
    saved = Results.from_json(text)
    return saved, _render_all(exp, saved, files)


def _render_all(exp: Experiment, results: Results, files: dict[str, Path]) -> list[Path]:

    write_csv(exp.rows(results) if exp.rows else default_rows(results), files["csv"])
    figures = exp.figures(results, files["md"].parent)
    write_report(files["md"].parent, files["md"].stem, markdown(exp, results))
    return figures


def markdown(exp: Experiment, results: Results) -> str:
    """The experiment's report, and below it the cells that failed, whatever the experiment."""
    text = exp.render(results).rstrip("\n") + "\n"
    failed = results.failed()
    if failed:
        rows = [{"cell": c["key"], "error": c["error"]} for c in failed]
        text += (
            f"\n## Failed cells\n\n{len(failed)} of {len(results.cells)} cells failed; "
            "the tables above leave them out. Rerun with `--resume` to retry them.\n\n" + markdown_table(rows) + "\n"
        )
    return text


def default_rows(results: Results) -> list[dict]:
    """One CSV row per cell: its fields, its status, and its record's top-level scalars."""
    rows = []
    for c in results.cells:
        record = c["record"] or {}
        scalars = {k: v for k, v in record.items() if isinstance(v, (int, float, str, bool))}
        rows.append({**c["cell"], "status": c["status"], "error": c["error"] or "", **scalars})
    return rows


def rejudge(path: str | Path) -> Results:
    """`bench report --rejudge`: judge a saved run's cells again by the current claims and
    statistics (nothing re-runs: verdicts are a function of the saved records), record when and at
    which commit in the run facts, and save the results in place (atomically)."""

    results = load(path)
    ensure_registered(results.experiment, results.facts.get("plugins", []), str(path))
    results.verdicts = judge(get(results.experiment), results)
    commit, _ = git_state()
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results.facts["judged"] = f"{when}, commit {(commit or 'unknown')[:12]} (bench report --rejudge)"
    atomic_write_text(Path(path), results.to_json())
    return results


def rebuild(path: str | Path, out: str | Path | None = None) -> dict[str, Path | list[Path]]:
    """`bench report`: the markdown, CSV and figures of a saved run, without rerunning it."""

    results = load(path)
    recorded = results.facts.get("plugins", [])
    problems = ensure_registered(results.experiment, recorded, str(path))
    exp = get(results.experiment)
    folder = probe_dir(Path(out) if out is not None else Path(path).parent)
    name = Path(path).name.removesuffix(".json")
    files = {ext: folder / f"{name}.{ext}" for ext in ("md", "csv")}
    probe_files(files.values())
    try:
        figures = _render_all(exp, results, files)
    except ValueError as e:  # a name only a plugin the run used registers (a regulator, a generator)
        if not problems:
            raise
        raise PluginError(
            f"{path}: {' '.join(str(e).split())}; the run used plugins that could not be loaded: "
            f"{', '.join(problems)} (pass --plugin {' --plugin '.join(p['spec'] for p in recorded)})"
        ) from None
    return {"report": files["md"], "csv": files["csv"], "figures": figures}
