"""The portal's errors: one family, each saying in words what is wrong and what to do.

The CLI catches `PortalError` once and prints it (InputError: every problem at its file:line);
anything else reaching it is a bug and shows its traceback.
"""
from __future__ import annotations


class PortalError(Exception):
    """A failure the portal can explain; `exit_code` is what the CLI exits with."""

    exit_code = 2


class ConfigError(PortalError):
    """The environment or settings cannot be used as they are (a short PORTAL_SECRET_KEY, no [smtp])."""


class StaleState(PortalError):
    """The last build's state does not describe the ledger as it is: run `portal build`."""


class Busy(PortalError):
    """Another run holds what this one needs (one `portal remind` at a time)."""
