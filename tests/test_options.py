import pytest

from bench.options import OptionError, check_positive, parse_int, parse_list, resolve_device


def test_parse_list_floats_and_duplicates():
    assert parse_list("0, 0.5,1,2,0.5", option="--lambda") == [0.0, 0.5, 1.0, 2.0]


def test_parse_list_ints_and_sequences():
    assert parse_list("0,1,2", option="--seeds", cast=parse_int) == [0, 1, 2]
    assert parse_list(["3", "4"], option="--seeds", cast=int) == [3, 4]
    assert parse_list("1e3", option="--n", cast=parse_int) == [1000]


@pytest.mark.parametrize(
    "text, kwargs, needle",
    [
        ("0,abc", {}, "'abc' is not valid"),
        ("", {}, "expected a comma-separated list"),
        ("0,-1", {"minimum": 0}, "below the minimum 0"),
        ("nan", {}, "not a finite number"),
        ("1.5", {"cast": parse_int}, "expected comma-separated integers"),
        ("a,x", {"cast": str, "choices": ["a", "b"]}, "accepted: a, b"),
        ("3", {"maximum": 2}, "above the maximum 2"),
    ],
)
def test_parse_list_errors_name_the_option(text, kwargs, needle):
    with pytest.raises(OptionError) as e:
        parse_list(text, option="--lambda", **kwargs)
    assert str(e.value).startswith("--lambda:")
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


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
