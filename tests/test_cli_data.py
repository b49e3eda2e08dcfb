"""`bench data`: on the real offline copy, and its one-line errors."""

import matplotlib.image

from bench.cli import main


def test_bench_data_on_real_copy(tmp_path, mnist_dir, capsys):
    out = tmp_path / "reports"
    assert main(["data", "--data-dir", mnist_dir, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "60,000" in text and "10,000" in text
    assert "train-images-idx3-ubyte.gz" in text and "t10k-labels-idx1-ubyte.gz" in text
    # the full sha256 of a file, unwrapped, as in the folder's SHA256SUMS
    assert "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6" in text
    png = out / "mnist-samples.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = matplotlib.image.imread(png)
    assert img.ndim == 3 and min(img.shape[:2]) > 200
    assert [p.name for p in out.iterdir()] == ["mnist-samples.png"]  # no temp files left


def test_bench_data_bad_dir_is_one_line_exit_2(tmp_path, capsys):
    assert main(["data", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count("\n") == 0 and err.startswith("error:") and str(tmp_path) in err
    assert "train-images-idx3-ubyte" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_bench_data_offline_message(capsys):
    assert main(["data", "--no-download"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--data-dir" in err and "BENCH_DATA_DIR" in err


def test_bench_data_help_ends_with_examples(capsys):
    assert main(["data", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--no-download" in out and "--data-dir" in out
    tail = out[out.index("Examples") :]
    assert "bench data --data-dir" in tail
