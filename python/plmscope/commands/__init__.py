"""Subcommands of the ``plmscope`` command line: one module each, with ``register(sub)``."""


def seed(text: str) -> int:
    """argparse type of --seed options: an integer >= 0 (numpy seeds cannot be negative),
    so argparse names the option in its error."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value
