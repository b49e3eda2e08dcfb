"""One declaration per setting: the same bad value gives the same one-line message through every
door (a command's option, `bench run --set`, a sweep file, the Python API), sweep files round-trip,
and every committed report's settings come back from the sweep file its run facts imply."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from bench import settings as st
from bench.cli import main
from bench.experiments.lwgan_settings import IsometrySettings, MnistSettings, StochasticSettings
from bench.experiments.rank.rank_settings import RankSettings
from bench.pipeline import sweepfile
from bench.recovery.recover_settings import DependenceSettings, RecoverSettings

REPORTS = Path(__file__).resolve().parent.parent / "reports"

# (command, settings class, field, bad text, message): held in from the issue and the commands.
CASES = [
    ("isometry", IsometrySettings, "lambdas", "0,-1", "--lambdas: -1.0 is below the minimum 0"),
    (
        "isometry",
        IsometrySettings,
        "lambdas",
        "notalist",
        "--lambdas: 'notalist' is not valid; expected comma-separated numbers",
    ),
    ("isometry", IsometrySettings, "seeds", "[-1]", "--seeds: '[-1]' is not valid; expected comma-separated integers"),
    ("isometry", IsometrySettings, "seeds", "-1", "--seeds: -1 is below the minimum 0"),
    (
        "isometry",
        IsometrySettings,
        "objectives",
        "gan",
        "--objectives: unknown value 'gan'; accepted: lwgan, published",
    ),
    (
        "isometry",
        IsometrySettings,
        "eval_rank",
        "7",
        "--eval-rank: expected max, estimate or an integer in 1..3, got 7",
    ),
    ("stochastic", StochasticSettings, "sigmas", "0,0.1,", "--sigmas: empty element in '0,0.1,'"),
    (
        "mnist",
        MnistSettings,
        "budget",
        "huge",
        "--budget: unknown value 'huge'; accepted: default, public, tiny, public-tiny",
    ),
    ("rank", RankSettings, "reps", "1", "--reps: 1 is below the minimum 2"),
    ("rank", RankSettings, "datasets", "moebius", "--datasets: unknown value 'moebius'; accepted: "),
    ("recover", RecoverSettings, "images", "20000", "--images: 20000 is above the maximum 10000"),
    ("recover", RecoverSettings, "generators", "nope", "--generators: unknown generator 'nope'"),
    ("recover", RecoverSettings, "gate_min_share", "0.5", "--gate-min-share: 0.5 is above the maximum 0.1"),
    ("dependence", DependenceSettings, "readings", "after/0", "--readings: reading 'after/0': expected one of"),
]


def _option(cls, name: str) -> str:
    return next(st.label(f) for f in st.fields(cls) if f.name == name)


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("command, cls, name, text, message", CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_a_bad_value_is_the_same_line_through_every_door(command, cls, name, text, message, capsys, tmp_path):
    never = str(tmp_path / "never")
    # the command's own option
    assert main([command, _option(cls, name), text, "--out", never]) == 2
    assert message in _err(capsys)
    # bench run --set
    assert main(["run", command, "--set", f"{name}={text}", "--out", never]) == 2
    assert message in _err(capsys)
    # a sweep file, the value typed where it parses (else as text): the error names the file and key
    sweep = tmp_path / "sweep.toml"
    try:
        body, expected = sweepfile.toml_value(st.parse(cls, name, text)), message.split(": ", 1)[1]
    except st.SettingError:  # text a TOML file could only hold as a string: refused where a list belongs
        is_list = typing.get_origin(st.optional_type(st.hints(cls)[name])[1]) is tuple
        body, expected = sweepfile.toml_value(text), "expected a list" if is_list else message.split(": ", 1)[1]
    sweep.write_text(f"{name} = {body}\n")
    with pytest.raises(st.SettingError) as e:
        st.build(cls, sweepfile.read_toml(sweep, cls))
    if str(e.value).startswith("--config:"):  # a value bad on its own: the file and the key named
        assert str(e.value).startswith(f"--config: {sweep}: {name}: ") and expected in str(e.value)
    else:  # a rule between fields (the class's check): the option's line, as through the other doors
        assert message in str(e.value)
    # the Python API, with the value already typed (where it parses)
    try:
        value = st.parse(cls, name, text)
    except st.SettingError as err:
        assert message in str(err)
        return
    with pytest.raises(st.SettingError) as e:
        cls(**{name: value})
    assert message in str(e.value)
    assert not (tmp_path / "never").exists()  # refused before any work


def test_a_none_that_is_not_the_default_round_trips():
    s = StochasticSettings(centres=None)
    assert 'centres = "none"' in sweepfile.to_toml(s)
    assert st.build(StochasticSettings, {"centres": st.parse(StochasticSettings, "centres", "none")}) == s


def test_typed_sweep_files_are_checked_like_options(tmp_path, capsys):
    sweep = tmp_path / "s.toml"
    sweep.write_text("lambdas = [0, -1]\n")
    assert main(["isometry", "--config", str(sweep), "--out", str(tmp_path / "never")]) == 2
    assert f"--config: {sweep}: lambdas: -1.0 is below the minimum 0" in _err(capsys)  # the file and the key
    sweep.write_text("lambdas = [0, 1]\nwidht = 4\n")
    assert main(["isometry", "--config", str(sweep)]) == 2
    assert "unknown key 'widht'; did you mean width?" in _err(capsys)
    sweep.write_text('objectives = "lwgan,published"\n')  # a string where a list belongs
    assert main(["isometry", "--config", str(sweep)]) == 2
    assert "objectives: expected a list" in _err(capsys)
    sweep.write_text("lambdas = [0, 1\n")
    assert main(["isometry", "--config", str(sweep)]) == 2
    assert "is not a TOML file" in _err(capsys)
    assert main(["isometry", "--config", str(tmp_path / "none.toml")]) == 2
    assert "--config: no such file" in _err(capsys)


def test_print_config_round_trips_and_options_override_the_file(tmp_path, capsys):
    assert main(["isometry", "--lambda", "0,1", "--seeds", "3", "--print-config"]) == 0
    text = capsys.readouterr().out
    assert "lambdas = [0.0, 1.0]" in text and "seeds = [3]" in text
    sweep = tmp_path / "iso.toml"
    sweep.write_text(text)
    assert main(["isometry", "--config", str(sweep), "--print-config"]) == 0
    assert capsys.readouterr().out == text
    assert main(["isometry", "--config", str(sweep), "--seeds", "4,5", "--print-config"]) == 0
    again = capsys.readouterr().out
    assert "seeds = [4, 5]" in again and "lambdas = [0.0, 1.0]" in again
    assert main(["run", "isometry", "--config", str(sweep), "--print-config"]) == 0
    assert capsys.readouterr().out == text


def test_defaults_are_declared_once_and_shown_in_help():
    """The command's options are built from the fields: each shows the field's default, and
    leaving it out gives the field's default (no command re-declares one)."""
    import typing

    from bench.commands.build import setting_parameters

    helps = {p.name: typing.get_args(p.annotation)[1].help for p in setting_parameters(IsometrySettings)}
    assert "(default: 0,0.5,1,2)" in helps["lambdas"] and "(default: lwgan,published)" in helps["objectives"]
    assert all(p.default is None for p in setting_parameters(IsometrySettings))  # None: the field's own


@pytest.mark.parametrize(
    "cls", [IsometrySettings, StochasticSettings, MnistSettings, RankSettings, RecoverSettings, DependenceSettings]
)
def test_default_settings_round_trip_through_a_sweep_file(cls, tmp_path):
    s = cls()
    path = tmp_path / "s.toml"
    path.write_text(sweepfile.to_toml(s))
    assert st.build(cls, sweepfile.read_toml(path, cls)) == s


SAVED = sorted(p for p in REPORTS.rglob("*.json") if "runs" not in p.relative_to(REPORTS).parts)


@pytest.mark.parametrize("path", SAVED, ids=lambda p: p.relative_to(REPORTS).as_posix())
def test_a_committed_reports_sweep_comes_back_from_its_sweep_file(path, tmp_path):
    """`bench report X.json --print-config` writes the sweep file of a committed report; read
    back, it is exactly the settings the report's run had, so it re-runs that sweep."""
    from bench.pipeline import get
    from bench.pipeline.results import load

    results = load(path)
    saved = results.settings_obj()
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(sweepfile.to_toml(saved, results.experiment))
    with st.trusted():  # as saved (a plugin generator's file need not exist here)
        again = st.build(get(results.experiment).settings, sweepfile.read_toml(sweep, type(saved)))
    assert again == saved
    assert dataclasses.asdict(again) == dataclasses.asdict(saved)


@pytest.fixture
def extra_regulators():
    """Two throwaway regulators, one without grid rows; removed after the test."""
    import regulators
    import regulators.registry

    @regulators.register("bare_reg", kind="loss", hyperparameter="weight", description="no rows")
    def bare_reg(z, **_):
        return z.mean(-1)

    @regulators.register(
        "rowed_reg", kind="loss", hyperparameter="weight", description="rows", lrs=(0.01, 0.1), hps=(0.5,)
    )
    def rowed_reg(z, **_):
        return z.mean(-1)

    yield
    for name in ("bare_reg", "rowed_reg"):
        regulators.registry.REGISTRY.remove(name)


def test_a_registered_regulator_gets_cells_or_says_what_to_add(extra_regulators, tmp_path, capsys):
    from bench.recovery.grid import expand_grid

    # The author's extras carry their own rows: cells on both grids.
    assert len(expand_grid("paper", ["z_abs"])) == 16 and len(expand_grid("quick", ["z_abs"])) == 2
    assert [c.id for c in expand_grid("paper", ["rowed_reg"])] == [
        "rowed_reg|lr=0.01|hp=0.5",
        "rowed_reg|lr=0.1|hp=0.5",
    ]
    assert main(["recover", "--regulator", "bare_reg", "--out", str(tmp_path / "never")]) == 2
    err = _err(capsys)
    assert "regulator 'bare_reg' has no cells on the paper grid" in err and "lrs=(...) and hps=(...)" in err
    assert not (tmp_path / "never").exists()


def test_an_empty_sweep_is_never_started(tmp_path):
    from bench.errors import BenchError
    from bench.pipeline import Experiment, RunOptions, register, run_experiment, unregister

    register(
        Experiment(
            "empty-sweep",
            "no cells",
            IsometrySettings,
            cells=lambda s: [],
            render=lambda r: "",
            run_cell=lambda c, ctx: {},
        )
    )
    try:
        with pytest.raises(BenchError, match="no cells to run"):
            run_experiment("empty-sweep", IsometrySettings(), RunOptions(out=tmp_path / "out", track=False))
        assert not (tmp_path / "out").exists()
    finally:
        unregister("empty-sweep")


def test_the_guides_sweep_files_are_read_and_checked(tmp_path, capsys):
    """Each ```toml example of the guide names its command on its first line; each is read,
    typed and checked by that command (--print-config stops before any work)."""
    import re

    readme = (Path(__file__).parents[1] / "docs" / "guide.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", readme, flags=re.DOTALL)
    commands = [re.match(r"# bench (\w+) --config", b).group(1) for b in blocks]
    assert {"recover", "dependence", "rank", "isometry", "stochastic", "mnist"} <= set(commands)
    for command, block in zip(commands, blocks):
        sweep = tmp_path / f"{command}.toml"
        sweep.write_text(block, encoding="utf-8")
        assert main([command, "--config", str(sweep), "--print-config"]) == 0, command
        printed = capsys.readouterr().out
        for line in block.splitlines()[1:]:  # every value of the file is in the effective settings
            assert line in printed, (command, line)
