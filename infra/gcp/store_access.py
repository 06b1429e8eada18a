"""The part the GCP identities share: custom roles and conditional bindings on the bucket."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_gcp as gcp

from atlas_continuity.infra.gcp.conditions import Binding
from atlas_continuity.infra.naming import stable_id


def grant_store_access(
    name: str,
    *,
    bindings: Callable[[str, str], list[Binding]],
    bucket: pulumi.Input[str],
    prefix: pulumi.Input[str],
    member: pulumi.Input[str],
    project: pulumi.Input[str] | None,
    opts: pulumi.ResourceOptions,
) -> list[gcp.storage.BucketIAMMember]:
    """For each binding ``bindings(bucket, prefix)`` returns, a custom role holding exactly its
    permissions (``<name>-<kind>-role``) and a bucket IAM member granting it to ``member`` under
    its condition (``<name>-<kind>``). Non-authoritative: other members of the bucket keep
    theirs."""
    # Which bindings exist must be known now; their conditions may wait for the bucket's name.
    shape = bindings("placeholder-bucket", "placeholder")
    resolved = pulumi.Output.all(bucket, prefix).apply(lambda v: bindings(v[0], v[1]))
    members = []
    for index, binding in enumerate(shape):
        role = gcp.projects.IAMCustomRole(
            f"{name}-{binding.kind}-role",
            role_id=stable_id(
                f"atlasContinuity_{name}_{binding.kind}",
                max_len=64,
                allowed="a-zA-Z0-9_",
                sep="_",
                hash_len=8,
            ),
            title=binding.title,
            description=f"atlas-continuity {name}: {', '.join(binding.permissions)}",
            permissions=list(binding.permissions),
            project=project,
            opts=opts,
        )
        current = resolved.apply(lambda b, i=index: b[i])
        members.append(
            gcp.storage.BucketIAMMember(
                f"{name}-{binding.kind}",
                bucket=bucket,
                role=role.name,
                member=member,
                condition=gcp.storage.BucketIAMMemberConditionArgs(
                    title=current.apply(lambda b: b.title),
                    description=current.apply(lambda b: b.description),
                    expression=current.apply(lambda b: b.expression),
                ),
                opts=opts,
            )
        )
    return members
