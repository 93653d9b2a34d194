"""Errors whose message is meant for the operator: the CLI prints it and exits 2."""


class UserError(Exception):
    """Bad input or configuration. ``str(exc)`` is one actionable line, never a secret."""
