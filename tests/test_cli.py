"""CLI conventions: help, version, one-line errors with exit code 2."""

import subprocess
import sys

from bench import __version__
from bench.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage" in out


def test_unknown_option_is_one_line_exit_2(capsys):
    assert main(["--bogus"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "--bogus" in err and "Traceback" not in err


def test_console_script_exit_code():
    # The installed entry point must turn the return value into the process exit code.
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from bench.cli import main; sys.exit(main(['--bogus']))"],
        capture_output=True,
        text=True,
        check=False,  # the exit code is what this test checks
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
