"""The pipeline end to end with a tiny experiment registered by a plugin module the test writes:
MLflow into a temporary sqlite store, one cell failing on purpose, an interrupted run (Ctrl-C and
kill -9) resumed with nothing redone, and `bench report` rebuilding a byte-identical markdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main

TINY = textwrap.dedent('''
    """A tiny experiment: squares of integers, one of which fails on purpose."""
    import os
    import time
    from dataclasses import dataclass
    from pathlib import Path

    from bench.pipeline import Experiment, register
    from bench.verdict import Verdict


    @dataclass(frozen=True)
    class TinySettings:
        values: tuple[int, ...] = (1, 2, 3, 4, 5)  # the cells
        fail_on: int = 3  # this cell raises
        sleep: float = 0.0  # seconds per cell
        log: str = ""  # every call appends its value here
        seeds: tuple[int, ...] = (0,)


    def cells(s):
        return [{"value": v} for v in s.values]


    def run_cell(cell, ctx):
        s = ctx.settings
        if s.log:
            with open(s.log, "a") as f:
                f.write(f"{cell['value']}\\n")
        time.sleep(s.sleep)
        if cell["value"] == int(os.environ.get("TINY_INTERRUPT_ON", "0")):  # a Ctrl-C, not a setting
            raise KeyboardInterrupt
        if cell["value"] == s.fail_on:
            raise RuntimeError(f"cell {cell['value']} fails on purpose")
        v = cell["value"]
        return {"value": v, "square": v * v, "ratio": v / 7, "histories": {"loss": [1.0, 0.5, 0.25]},
                "tags": {"parity": "even" if v % 2 == 0 else "odd"}}


    def verdicts(results):
        ok = all(r["square"] == r["value"] ** 2 for r in results.records())
        n = len(results.records())
        return [Verdict("squares", "reproduced" if ok else "not reproduced", "value**2", f"{n} cells")]


    def render(results):
        lines = ["# Tiny", "", *(f"- {r['value']}: {r['square']} ({r['ratio']!r})" for r in results.records())]
        return "\\n".join(lines) + "\\n"


    def figures(results, out):
        from bench.figures import pyplot, save_figure

        plt = pyplot()
        fig, ax = plt.subplots()
        ax.plot([r["value"] for r in results.records()], [r["square"] for r in results.records()])
        return save_figure(fig, Path(out) / "tiny_squares")


    register(Experiment("tiny", "squares, one failing on purpose", TinySettings, cells, render,
                        run_cell=run_cell, verdicts=verdicts, figures=figures,
                        estimate=lambda ctx, todo: 10.0 * len(todo)))  # 10 s a cell, said up front
''')


@pytest.fixture
def plugin(tmp_path):
    """The tiny experiment's module, loaded as a plugin; unregistered afterwards."""
    from bench import plugins
    from bench.pipeline import unregister

    path = tmp_path / "tiny_experiment.py"
    path.write_text(TINY)
    plugins.load(str(path))
    yield path
    unregister("tiny")
    if str(path.resolve()) in plugins._LOADED:
        plugins._LOADED.remove(str(path.resolve()))
    sys.modules.pop("bench_plugin_tiny_experiment", None)


def _calls(log: Path) -> list[int]:
    return [int(x) for x in log.read_text().split()] if log.exists() else []


def _runs(uri: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


def test_end_to_end_with_a_failing_cell_and_a_rebuilt_report(plugin, tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "out"
    log = tmp_path / "calls.txt"
    assert (
        main(
            [
                "--plugin",
                str(plugin),
                "run",
                "tiny",
                "--out",
                str(out),
                "--tracking-uri",
                uri,
                "--set",
                f"log={log}",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "1 cell(s) failed" in printed and "squares" in printed

    # The report names the failed cell and its error; the others are rendered.
    md = (out / "tiny.md").read_text()
    assert "## Failed cells" in md and "value=3" in md and "fails on purpose" in md
    assert "- 4: 16" in md and "- 3:" not in md
    csv = pd.read_csv(out / "tiny.csv")
    assert list(csv["status"]) == ["finished", "finished", "failed", "finished", "finished"]
    assert csv.loc[2, "error"].startswith("RuntimeError: cell 3 fails on purpose")
    assert (out / "tiny_squares.pdf").stat().st_size > 0 and (out / "tiny_squares.png").stat().st_size > 0

    # MLflow: one parent, one child per cell; the failing one FAILED with its error.
    client, parents, children = _runs(uri)
    assert len(parents) == 1 and len(children) == 5
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    failed = [c for c in children if c.info.status == "FAILED"]
    assert len(failed) == 1 and "fails on purpose" in failed[0].data.tags["error"]
    ok = [c for c in children if c.info.status == "FINISHED"]
    assert {c.data.metrics["square"] for c in ok} == {1.0, 4.0, 16.0, 25.0}
    assert all(c.data.tags["parity"] in ("odd", "even") for c in ok)
    assert [m.value for m in client.get_metric_history(ok[0].info.run_id, "loss")] == [1.0, 0.5, 0.25]
    parent = parents[0]
    assert parent.data.metrics["failed_cells"] == 1.0 and parent.data.tags["verdict.squares"] == "reproduced"
    assert {"tiny.md", "tiny.csv", "tiny.json", "tiny_squares.pdf"} <= {
        a.path for a in client.list_artifacts(parent.info.run_id)
    }

    # `bench report` rebuilds the markdown byte for byte, and the CSV, without running a cell.
    calls = _calls(log)
    rebuilt = tmp_path / "rebuilt"
    assert main(["--plugin", str(plugin), "report", str(out / "tiny.json"), "--out", str(rebuilt)]) == 0
    assert (rebuilt / "tiny.md").read_bytes() == md.encode()
    assert (rebuilt / "tiny.csv").read_bytes() == (out / "tiny.csv").read_bytes()
    assert (rebuilt / "tiny_squares.png").stat().st_size > 0
    assert _calls(log) == calls

    # --resume: the finished cells come from the store; only the failed one runs again.
    assert (
        main(
            [
                "--plugin",
                str(plugin),
                "run",
                "tiny",
                "--out",
                str(out),
                "--no-track",
                "--set",
                f"log={log}",
                "--set",
                "fail_on=0",
                "--resume",
            ]
        )
        == 0
    )
    # fail_on changed, so it is another sweep (another store): everything ran again there.
    assert _calls(log)[len(calls) :] == [1, 2, 3, 4, 5]
    n = len(_calls(log))
    assert (
        main(
            ["--plugin", str(plugin), "run", "tiny", "--out", str(out), "--no-track", "--set", f"log={log}", "--resume"]
        )
        == 0
    )
    assert _calls(log)[n:] == [3]  # the same sweep as the first: its failed cell alone


def test_ctrl_c_keeps_finished_cells_and_resume_redoes_none(plugin, tmp_path, monkeypatch):
    from bench.pipeline import RunOptions, get, run_experiment

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    log = tmp_path / "calls.txt"
    settings = get("tiny").settings(fail_on=0, log=str(log))
    opts = RunOptions(out=tmp_path / "out", tracking_uri=uri)
    monkeypatch.setenv("TINY_INTERRUPT_ON", "4")
    with pytest.raises(KeyboardInterrupt):
        run_experiment("tiny", settings, opts)
    assert _calls(log) == [1, 2, 3, 4]
    monkeypatch.delenv("TINY_INTERRUPT_ON")
    _, parents, children = _runs(uri)
    assert parents[0].info.status == "KILLED" and len(children) == 3
    events = []
    output = run_experiment(
        "tiny", settings, RunOptions(out=tmp_path / "out", tracking_uri=uri, resume=True), on_event=events.append
    )
    assert _calls(log) == [1, 2, 3, 4, 4, 5]  # only the interrupted cell and the one after it
    assert [c["resumed"] for c in output.results.cells] == [True, True, True, False, False]
    # the time said up front is for the cells left to run; the facts say the wall time is partial
    assert "about 20 s to run them (estimated on this machine, 1 chunk at a time)" in events
    assert (output.results.facts["resumed_cells"], output.results.facts["total_cells"]) == (3, 5)
    from bench.facts import RunFacts, facts_markdown

    assert "3 of 5 cells were finished by an earlier one" in facts_markdown(RunFacts.from_dict(output.results.facts))
    assert [r["square"] for r in output.results.records()] == [1, 4, 9, 16, 25]


def test_a_new_experiment_version_does_not_reuse_older_cells(plugin, tmp_path):
    """--resume reuses the cells of the same version only: a bumped version measures anew."""
    import dataclasses

    from bench.pipeline import RunOptions, get, register, run_experiment, unregister

    log = tmp_path / "calls.txt"
    settings = get("tiny").settings(fail_on=0, log=str(log), values=(1, 2))
    opts = RunOptions(out=tmp_path / "out", track=False, resume=True)
    run_experiment("tiny", settings, opts)
    run_experiment("tiny", settings, opts)
    assert _calls(log) == [1, 2]  # the second run reused both
    v2 = dataclasses.replace(get("tiny"), version=2)
    unregister("tiny")
    register(v2)
    output = run_experiment("tiny", settings, opts)
    assert _calls(log) == [1, 2, 1, 2] and not any(c["resumed"] for c in output.results.cells)
    assert len(list((tmp_path / "out" / "runs").iterdir())) == 2  # the older store is kept


def test_kill_9_loses_no_finished_cell(plugin, tmp_path):
    out, log = tmp_path / "out", tmp_path / "calls.txt"
    args = [
        sys.executable,
        "-m",
        "bench.cli",
        "--plugin",
        str(plugin),
        "run",
        "tiny",
        "--out",
        str(out),
        "--no-track",
        "--device",
        "cpu",
        "--set",
        f"log={log}",
        "--set",
        "fail_on=0",
        "--set",
        "values=1,2,3,4,5,6,7,8",
        "--set",
        "sleep=0.3",
    ]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )
    stored = []
    deadline = time.monotonic() + 60
    while len(stored) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
        stored = list(out.glob("runs/*/cells/*.json"))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 3 <= len(stored) < 8, "the run should have been killed part way"
    done = len(list(out.glob("runs/*/cells/*.json")))  # no torn file: each was renamed whole
    before = _calls(log)
    assert (
        main(
            [
                "--plugin",
                str(plugin),
                "run",
                "tiny",
                "--out",
                str(out),
                "--no-track",
                "--resume",
                "--set",
                f"log={log}",
                "--set",
                "fail_on=0",
                "--set",
                "values=1,2,3,4,5,6,7,8",
                "--set",
                "sleep=0.3",
            ]
        )
        == 0
    )
    redone = _calls(log)[len(before) :]
    assert len(redone) == 8 - done and set(redone).isdisjoint(range(1, done + 1))
    assert pd.read_csv(out / "tiny.csv")["square"].tolist() == [v * v for v in range(1, 9)]


def test_a_bad_output_path_stops_before_any_cell(plugin, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    log = tmp_path / "calls.txt"
    code = main(
        ["--plugin", str(plugin), "run", "tiny", "--out", str(blocker / "sub"), "--no-track", "--set", f"log={log}"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--out" in err and "Traceback" not in err
    assert not log.exists()  # not one cell ran
    assert main(["--plugin", str(plugin), "run", "tiny", "--set", "nope=1"]) == 2
    assert "--set" in capsys.readouterr().err


def test_bench_experiments_lists_the_plugins_too(plugin, capsys):
    assert main(["--plugin", str(plugin), "experiments"]) == 0
    out = capsys.readouterr().out
    for name in ("recover", "rank", "isometry", "stochastic", "mnist", "tiny"):
        assert name in out


def test_results_name_their_plugins_and_bench_report_loads_them(plugin, tmp_path, capsys):
    import bench.plugins
    from bench.pipeline import load, unregister

    out = tmp_path / "out"
    assert (
        main(
            [
                "--plugin",
                str(plugin),
                "run",
                "tiny",
                "--out",
                str(out),
                "--no-track",
                "--set",
                f"log={tmp_path / 'calls.txt'}",
                "--set",
                "fail_on=0",
            ]
        )
        == 0
    )
    recorded = load(out / "tiny.json").facts["plugins"]
    assert recorded == [
        {"spec": str(plugin.resolve()), "file": str(plugin.resolve()), "digest": bench.plugins.digest(plugin)}
    ]
    md = (out / "tiny.md").read_text()
    from bench.facts import RunFacts, facts_markdown

    facts = facts_markdown(RunFacts.from_dict(load(out / "tiny.json").facts))
    assert f"`{plugin.resolve()}` (digest {recorded[0]['digest']})" in facts
    # A fresh process knows no `tiny`: bench report loads the recorded plugin itself.
    unregister("tiny")
    bench.plugins._LOADED.clear()
    assert main(["report", str(out / "tiny.json"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "tiny.md").read_text() == md
    # Changed since the run, or gone: one line naming the plugin to pass, never a traceback.
    unregister("tiny")
    bench.plugins._LOADED.clear()
    plugin.write_text(plugin.read_text() + "\n# edited\n")
    capsys.readouterr()
    assert main(["report", str(out / "tiny.json"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "experiment 'tiny' is not registered (pass --plugin" in err and "changed since the run" in err
    assert "\n" not in err and "Traceback" not in err
    plugin.unlink()
    assert main(["report", str(out / "tiny.json"), "--out", str(tmp_path / "x")]) == 2
    assert "(not found)" in capsys.readouterr().err
