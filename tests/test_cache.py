"""Model cache: keys, train-or-load, mismatch/corruption handling, atomicity, `bench models`."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import cache
from bench.cache import CacheError, cache_key, list_entries, load_checkpoint, train_or_load
from bench.checkpoint import payload_digest
from bench.errors import BenchError


def _tiny_payload(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.copy_(torch.randn(2, 3, generator=g))
        net.bias.copy_(torch.randn(2, generator=g))
    return {
        "state": {"net": net.state_dict()},
        "metrics": {"accuracy": 99.4, "loss": 0.25},
        "steps": 7,
    }


class Trainer:
    """A `train` callable that counts its calls, so tests can tell a load from a retrain."""

    def __init__(self, seed: int = 0):
        self.calls = 0
        self.seed = seed

    def __call__(self) -> dict:
        self.calls += 1
        return _tiny_payload(self.seed)


CFG = {"arch": {"width": 64, "depth": 2}, "lr": 2e-4, "betas": (0.5, 0.999), "steps": 100}


# --- where the cache lives -------------------------------------------------------------------


def test_cache_dir_env_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("BENCH_CACHE_DIR")
    assert cache.cache_dir() == tmp_path / "xdg" / "lwgan-bench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "lwgan-bench"


# --- keys ------------------------------------------------------------------------------------


def test_cache_key_matches_hand_written_canonical_json():
    # The canonical form written out by hand: sorted keys, no spaces, tuples as lists.
    text = (
        '{"config":{"a":1,"b":[1,2],"c":{"x":0.5,"y":"s"}},"data_fingerprint":"abc123",'
        '"format":1,"kind":"lsgan","seed":3}'
    )
    expected = hashlib.sha256(text.encode()).hexdigest()[:16]
    key = cache_key("lsgan", {"c": {"y": "s", "x": 0.5}, "b": (1, 2), "a": 1}, "abc123", 3)
    assert key == expected
    assert len(key) == 16 and int(key, 16) >= 0


def test_cache_key_sensitive_to_every_field_and_not_to_order():
    base = cache_key("lsgan", CFG, "fp", 0)
    reordered = {"steps": 100, "betas": [0.5, 0.999], "lr": 2e-4, "arch": {"depth": 2, "width": 64}}
    assert cache_key("lsgan", reordered, "fp", 0) == base
    variants = [
        cache_key("lwgan", CFG, "fp", 0),
        cache_key("lsgan", {**CFG, "lr": 1e-4}, "fp", 0),
        cache_key("lsgan", {**CFG, "arch": {"width": 64, "depth": 3}}, "fp", 0),
        cache_key("lsgan", CFG, "fp2", 0),
        cache_key("lsgan", CFG, "fp", 1),
    ]
    assert len({base, *variants}) == 6


def test_cache_key_rejects_non_json_config():
    with pytest.raises(TypeError, match="not JSON-able"):
        cache_key("lsgan", {"net": torch.nn.Linear(1, 1)}, "fp", 0)


# --- train or load ---------------------------------------------------------------------------


def test_train_then_load_round_trip(tmp_path):
    t = Trainer()
    p1, e1 = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path)
    assert t.calls == 1 and not e1.loaded and e1.retrained_because is None
    assert e1.path == tmp_path / "lsgan" / f"{cache_key('lsgan', CFG, 'fp', 0)}.pt"
    assert e1.digest == payload_digest(_tiny_payload(0)["state"]) and len(e1.digest) == 64
    assert e1.size_bytes == e1.path.stat().st_size
    assert e1.metrics == {"accuracy": 99.4, "loss": 0.25}

    p2, e2 = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path)
    assert t.calls == 1 and e2.loaded
    assert e2.digest == e1.digest and e2.key == e1.key
    w1, w2 = p1["state"]["net"]["weight"], p2["state"]["net"]["weight"]
    assert torch.equal(w1, w2) and p2["steps"] == 7
    # The stored state dict loads into a fresh module.
    net = torch.nn.Linear(3, 2)
    net.load_state_dict(p2["state"]["net"])
    assert torch.equal(net.weight, w1)

    # A different seed is a different model.
    train_or_load("lsgan", CFG, "fp", 1, t, root=tmp_path)
    assert t.calls == 2
    # retrain=True ignores the file and says why.
    _, e3 = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path, retrain=True)
    assert t.calls == 3 and not e3.loaded and e3.retrained_because == "retrain requested"


def test_mismatched_meta_is_reported_and_retrained(tmp_path):
    other = {**CFG, "lr": 1.0}
    right_path = cache.entry_path("lsgan", cache_key("lsgan", CFG, "fp", 0), tmp_path)
    # A file of another config sitting under this key's name (e.g. copied by hand).
    cache.save_checkpoint(right_path, "lsgan", other, "fp", 0, _tiny_payload(5))
    events: list[str] = []
    t = Trainer()
    _, entry = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path, on_event=events.append)
    assert t.calls == 1 and not entry.loaded
    assert "key" in entry.retrained_because  # the first field that differs is the key
    assert len(events) == 1 and "retraining lsgan" in events[0] and "\n" not in events[0]
    # The file was replaced by a valid one: the next call loads it.
    _, again = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path)
    assert again.loaded and t.calls == 1


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_file_is_reported_and_retrained(tmp_path, damage):
    t = Trainer()
    _, e = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path)
    data = e.path.read_bytes()
    bad = {"truncate": data[: len(data) // 2], "garbage": b"not a checkpoint" * 10, "empty": b""}
    e.path.write_bytes(bad[damage])
    events: list[str] = []
    _, e2 = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path, on_event=events.append)
    assert t.calls == 2 and not e2.loaded
    assert "unreadable" in e2.retrained_because and events
    assert load_checkpoint(e2.path)[1].digest == e2.digest


def _flip_a_weight_byte(path: Path, tensor: torch.Tensor) -> None:
    """Change one byte inside a stored tensor's data: the zip still opens and torch.load still
    succeeds (it checks no checksum), only the numbers differ."""
    data = bytearray(path.read_bytes())
    raw = tensor.contiguous().view(torch.uint8).numpy().tobytes()
    at = bytes(data).find(raw)
    assert at > 0 and bytes(data).find(raw, at + 1) == -1  # the tensor's bytes, once
    data[at + len(raw) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def test_one_changed_byte_inside_a_tensor_is_detected_and_retrained(tmp_path):
    t = Trainer()
    _, e = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path)
    weight = _tiny_payload(0)["state"]["net"]["weight"]
    _flip_a_weight_byte(e.path, weight)
    torch.load(e.path, weights_only=True)  # the damage is invisible to torch itself
    # The plan says so before any run (it reads and verifies the file), then the run retrains.
    assert cache.status("lsgan", CFG, "fp", 0, root=tmp_path).startswith("corrupt")
    assert cache.status("lsgan", CFG, "fp", 0, root=tmp_path).endswith("will retrain")
    events: list[str] = []
    payload, e2 = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path, on_event=events.append)
    assert t.calls == 2 and not e2.loaded and "corrupt" in e2.retrained_because
    assert len(events) == 1 and "does not match the digest" in events[0]
    assert torch.equal(payload["state"]["net"]["weight"], weight)
    assert cache.status("lsgan", CFG, "fp", 0, root=tmp_path) == "cached"
    with pytest.raises(CacheError, match="corrupt"):
        _flip_a_weight_byte(e2.path, weight)
        load_checkpoint(e2.path)
    assert {x.key: x for x in list_entries(tmp_path)}[e.key].error.startswith("corrupt")


def test_a_checkpoint_written_before_digests_is_upgraded_on_first_load(tmp_path):
    t = Trainer()
    _, e = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path)
    obj = torch.load(e.path, weights_only=True)
    del obj["meta"]["digest"], obj["meta"]["content_sha256"]  # as earlier versions wrote them
    torch.save(obj, e.path)
    assert cache.status("lsgan", CFG, "fp", 0, root=tmp_path) == "cached"
    events: list[str] = []
    _, e2 = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path, on_event=events.append)
    assert t.calls == 1 and e2.loaded and e2.digest == e.digest
    meta = torch.load(e.path, weights_only=True)["meta"]
    assert meta["digest"] == e.digest and meta["content_sha256"] == payload_digest(_tiny_payload(0))


def test_identical_trainings_have_the_same_digest_though_their_files_differ(tmp_path):
    _, a = train_or_load("lsgan", CFG, "fp", 0, Trainer(), root=tmp_path / "a")
    timed = lambda: {**_tiny_payload(0), "metrics": {"wall_time_s": 12.3}}
    _, b = train_or_load("lsgan", CFG, "fp", 0, timed, root=tmp_path / "b")
    assert a.digest == b.digest  # same weights; the timing differs, and so do the files
    assert a.path.read_bytes() != b.path.read_bytes()
    _, c = train_or_load("lsgan", CFG, "fp", 0, Trainer(seed=1), root=tmp_path / "c")
    assert c.digest != a.digest


def test_load_checkpoint_errors_are_one_line_bench_errors(tmp_path):
    t = Trainer()
    _, e = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path)
    _, entry = load_checkpoint(e.path, expect_key=e.key)
    assert entry.loaded and entry.config["betas"] == [0.5, 0.999] and entry.seed == 0

    with pytest.raises(CacheError, match="expected 0123456789abcdef") as exc:
        load_checkpoint(e.path, expect_key="0123456789abcdef")
    assert isinstance(exc.value, BenchError) and "\n" not in str(exc.value)

    # Meta edited after the fact (here: the seed) no longer hashes to the stored key.
    obj = torch.load(e.path, weights_only=True)
    obj["meta"]["seed"] = 42
    torch.save(obj, tmp_path / "edited.pt")
    with pytest.raises(CacheError, match="does not hash to its key"):
        load_checkpoint(tmp_path / "edited.pt")

    obj["meta"]["format"] = 0
    torch.save(obj, tmp_path / "old.pt")
    with pytest.raises(CacheError, match="cache format 0, this version reads 1"):
        load_checkpoint(tmp_path / "old.pt")

    (tmp_path / "half.pt").write_bytes(e.path.read_bytes()[:100])
    with pytest.raises(CacheError, match="unreadable") as exc:
        load_checkpoint(tmp_path / "half.pt")
    assert "\n" not in str(exc.value) and "half.pt" in str(exc.value)

    with pytest.raises(CacheError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")

    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CacheError, match="not a lwgan-bench cache file"):
        load_checkpoint(tmp_path / "foreign.pt")


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_files_that_need_the_full_unpickler_are_refused(tmp_path):
    # weights_only=True: a file carrying arbitrary objects is unreadable, never executed.
    key = cache_key("lsgan", CFG, "fp", 0)
    path = cache.entry_path("lsgan", key, tmp_path)
    path.parent.mkdir(parents=True)
    torch.save({"meta": {"kind": "lsgan"}, "payload": {"x": _Evil()}}, path)
    with pytest.raises(CacheError, match="outside weights_only's safe set") as exc:
        load_checkpoint(path)
    assert "GLOBAL print" in str(exc.value) and "\n" not in str(exc.value)
    t = Trainer()
    _, e = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path)
    assert t.calls == 1 and "unreadable" in e.retrained_because


def test_payload_is_checked_and_numpy_converted(tmp_path):
    def train_numpy():
        return {"metrics": {"accuracy": np.float64(98.5)}, "curve": np.arange(4.0)}

    payload, e = train_or_load("lsgan", CFG, "fp", 0, train_numpy, root=tmp_path)
    assert type(payload["metrics"]["accuracy"]) is float and torch.is_tensor(payload["curve"])
    assert e.metrics == {"accuracy": 98.5}
    loaded, _ = load_checkpoint(e.path)
    assert torch.equal(loaded["curve"], torch.arange(4.0, dtype=torch.float64))

    with pytest.raises(TypeError, match=r"payload\['model'\] has type Linear"):
        train_or_load("lsgan", CFG, "fp", 1, lambda: {"model": torch.nn.Linear(1, 1)}, root=tmp_path)
    assert not cache.entry_path("lsgan", cache_key("lsgan", CFG, "fp", 1), tmp_path).exists()


# --- atomicity and concurrency ---------------------------------------------------------------


def test_interrupted_write_keeps_old_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    t = Trainer()
    _, old = train_or_load("lsgan", CFG, "fp", 0, t, root=tmp_path)
    real_save = torch.save

    def half_save(obj, f, *a, **kw):
        f.write(b"PK\x03\x04 half a zip")  # some bytes reach the temp file, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", half_save)
    with pytest.raises(KeyboardInterrupt):
        train_or_load("lsgan", CFG, "fp", 0, Trainer(seed=1), root=tmp_path, retrain=True)
    monkeypatch.setattr(torch, "save", real_save)

    assert sorted(p.name for p in old.path.parent.iterdir()) == [old.path.name]
    payload, e = load_checkpoint(old.path, expect_key=old.key)
    assert e.digest == old.digest
    assert torch.equal(payload["state"]["net"]["weight"], _tiny_payload(0)["state"]["net"]["weight"])


def test_concurrent_writers_of_one_key_leave_a_valid_file(tmp_path):
    # Two writers racing on one key (threads stand in for processes: torch.save releases the
    # GIL during I/O, so the writes interleave). Whoever replaces the file last wins.
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(seed: int):
        try:
            for _ in range(5):
                barrier.wait()
                train_or_load("lsgan", CFG, "fp", 0, Trainer(seed), root=tmp_path, retrain=True)
        except BaseException as e:  # noqa: BLE001 - surfaced by the assert below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in (1, 2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors
    files = list((tmp_path / "lsgan").iterdir())
    assert len(files) == 1  # no temp files left behind
    payload, _ = load_checkpoint(files[0])
    w = payload["state"]["net"]["weight"]
    assert any(torch.equal(w, _tiny_payload(s)["state"]["net"]["weight"]) for s in (1, 2))


# --- listing and `bench models` ----------------------------------------------------------------


def test_list_entries_reads_meta_and_flags_corrupt(tmp_path):
    assert list_entries(tmp_path / "nowhere") == []
    _, a = train_or_load("lsgan", CFG, "fp", 0, Trainer(), root=tmp_path)
    _, b = train_or_load("classifier", {"w": 1}, "fp", 0, lambda: {"metrics": {"fid": 3.5}}, root=tmp_path)
    bad = tmp_path / "lwgan" / "deadbeefdeadbeef.pt"
    bad.parent.mkdir()
    bad.write_bytes(b"\x00" * 64)
    entries = {e.key: e for e in list_entries(tmp_path)}
    assert set(entries) == {a.key, b.key, "deadbeefdeadbeef"}
    assert entries[a.key].metrics == {"accuracy": 99.4, "loss": 0.25}
    assert entries[a.key].digest == a.digest and entries[a.key].kind == "lsgan"
    assert entries[b.key].metrics == {"fid": 3.5} and entries[b.key].error is None
    assert entries["deadbeefdeadbeef"].error.startswith("unreadable")
    assert str(bad) not in entries["deadbeefdeadbeef"].error  # the table shows the file already
    assert entries["deadbeefdeadbeef"].kind == "lwgan"


def _run_cli(args, capsys):
    from bench.cli import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_bench_models_lists_and_reports_empty(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = _run_cli(["models", "--cache-dir", str(tmp_path)], capsys)
    assert code == 0 and "No cached models" in out

    _, a = train_or_load("lsgan", CFG, "fp", 0, Trainer(), root=tmp_path)
    (tmp_path / "lsgan" / "0000000000000000.pt").write_bytes(b"junk")
    code, out, _ = _run_cli(["models", "--cache-dir", str(tmp_path)], capsys)
    assert code == 0
    assert a.key in out and "lsgan" in out and "accuracy=99.4" in out and a.digest[:12] in out
    assert "0000000000000000" in out and "unreadable" in out
    assert "2 checkpoint(s), 1 unreadable" in out

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    code, out, _ = _run_cli(["models"], capsys)
    assert code == 0 and a.key in out


def test_bench_models_help_ends_with_example(capsys):
    code, out, _ = _run_cli(["models", "--help"], capsys)
    assert code == 0
    assert out.strip().splitlines()[-1].strip().startswith("Example: bench models")


def test_entry_path_rejects_unsafe_kind(tmp_path):
    with pytest.raises(ValueError):
        cache.entry_path("../escape", "0" * 16, tmp_path)
    assert isinstance(cache.entry_path("iso-lwgan_2.x", "0" * 16, tmp_path), Path)


_TRAINER = """
import sys, time
from pathlib import Path
from bench import cache

root, log = Path(sys.argv[1]), Path(sys.argv[2])

def train():
    with open(log, "a") as f:
        f.write("trained\\n")
    time.sleep(1.5)  # long enough that the other process asks while this one trains
    return {"w": [1.0, 2.0]}

payload, entry = cache.train_or_load("toy", {"width": 3}, "fp", 0, train, root=root, on_event=print)
print("digest", entry.digest, flush=True)
"""


def test_two_processes_never_train_one_model_twice(tmp_path):
    """Two real processes ask for the same model at once: one trains it, the other waits on the
    key's lock and loads what the first saved."""
    import subprocess
    import sys

    script = tmp_path / "trainer.py"
    script.write_text(_TRAINER, encoding="utf-8")
    log = tmp_path / "trained.log"
    args = [sys.executable, str(script), str(tmp_path / "cache"), str(log)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert log.read_text().count("trained") == 1
    digests = {line.split()[1] for out in outs for line in out.splitlines() if line.startswith("digest")}
    assert len(digests) == 1
    assert sum("waiting for it" in out for out in outs) == 1
