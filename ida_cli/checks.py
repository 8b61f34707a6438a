"""The checks of numeric flags, with one wording everywhere: each raises a one-line UsageError that
names the flag and what it takes. Every command checks its options with these before it writes."""

from __future__ import annotations

import math

from ida_cli.errors import UsageError

MAX_SEED = 2**32 - 1  # numpy's SeedSequence takes any size, but torch.manual_seed wants < 2**64


def at_least(flag: str, value: int | None, low: int, what: str = "") -> None:
    """An integer flag (None: not given) of at least `low`."""
    if value is not None and value < low:
        raise UsageError(f"{flag} must be at least {low}{what}, not {value}")


def positive(flag: str, value: float | None) -> None:
    """A finite number greater than 0 (None: not given)."""
    if value is None:
        return
    if math.isnan(value) or value <= 0:
        raise UsageError(f"{flag} must be greater than 0, not {value}")
    if math.isinf(value):
        raise UsageError(f"{flag} must be a finite number, not {value}")


def seed(value: int) -> None:
    if not 0 <= value <= MAX_SEED:
        raise UsageError(f"--seed must be between 0 and {MAX_SEED}, not {value}")


def env_seconds(name: str, raw: str) -> float:
    """A number of seconds from the environment variable `name`."""
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name} must be a number of seconds, not '{raw}'") from None
    if math.isnan(value) or value < 0:
        raise UsageError(f"{name} must be a number of seconds of 0 or more, not '{raw}'")
    return value
