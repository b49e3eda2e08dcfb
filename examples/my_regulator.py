"""A regulator in one file: `bench --plugin examples/my_regulator.py recover --regulators l1_norm --grid quick`."""

import regulators


@regulators.register(
    "l1_norm",
    kind="loss",
    hyperparameter="weight",
    description="mean |z_i| - sqrt(2/pi): 0 on average under N(0, I)",
    lrs=(0.01, 0.1, 1.0),
    hps=(0.1, 1.0),  # its grid rows: the paper has no table for it
)
def l1_norm(z, **_):
    return z.abs().mean(-1) - (2 / 3.141592653589793) ** 0.5
