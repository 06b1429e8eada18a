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
