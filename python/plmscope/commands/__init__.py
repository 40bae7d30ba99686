"""Subcommands of the ``plmscope`` command line: one module each, with ``register(sub)``."""
