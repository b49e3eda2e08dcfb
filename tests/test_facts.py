"""Run facts: what a report states to be reproducible, and their round trip through the results."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench import facts as facts_mod
from bench.facts import RunFacts, collect_facts, facts_markdown, git_state

REPO = Path(__file__).resolve().parents[1]


def test_collect_facts_and_markdown(tmp_path):
    facts = collect_facts(
        seeds=[0, 1],
        data_fingerprint="abcd1234abcd1234",
        device="cpu",
        checkpoints={"lsgan": "f" * 64},
        wall_time_s=12.5,
        command="bench recover --grid quick",
    )
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
    if head.returncode == 0:
        assert facts.commit == head.stdout.strip()
    assert facts.versions["lwgan-bench"] == "0.1.0" and "torch" in facts.versions
    md = facts_markdown(facts)
    assert md.startswith("## Run facts")
    for text in ("`bench recover --grid quick`", "0, 1", "abcd1234abcd1234", "12.5 s", "f" * 64):
        assert text in md
    # Round trip through JSON: a report rebuilt from the saved facts is identical.
    again = RunFacts.from_dict(json.loads(json.dumps(facts.to_dict())))
    assert again == facts and facts_markdown(again) == md


def test_command_line_quotes_arguments():
    assert facts_mod.command_line(["/venv/bin/bench", "recover", "--lr", "0.1 0.2"]) == ("bench recover --lr '0.1 0.2'")
    assert facts_mod.command_line(["python", "-m", "x"]) == "python -m x"


def test_git_state_ignores_the_runs_own_output_folder(tmp_path):
    """A run that rewrites committed reports is not a dirty checkout; any other change is."""
    repo = tmp_path / "repo"
    (repo / "reports").mkdir(parents=True)
    (repo / "code.py").write_text("x = 1\n")
    (repo / "reports" / "r.md").write_text("old\n")

    def git(*args):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    assert git_state(repo)[1] is False
    (repo / "reports" / "r.md").write_text("new\n")
    assert git_state(repo)[1] is True
    assert git_state(repo, exclude=repo / "reports")[1] is False
    assert git_state(repo, exclude=tmp_path / "elsewhere")[1] is True  # outside: no effect
    (repo / "code.py").write_text("x = 2\n")
    assert git_state(repo, exclude=repo / "reports")[1] is True


def test_durations_read_as_a_person_writes_them():
    assert facts_mod._duration(42.04) == "42.0 s" and facts_mod._duration(3723.4) == "1h 02m 03s"


def test_lock_state_against_a_hand_made_lock(tmp_path):
    from importlib import metadata

    from bench.facts import lock_state

    pytest_version = metadata.version("pytest")
    lock = tmp_path / "constraints.txt"
    lock.write_text(f"# a comment\npytest=={pytest_version}\nno-such-package-xyz==1.0\n")
    assert lock_state(lock) == "matches the lock (1 of its 2 packages installed)"  # an extra left out
    lock.write_text("pytest==0.0.1\n")
    assert lock_state(lock) == f"differs from the lock: pytest {pytest_version} (lock 0.0.1)"
    assert lock_state(tmp_path / "none.txt") == "no lock found"
