from dataclasses import dataclass

import pytest

from bench import settings as st
from bench.options import OptionError, check_positive, resolve_device
from bench.settings import Settings, setting


@dataclass(frozen=True)
class _S(Settings):
    lambdas: tuple[float, ...] = setting((0.0,), "weights", option="--lambda", minimum=0, maximum=2)
    seeds: tuple[int, ...] = setting((0,), "seeds", minimum=0)
    names: tuple[str, ...] = setting(("a",), "names", choices=("a", "b"))
    n: int | None = setting(None, "a count", minimum=1)


def test_lists_parse_comma_separated_without_duplicates():
    assert st.parse(_S, "lambdas", "0, 0.5,1,2,0.5") == (0.0, 0.5, 1.0, 2.0)
    assert st.parse(_S, "seeds", "0,1,2") == (0, 1, 2) and st.parse(_S, "seeds", "1e3") == (1000,)
    assert st.parse(_S, "n", "none") is None and st.parse(_S, "n", "4") == 4


@pytest.mark.parametrize(
    "field, text, needle",
    [
        ("lambdas", "0,abc", "'abc' is not valid"),
        ("lambdas", "", "expected at least one value"),
        ("lambdas", "0,-1", "below the minimum 0"),
        ("lambdas", "nan", "not valid"),
        ("seeds", "1.5", "expected comma-separated integers"),
        ("names", "a,x", "accepted: a, b"),
        ("lambdas", "3", "above the maximum 2"),
        ("lambdas", "1,,2", "empty element"),
    ],
)
def test_bad_values_name_the_option_on_one_line(field, text, needle):
    with pytest.raises(st.SettingError) as e:
        st.build(_S, {field: st.parse(_S, field, text)})
    assert str(e.value).startswith(("--lambda:", "--seeds:", "--names:"))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_check_positive():
    assert check_positive(3, "--steps") == 3
    assert check_positive(0, "--restarts", allow_zero=True) == 0
    with pytest.raises(OptionError, match="--steps: expected a positive number"):
        check_positive(0, "--steps")
    with pytest.raises(OptionError, match="non-negative"):
        check_positive(-1, "--x", allow_zero=True)


def test_resolve_device():
    import torch

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(OptionError, match="--device: unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(OptionError, match="no CUDA"):
            resolve_device("cuda")


def test_atomic_write_gives_a_plain_file_mode(tmp_path):
    import os

    from bench.atomic import atomic_write_text

    mask = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "out" / "r.md", "x")
    finally:
        os.umask(mask)
    assert path.read_text() == "x"
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["r.md"]  # no temp file left


def _settings_classes():
    from bench.experiments.lwgan_settings import IsometrySettings, MnistSettings, StochasticSettings
    from bench.experiments.rank.rank_settings import RankSettings
    from bench.recovery.recover_settings import DependenceSettings, RecoverSettings

    return (IsometrySettings, StochasticSettings, MnistSettings, RankSettings, RecoverSettings, DependenceSettings)


@pytest.mark.parametrize("cls", _settings_classes(), ids=lambda c: c.__name__)
def test_every_option_is_named_as_its_sweep_file_key(cls):
    for f in st.fields(cls):
        spec = st.spec_of(f)
        if spec.option:  # a command-line option: the key with dashes, the older names hidden aliases
            assert spec.option == "--" + f.name.replace("_", "-"), (cls.__name__, f.name, spec.option)


@pytest.mark.parametrize(
    "argv, old, new",
    [
        (["isometry", "--lambda", "-1"], "--lambda", "--lambdas"),
        (["stochastic", "--lambda-iso", "-1"], "--lambda-iso", "--lambdas"),
        (["recover", "--regulator", "nope"], "--regulator", "--regulators"),
        (["isometry", "--critic-steps", "-1"], "--critic-steps", "--rank-critic-steps"),
    ],
)
def test_an_older_name_is_accepted_hidden_and_named_in_its_errors(argv, old, new, tmp_path, capsys):
    from bench.cli import main

    never = str(tmp_path / "never")
    assert main([*argv, "--out", never]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {old}: ") and "\n" not in err  # the name the user typed
    assert main([argv[0], new, argv[2], "--out", never]) == 2
    assert capsys.readouterr().err.strip().startswith(f"error: {new}: ")
    assert main([argv[0], "-h"]) == 0
    shown = capsys.readouterr().out
    assert new in shown and f"{old} " not in shown  # the older name hidden from --help
    assert not (tmp_path / "never").exists()


def test_an_option_under_both_names_is_refused(tmp_path, capsys):
    from bench.cli import main

    assert main(["isometry", "--lambda", "0", "--lambdas", "1", "--out", str(tmp_path / "o")]) == 2
    assert "--lambdas: given twice" in capsys.readouterr().err
    cfg = tmp_path / "s.toml"
    assert main(["isometry", "--lambda", "0,1", "--seeds", "0", "--print-config"]) == 0
    cfg.write_text(capsys.readouterr().out)
    assert "lambdas = [0.0, 1.0]" in cfg.read_text()  # the older name's value under the sweep-file key


def test_a_command_names_its_out_folder_relative_to_the_checkout(tmp_path):
    from bench.facts import with_out

    repo = tmp_path / "repo"
    (repo / "reports" / "x").mkdir(parents=True)
    cmd = "bench recover --grid paper --out /scratch/run7 --resume"
    assert with_out(cmd, repo / "reports" / "x", repo) == "bench recover --grid paper --out reports/x --resume"
    assert with_out("bench rank --out=/a", tmp_path / "else", repo) == f"bench rank --out={tmp_path / 'else'}"
    assert with_out("bench rank", repo / "reports", repo) == "bench rank --out reports"  # the default, said
    assert with_out("python -c 'run()'", repo / "reports", repo) == "python -c 'run()'"  # not a bench command
    assert with_out("bench isometry --out 'my runs/a b'", repo / "my runs" / "a b", repo).endswith("'my runs/a b'")


def _commands():
    from bench.cli import command

    root = command()
    out = [[]]
    for name, sub in root.commands.items():
        out.append([name])
        out += [[name, s] for s in getattr(sub, "commands", {})]
    return out


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "bench")
def test_every_help_shows_types_not_placeholders(path, capsys, monkeypatch):
    """-h works everywhere; a flag shows no value and a setting its type or choices, never
    click's `<bool>` / `<str>` placeholders; the panels' [run]-style titles survive rich markup."""
    from bench.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    assert main([*path, "-h"]) == 0
    shown = capsys.readouterr().out
    assert "Usage:" in shown
    for placeholder in ("<bool>", "<str>", "<int>", "<float>", "<path>", "[default:"):
        assert placeholder not in shown, placeholder  # one style: INT, TEXT, [a|b], (default: X)
    if "Run (a sweep file" in shown:
        assert "[run] table" in shown
