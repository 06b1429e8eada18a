"""The part both identities share: an IAM role with one inline policy on the registry."""

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws


def session_duration(name: str, args: Mapping[str, Any]) -> int:
    """``max_session_duration`` (default 3600), checked before anything is declared."""
    duration = args.get("max_session_duration", 3600)
    if isinstance(duration, bool) or not isinstance(duration, int) or not 3600 <= duration <= 43200:
        raise ValueError(f"{name}: max_session_duration must be between 3600 and 43200 seconds")
    return duration


def registry_role(
    name: str,
    args: Mapping[str, Any],
    *,
    description: str,
    trust: pulumi.Input[str],
    policy_name: str,
    policy: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    """Declare ``<name>-role`` with ``trust`` and its inline ``<name>-<policy_name>`` policy."""
    role = aws.iam.Role(
        f"{name}-role",
        name=args.get("role_name"),
        description=description,
        assume_role_policy=trust,
        max_session_duration=session_duration(name, args),
        permissions_boundary=args.get("permissions_boundary"),
        tags=args.get("tags"),
        opts=opts,
    )
    aws.iam.RolePolicy(f"{name}-{policy_name}", role=role.id, policy=policy, opts=opts)
    return role
