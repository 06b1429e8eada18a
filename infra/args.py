"""Checks every component runs on its arguments before it declares anything.

A component refuses a bad argument with a ValueError that names the component and the field,
at construction, so that `pulumi preview` fails before any resource is planned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def check_when_plain(build: Callable[[], object], *inputs: object) -> None:
    """Run ``build`` now when every input is a plain string (or None), so that a component
    refuses bad arguments at construction; with Pulumi outputs it runs when they resolve."""
    if all(value is None or isinstance(value, str) for value in inputs):
        build()


def required_arg(name: str, args: Mapping[str, Any], field: str) -> Any:
    """``args[field]``, or a ValueError naming it."""
    value = args.get(field)
    if value is None:
        raise ValueError(f"{name}: {field} is required")
    return value


def flag(name: str, args: Mapping[str, Any], field: str, default: bool) -> bool:
    """A boolean argument: true or false, nothing that merely looks like one ("no", 0)."""
    value = args.get(field, default)
    if not isinstance(value, bool):
        raise ValueError(f"{name}: {field} must be true or false")
    return value


def whole_number(
    name: str, field: str, value: object, *, minimum: int = 1, maximum: int | None = None
) -> int | None:
    """An optional whole number within bounds (days, seconds): None stays None."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bounds = f"at least {minimum}" if maximum is None else f"{minimum} to {maximum}"
        raise ValueError(f"{name}: {field} must be a whole number, {bounds}")
    return value
