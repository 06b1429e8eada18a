"""The store contract, as every backup-store component uses it.

The runtime owns the URL format, the prefix rule and the key layout
(``atlas_continuity.runtime.stores.url`` and ``atlas_continuity.runtime.layout``); this module
only adapts them to Pulumi inputs, so a bucket component's ``store_url`` output is exactly what
``push``, ``pull`` and ``grant save`` / ``restore`` open, and its identities are scoped to exactly
the keys the runtime uses.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from atlas_continuity.runtime.layout import is_name
from atlas_continuity.runtime.stores.url import check_prefix, format_store_url

DEFAULT_PREFIX = "atlas"
"""The prefix every bucket component defaults to: one store per bucket, holding Atlas's own
``repo.backup`` objects and the runtime's ``atlas-continuity/`` folder side by side."""


def store_prefix(component: str, args: Mapping[str, object]) -> str:
    """The component's ``prefix`` argument, checked by the runtime's rule (ValueError)."""
    return check_prefix(args.get("prefix", DEFAULT_PREFIX), f"{component}: prefix")  # type: ignore[arg-type]


def store_url(
    scheme: str,
    bucket: pulumi.Input[str],
    prefix: str,
    params: Mapping[str, pulumi.Input[str]] | None = None,
) -> pulumi.Output[str]:
    """The ``store_url`` output: the runtime's formatter applied once the inputs resolve."""
    names = list(params or {})
    return pulumi.Output.all(bucket, *(params or {}).values()).apply(
        lambda v: format_store_url(scheme, v[0], prefix, dict(zip(names, v[1:], strict=True)))
    )


def grant_series(component: str, args: Mapping[str, object], namespace: str) -> str:
    """The grant series of an Atlas operator (``grant save --name``, ``grants/<series>/``): the
    component's ``grant_name`` argument, or by default ``<project>.<stack>.<namespace>``, which
    keeps apart the stacks and projects that share a store. The operator's grant jobs write to
    it and its grant writer identity may write nowhere else, so both sides must agree: both
    derive the same default."""
    series = args.get("grant_name")
    if series is None:
        series = f"{pulumi.get_project()}.{pulumi.get_stack()}.{namespace}"
        if not is_name(series):
            raise ValueError(
                f"{component}: the default grant_name {series!r} is not a grant series name: "
                "set grant_name (1-128 letters, digits, '.', '_' or '-')"
            )
    elif not isinstance(series, str) or not is_name(series):
        raise ValueError(
            f"{component}: grant_name {series!r}: 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return series
