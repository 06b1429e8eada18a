"""Checks every component runs on its arguments before it declares anything.

A component refuses a bad argument with a ValueError that names the component and the field,
at construction, so that `pulumi preview` fails before any resource is planned.
"""

from __future__ import annotations

import difflib
import enum
import inspect
import sys
import types
import typing
from collections import abc
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def check_when_plain(build: Callable[[], object], *inputs: object) -> None:
    """Run ``build`` now unless an input is a Pulumi output or an awaitable, so that a
    component refuses bad arguments, of the wrong type too, at construction; with outputs it
    runs when they resolve."""
    if not any(_is_pending(value) for value in inputs):
        build()


def _is_pending(value: object) -> bool:
    """A value known only later: a Pulumi output (checked by name: this module imports no
    Pulumi) or an awaitable."""
    return inspect.isawaitable(value) or any(t.__name__ == "Output" for t in type(value).__mro__)


def required_arg(name: str, args: Mapping[str, Any], field: str) -> Any:
    """``args[field]``, or a ValueError naming it: missing, None and a blank string alike (no
    cloud takes an empty location or resource group, and would say so only at apply)."""
    value = args.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{name}: {field} is required")
    return value


def flag(name: str, args: Mapping[str, Any], field: str, default: bool) -> bool:
    """A boolean argument: true or false, nothing that merely looks like one ("no", 0)."""
    value = args.get(field, default)
    if not isinstance(value, bool):
        raise ValueError(f"{name}: {field} must be true or false")
    return value


CENTURY_DAYS = 36500
"""The default bound of a number of days: more is a typo (1e23 days), which the cloud's API
would refuse only at apply."""


def whole_number(
    name: str, field: str, value: object, *, minimum: int = 1, maximum: int | None = None
) -> int | None:
    """An optional whole number of days within bounds (at most :data:`CENTURY_DAYS` unless
    ``maximum`` says otherwise): None stays None."""
    if value is None:
        return None
    limit = CENTURY_DAYS if maximum is None else maximum
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= limit:
        bounds = (
            f"at least {minimum} and at most {limit} (a century)"
            if maximum is None
            else f"{minimum} to {maximum}"
        )
        raise ValueError(f"{name}: {field} must be a whole number, {bounds}")
    return value


# --- typed configuration -------------------------------------------------------------------


def check_typed(
    where: str,
    value: object,
    hint: Any,
    *,
    wired: Mapping[str, str] | None = None,
    joiner: str = ".",
) -> None:
    """Check ``value`` against the type ``hint`` (a TypedDict, ``Mapping[K, V]``, a list, an
    enum, ``pulumi.Input[T]``, a plain type, ``Any``); raise ValueError naming the path of the
    first key that is unknown, missing or of the wrong type (``where.key.key``).

    ``wired`` names keys of a TypedDict that the caller fills in (each with what provides it):
    they may not be given, and are not required. ``joiner`` joins ``where`` and the keys of
    this level (``atlas-continuity`` ``:`` ``aws``, as stack config names them)."""

    origin = typing.get_origin(hint)
    if origin in (typing.Required, typing.NotRequired):
        check_typed(where, value, typing.get_args(hint)[0])
        return
    if hint is Any or hint is object:
        return
    if typing.is_typeddict(hint):
        _check_typeddict(where, value, hint, wired or {}, joiner)
        return
    if origin in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(hint) if not _is_deferred(m)]
        if value is None and type(None) in members:
            return
        errors = []
        for member in members:
            try:
                check_typed(where, value, member)
                return
            except ValueError as exc:
                errors.append(exc)
        raise (
            errors[0]
            if len(errors) == 1
            else ValueError(
                f"{where}: expected {' or '.join(_describe(m) for m in members)}, "
                f"got {_kind(value)}"
            )
        )
    if origin in (abc.Mapping, dict, abc.MutableMapping):
        key_type, value_type = typing.get_args(hint) or (Any, Any)
        if not isinstance(value, Mapping):
            raise ValueError(f"{where} must be a mapping, not {_kind(value)}")
        for key, item in value.items():
            check_typed(f"{where}: key {key!r}", key, key_type)
            check_typed(f"{where}.{key}", item, value_type)
        return
    if origin in (abc.Sequence, list, tuple):
        (item_type, *_) = typing.get_args(hint) or (Any,)
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where} must be a list, not {_kind(value)}")
        for index, item in enumerate(value):
            check_typed(f"{where}[{index}]", item, item_type)
        return
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = [m.value for m in hint]
        if value not in allowed:
            raise ValueError(f"{where}: {value!r} is not one of {', '.join(map(str, allowed))}")
        return
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {_kind(value)}")
        return
    if hint in (int, float):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            # an int is whole as it is (float() of a huge one would overflow)
            or (hint is int and isinstance(value, float) and not value.is_integer())
        ):
            raise ValueError(f"{where}: expected {_describe(hint)}, got {_kind(value)}")
        return
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ValueError(f"{where}: expected {_describe(hint)}, got {_kind(value)}")


def _check_typeddict(
    where: str, value: object, hint: Any, wired: Mapping[str, str], joiner: str
) -> None:

    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a mapping, not {_kind(value)}")
    # The raw annotations: pulumi.Input's forward reference to Output never resolves here.
    fields = dict(hint.__annotations__)
    clash = sorted(set(wired) & set(value))
    if clash:
        sources = sorted({wired[key] for key in clash})
        raise ValueError(f"{where}: {clash} come from the {' and '.join(sources)}; remove them")
    refuse_unknown_keys(where, value, fields)
    for key in sorted(hint.__required_keys__ - set(wired)):
        if value.get(key) is None:
            raise ValueError(f"{where}{joiner}{key} is required")
    for key, item in value.items():
        check_typed(f"{where}{joiner}{key}", item, _resolved(fields[key], hint))


def refuse_unknown_keys(where: str, value: Mapping[str, Any], fields: Iterable[str]) -> None:
    """ValueError naming the keys of ``value`` that are none of ``fields``, with the closest
    field as a hint."""
    known = list(fields)
    unknown = sorted(set(value) - set(known))
    if unknown:
        hints = [
            f"{key!r}: did you mean {close[0]!r}?"
            for key in unknown
            if (close := difflib.get_close_matches(str(key), known, n=1))
        ]
        raise ValueError(
            f"{where}: unknown keys {unknown}"
            + (f" ({'; '.join(hints)})" if hints else f" (known: {', '.join(known)})")
        )


def known_args(name: str, args: object, hint: Any) -> None:
    """A component's ``args``: a mapping of the fields of its args TypedDict ``hint`` and no
    other key. A misspelt optional key would otherwise be ignored, and its default, which may
    grant more (``allow_atlas_backup_writes``), would hold unseen."""
    if not isinstance(args, Mapping):
        raise ValueError(f"{name}: args must be a mapping of {hint.__name__}, not {_kind(args)}")
    refuse_unknown_keys(name, args, hint.__annotations__)


def _resolved(field: Any, owner: Any) -> Any:
    """A field's type, with a forward reference looked up in the module that declares the
    TypedDict ``owner``: a module that imports a type only when it is used (a cloud's args,
    which need that cloud's SDK) names it as a string."""
    origin = typing.get_origin(field)
    if origin in (typing.Required, typing.NotRequired):
        field = typing.get_args(field)[0]
    if isinstance(field, typing.ForwardRef):
        return getattr(sys.modules[owner.__module__], field.__forward_arg__)
    return field


def _is_deferred(hint: Any) -> bool:
    """An awaitable or a Pulumi output: what ``pulumi.Input[T]`` allows besides ``T``, and
    never what configuration holds."""

    if isinstance(hint, typing.ForwardRef | str):
        return True
    origin = typing.get_origin(hint) or hint
    return isinstance(origin, type) and (
        issubclass(origin, abc.Awaitable) or origin.__name__ == "Output"
    )


def _describe(hint: Any) -> str:

    if hint is str:
        return "a string"
    if hint is int:
        return "a whole number"
    if hint is float:
        return "a number"
    if hint is bool:
        return "true or false"
    if typing.is_typeddict(hint) or typing.get_origin(hint) in (abc.Mapping, dict):
        return "a mapping"
    if typing.get_origin(hint) in (abc.Sequence, list, tuple):
        return "a list"
    return getattr(hint, "__name__", str(hint))


def _kind(value: object) -> str:
    kinds = {bool: "true/false", int: "a number", float: "a number", str: "a string"}
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing"
    return f"{kinds.get(type(value), type(value).__name__)} {value!r}"
