"""The one error type of the model library a user can cause: a configuration that cannot run."""


class ConfigError(ValueError):
    """A bad model or training setting (or an unknown variant / recipe name), named in one line.

    A ValueError, so library callers may treat it as one; the `bench` CLI prints it on one line
    and exits 2, as it does its own user errors.
    """
