"""Credibility gates: the bars a trained model must clear before a verdict may rest on it.

A verdict that rests on a model failing a bar is "withheld: generator not credible", naming the
bar (bench.claims.rules.Claim.withhold). Each bar is stated with its reason, printed in the
reports that apply it, and can be set by option (`--gate-*`; 0 turns a bar off). The defaults:

- scorer: the classifier that scores recovery at 99.3% test accuracy or more (SPEC: at least
  99.3%, the paper's was 99.4%); a weaker scorer misreads recovered digits, so accuracies would
  measure the scorer as much as the recovery.
- reference Frechet: the reference LSGAN (the sweep's first LSGAN at its first seed, else the
  default `lsgan` at seed 0) at a Frechet distance of 90 or less in the scorer's feature space.
  It is the yardstick of the ratio bar below, so it must be a credible MNIST generator itself;
  90 is the bar this harness has held its LSGAN to (seeds 0-2 measured 78-88), about 50 times
  the data's own floor (1.66, training against test images).
- Frechet ratio: every other generator at most 4 times the reference LSGAN's distance in the same
  run (same scorer, same test images, same sample count). The LWGAN family's CPU recipes are an
  order of magnitude smaller than the published schedule and are not expected to match the
  LSGAN, but a generator four times as far from the data draws images a reader would not take
  for the data (the sample grids of mnist.md show it).
- lowest digit share: every digit at least 5% of the generator's draws (as the scorer labels
  them): half the data's 10%. A generator that draws a digit less than half as often as the data
  does misses part of a mode, and recovering test images of that digit is then capped by the
  generator, not by the regulator.
- collapse: an LWGAN-family model whose held-out reconstruction error is at least 0.9 times the
  constant map's (bench.experiments.lwgan_metrics.COLLAPSE) has collapsed; a constant map is trivially
  isometric and says nothing about the trade-offs the papers describe.

Which bars apply is decided by what a claim is judged on (`Claim.gate`), one rule for every
objective and experiment:
- "samples": claims judged on a generator's samples or on recovering test images through it
  (1-5, Q): the scorer, the reference LSGAN, the Frechet ratio, the lowest digit share, collapse.
  Recovering in-span targets (images the generator drew itself) is not capped by its coverage of
  the data: there only the scorer's bar and collapse apply.
- "encoder": claims judged on encoded inputs, G(Q(x)) (6, 7a-7c, 8, 9, 10): what they rest on is a
  working encoder and decoder, so collapse (a model that reconstructs no better than a constant
  map) is the bar. Sample quality is shown beside them, not gated on.
Every Frechet distance a bar reads is in the float32 scorer's feature space (the scorer never
trains in another number format: it is the judge), and the data's own floor is measured once per
run by the same protocol (10,000 training images against the 10,000 test images).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.settings import setting

SAMPLE_BARS = ("scorer", "reference_frechet", "frechet_ratio", "min_share")  # the "samples" gate, and collapse
# What a claim's verdict rests on (Claim.gate), and so the bars that must clear before it is given.
GATE_TEXT = {
    "samples": "rests on a generator's samples: the scorer at least 99.3%, the reference LSGAN's Frechet at most 90, "
    "every generator's Frechet at most 4x the reference's and every digit at least 5% of its draws, no collapse "
    "(in-span targets: the scorer and collapse only)",
    "encoder": "rests on encoding and decoding inputs: no model that collapsed (reconstruction at least 0.9x a "
    "constant map's); sample quality is shown beside it, not gated on",
}
DEFAULTS = {"scorer": 99.3, "reference_frechet": 90.0, "frechet_ratio": 4.0, "min_share": 0.05}


def gate_setting(key: str, help: str, maximum: float | None = None):
    """The settings field `gate_<key>` (option --gate-<key>) of bar `key`: its default, never
    negative, and judging only (changing it re-judges finished cells, it does not re-run them)."""
    return setting(DEFAULTS[key], help, minimum=0, maximum=maximum, judging=True)


@dataclass(frozen=True)
class Bar:
    key: str
    option: str
    text: str  # with {v}: the bar's value
    reason: str


BARS = (
    Bar(
        "scorer",
        "--gate-scorer",
        "the scorer's test accuracy at least {v:g}%",
        "SPEC: a classifier of at least 99.3% (the paper's 99.4%); a weaker scorer misreads recovered digits",
    ),
    Bar(
        "reference_frechet",
        "--gate-reference-frechet",
        "the reference LSGAN's Frechet distance at most {v:g}",
        "the yardstick of the ratio bar must be a credible MNIST generator itself; the bar this "
        "harness's LSGAN has met since it was first trained (78-88 over seeds 0-2), about 50 "
        "times the data's own floor",
    ),
    Bar(
        "frechet_ratio",
        "--gate-frechet-ratio",
        "Frechet distance at most {v:g} times the reference LSGAN's in the same run",
        "the LWGAN family's CPU recipes are not expected to match the LSGAN, but a generator "
        "four times as far from the data draws images a reader would not take for digits",
    ),
    Bar(
        "min_share",
        "--gate-min-share",
        "every digit at least {v:.0%} of the generator's draws",
        "half the data's 10%: a generator that draws a digit less than half as often as the "
        "data misses part of a mode, and recovering that digit is capped by the generator",
    ),
    Bar(
        "collapse",
        "(fixed)",
        "no collapse: held-out reconstruction below 0.9 times the constant map's",
        "a constant map is trivially isometric and reconstructs nothing; it says nothing about "
        "the trade-offs the papers describe",
    ),
)


@dataclass(frozen=True)
class Gates:
    """The bars' values (0: the bar is off)."""

    scorer: float = DEFAULTS["scorer"]
    reference_frechet: float = DEFAULTS["reference_frechet"]
    frechet_ratio: float = DEFAULTS["frechet_ratio"]
    min_share: float = DEFAULTS["min_share"]

    @classmethod
    def from_settings(cls, s) -> Gates:
        """From a settings object's `gate_*` fields (a field it lacks keeps the default)."""
        return cls(**{k: float(getattr(s, f"gate_{k}", v)) for k, v in DEFAULTS.items()})

    def value(self, key: str) -> float | None:
        return getattr(self, key, None)


def bar(key: str) -> Bar:
    return next(b for b in BARS if b.key == key)


def scorer_failures(accuracy: float | None, g: Gates) -> list[str]:
    if g.scorer and accuracy is not None and accuracy < g.scorer:
        return [f"scorer at {accuracy:.2f}% < {g.scorer:g}%"]
    return []


def reference_failures(frechet: float | None, g: Gates) -> list[str]:
    if g.frechet_ratio and g.reference_frechet and frechet is not None and frechet > g.reference_frechet:
        return [f"reference LSGAN at Frechet {frechet:.1f} > {g.reference_frechet:g}"]
    return []


def recovery_failures(ctx: dict, models: dict, g: Gates, in_span: bool = False) -> list[str]:
    """The "samples" gate of a recovery run for the models a claim rests on (`models`: key ->
    the run's model facts): the scorer, the reference LSGAN and each model's bars; with in-span
    targets only the scorer and collapse."""
    ref = (ctx.get("reference") or {}).get("frechet")
    out = scorer_failures(ctx.get("classifier_test_accuracy"), g)
    if in_span:
        return out + [f"{key} collapsed" for key, m in models.items() if m.get("collapsed")]
    out += reference_failures(ref, g)
    for key, m in models.items():
        out += generator_failures(key, m, ref, g)
    return out


def generator_failures(name: str, m: dict, reference_frechet: float | None, g: Gates) -> list[str]:
    """The bars an MNIST generator fails: m holds its `frechet`, `min_share`, `min_share_digit`
    and, where measured, `collapsed`."""
    out = []
    if m.get("collapsed"):
        out.append(f"{name} collapsed")
    if g.frechet_ratio and reference_frechet and m.get("frechet") is not None:
        ratio = m["frechet"] / reference_frechet
        if ratio > g.frechet_ratio:
            out.append(
                f"{name} Frechet {m['frechet']:.0f} = {ratio:.1f}x the reference's {reference_frechet:.0f} "
                f"> {g.frechet_ratio:g}x"
            )
    if g.min_share and m.get("min_share") is not None and m["min_share"] < g.min_share:
        digit = m.get("min_share_digit")
        out.append(
            f"{name} draws digit {digit} {m['min_share']:.1%} < {g.min_share:.0%}"
            if digit is not None
            else f"{name} lowest digit share {m['min_share']:.1%} < {g.min_share:.0%}"
        )
    return out


def bars_rows(g: Gates | None, keys: tuple[str, ...]) -> list[dict]:
    """The bars a report applies, with their values and reasons (a table)."""
    rows = []
    for b in BARS:
        if b.key not in keys:
            continue
        v = g.value(b.key) if g is not None else None
        text = b.text.format(v=v) if v is not None else b.text
        if v == 0:
            text += " (off)"
        rows.append({"bar": text, "option": b.option, "why": b.reason})
    return rows
