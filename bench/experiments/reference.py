"""The Iso-LWGAN paper's numbers and its authors' run log (bench/reference/iso_lwgan_results.csv)."""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources


@cache
def reference_rows(experiment: str) -> tuple[dict, ...]:
    """Rows of the reference CSV for one experiment (paper text and run log)."""
    text = resources.files("bench").joinpath("reference", "iso_lwgan_results.csv").read_text()
    rows = []
    for fields in list(csv.reader(io.StringIO(text)))[1:]:
        if len(fields) < 5:
            continue
        # The mnist rows' metric text holds an unquoted comma ("pixels in [-1,1]"): the first
        # three fields and the last are fixed, whatever lies between is the metric.
        exp, setting, value, *metric, source = fields
        if exp == experiment:
            rows.append(
                {"experiment": exp, "setting": setting, "value": value, "metric": ",".join(metric), "source": source}
            )
    return tuple(rows)


def reference_value(experiment: str, setting: str, source_prefix: str) -> str | None:
    """The paper's figure for one setting as written in the CSV ('1.20', '0.02-0.03'), or None."""
    for r in reference_rows(experiment):
        if r["setting"] == setting and r["source"].startswith(source_prefix):
            return r["value"]
    return None


def setting_key(name: str, value: float) -> str:
    """The CSV's setting label: lambda_iso=0.5, sigma_noise=0.0 (one decimal, more if needed)."""
    text = f"{float(value):.1f}"
    return f"{name}={text if float(text) == float(value) else format(float(value), 'g')}"
