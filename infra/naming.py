"""Names for cloud resources whose IDs Pulumi cannot autoname.

GCP Workload Identity pools and providers, IAM custom roles and service accounts, and Azure
storage accounts take an ID that the caller must choose, under each cloud's own character rules,
and some of those IDs stay reserved for weeks after a delete. :func:`stable_id` derives one from
the component's name plus a short hash of the Pulumi project, stack and name, so that two stacks
(dev, prod) in one GCP project or Azure tenant never collide, and the same stack always asks
for the same ID.
"""

from __future__ import annotations

import hashlib
import re

import pulumi


def stable_id(
    name: str, *, max_len: int, allowed: str = "a-z0-9-", sep: str = "-", hash_len: int = 6
) -> str:
    """``<name, reduced to the allowed characters>{sep}<hash>``, at most ``max_len`` long,
    starting with a letter. ``allowed`` is a regex character-class body."""
    digest = hashlib.sha256(
        f"{pulumi.get_project()}/{pulumi.get_stack()}/{name}".encode()
    ).hexdigest()[:hash_len]
    base = re.sub(f"[^{allowed}]+", sep, name.lower()).strip(sep) or "atlas"
    if not base[0].isalpha():
        base = f"a{sep}{base}" if sep else f"a{base}"
    room = max_len - len(sep) - hash_len
    return f"{base[:room].rstrip(sep)}{sep}{digest}"
