"""What the GCP identities may do, built by pure functions: no Pulumi, plain strings in and out.

Two kinds of CEL expression:

- **Workload Identity attribute conditions**, over the CI token (``assertion``): the provider
  admits a token only if its ``sub`` is exactly the pinned subject (or, for CircleCI and
  Bitbucket, matches the anchored pattern and none of its guards), the same rule the AWS trust
  policies enforce (:class:`atlas_continuity.infra.ci_identity.CiIdentity`).
- **IAM conditions** on the bucket's role bindings, over the request's resource: object names
  under the store's prefix, and listings whose ``prefix`` parameter is under it
  (``api.getAttribute('storage.googleapis.com/objectListPrefix', '')``: GCS checks
  ``storage.objects.list`` against the bucket, so only the request's prefix can scope it).

Permissions are exactly those the runtime and Atlas use, in custom roles: read
(``storage.objects.get``, ``storage.objects.list``), create (``storage.objects.create``) and, for
Atlas's own backups only, ``storage.objects.delete``, which GCS requires to replace an object.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from atlas_continuity.infra.ci_identity import CiIdentity, glob_regex
from atlas_continuity.runtime import layout
from atlas_continuity.runtime.stores.url import check_prefix

READ = ("storage.objects.get", "storage.objects.list")
CREATE = ("storage.objects.create",)
REPLACE = ("storage.objects.delete",)
"""GCS replaces an existing object only for a caller holding ``storage.objects.delete`` on it."""

WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
GOOGLE_SUBJECT_MAX = 127
"""GCP refuses a token exchange whose mapped ``google.subject`` is longer (bytes)."""
WRITER_ATTRIBUTE = "atlas_writer"
"""A custom attribute each provider maps to its own ID, so a grant names exactly the tokens
one provider admitted, even in a pool other providers share."""

_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_POOL_NAME = re.compile(
    r"^projects/(\d+)/locations/global/workloadIdentityPools/([a-z0-9][a-z0-9-]{2,30}[a-z0-9])\Z"
)
_ID = re.compile(r"^[a-z][a-z0-9-]{2,30}[a-z0-9]\Z")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]\Z")


def cel_string(value: str) -> str:
    """A CEL string literal holding ``value`` exactly (JSON's escapes are CEL's). Characters
    beyond ASCII stay as they are: JSON would write one outside the basic plane as a UTF-16
    surrogate pair (``\\ud83d\\ude80``), which CEL refuses, as its ``\\u`` names a code point."""
    return json.dumps(value, ensure_ascii=False)


# --- Workload Identity Federation ------------------------------------------------------------


def attribute_condition(identity: CiIdentity) -> str:
    """The provider's mandatory condition: only the pinned subject gets through."""
    sub = "assertion.sub"
    if not identity.subject_is_pattern:
        return f"{sub} == {cel_string(identity.subject)}"
    parts = [f"{sub}.matches({cel_string(identity.subject_regex)})"]
    parts += [
        f"!{sub}.matches({cel_string(glob_regex(guard))})"
        for guard in identity.subject_must_not_match
    ]
    return " && ".join(parts)


def attribute_mapping(identity: CiIdentity, provider_id: str) -> dict[str, str]:
    """``google.subject`` (what audit logs show) and the attribute grants are made to.

    The subject is the token's ``sub``, except for CircleCI, whose ``$CIRCLE_OIDC_TOKEN_V2``
    subject outgrows GCP's 127-byte limit: there it is the project ID claim.
    """
    if identity.provider == "circleci":
        subject = "assertion['oidc.circleci.com/project-id']"
    else:
        if not identity.subject_is_pattern and len(identity.subject.encode()) > GOOGLE_SUBJECT_MAX:
            raise ValueError(
                f"{identity.provider}: the subject {identity.subject!r} is longer than the "
                f"{GOOGLE_SUBJECT_MAX} bytes GCP accepts as google.subject; shorten the "
                "branch or environment name"
            )
        subject = "assertion.sub"
    return {"google.subject": subject, f"attribute.{WRITER_ATTRIBUTE}": cel_string(provider_id)}


def check_id(what: str, value: str) -> str:
    """A pool, provider or service-account ID: 4-32 of a-z, 0-9, '-', not starting 'gcp-'."""
    if not isinstance(value, str) or not _ID.match(value) or value.startswith("gcp-"):
        raise ValueError(
            f"{what} {value!r}: 4 to 32 lowercase letters, digits and '-', starting with a "
            "letter, not with 'gcp-'"
        )
    return value


def check_service_account_id(value: str) -> str:
    """A service account ID: 6-30 of a-z, 0-9, '-', starting with a letter."""
    if not isinstance(value, str) or not re.match(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]\Z", value):
        raise ValueError(
            f"service_account_id {value!r}: 6 to 30 lowercase letters, digits and '-', "
            "starting with a letter"
        )
    return value


def check_project(what: str, value: str) -> str:
    if not isinstance(value, str) or not _PROJECT.match(value):
        raise ValueError(f"{what} {value!r} is not a GCP project ID")
    return value


def parse_pool_name(pool: str) -> tuple[str, str]:
    """``projects/NUMBER/locations/global/workloadIdentityPools/ID`` -> (NUMBER, ID)."""
    match = _POOL_NAME.match(str(pool))
    if not match:
        raise ValueError(
            f"workload_identity_pool {pool!r}: give the pool's resource name, "
            "projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/POOL_ID"
        )
    return match.group(1), match.group(2)


def provider_principal_set(pool_name: str, provider_id: str) -> str:
    """Every token one provider of the pool admitted, as an IAM member."""
    parse_pool_name(pool_name)
    return (
        f"principalSet://iam.googleapis.com/{pool_name}/attribute.{WRITER_ATTRIBUTE}/{provider_id}"
    )


def gke_principal(project_number: str, project_id: str, namespace: str, ksa: str) -> str:
    """One Kubernetes service account of a GKE cluster in ``project_id`` (Workload Identity
    Federation for GKE), as an IAM member."""
    if not re.match(r"^\d+\Z", str(project_number)):
        raise ValueError(f"{project_number!r} is not a GCP project number")
    check_project("cluster_project", project_id)
    return (
        f"principal://iam.googleapis.com/projects/{project_number}/locations/global/"
        f"workloadIdentityPools/{project_id}.svc.id.goog/subject/ns/{namespace}/sa/{ksa}"
    )


def gke_service_account_member(project_id: str, namespace: str, ksa: str) -> str:
    """The member a Google service account lets impersonate it from one Kubernetes SA."""
    check_project("cluster_project", project_id)
    return f"serviceAccount:{project_id}.svc.id.goog[{namespace}/{ksa}]"


# --- the bucket's role bindings --------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    """One conditional role binding on the bucket: a custom role of ``permissions``, granted
    where ``expression`` holds."""

    kind: str
    permissions: tuple[str, ...]
    title: str
    description: str
    expression: str


def check_bucket(bucket: str, where: str = "bucket_name") -> str:
    if not isinstance(bucket, str) or not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ValueError(
            f"{where} {bucket!r} is not a GCS bucket name (lowercase letters, digits, '-', '_' "
            "and '.', starting and ending with a letter or digit)"
        )
    return bucket


def _objects(bucket: str) -> str:
    return f"projects/_/buckets/{bucket}/objects/"


def objects_under(bucket: str, key_prefix: str) -> str:
    """True for an object whose name starts with ``key_prefix``."""
    return f"resource.name.startsWith({cel_string(_objects(bucket) + key_prefix)})"


def listing_under(bucket: str, key_prefix: str) -> str:
    """True for a list request on the bucket whose ``prefix`` starts with ``key_prefix``."""
    return (
        f'(resource.type == "storage.googleapis.com/Bucket" && '
        f"resource.name == {cel_string(f'projects/_/buckets/{bucket}')} && "
        'api.getAttribute("storage.googleapis.com/objectListPrefix", "")'
        f".startsWith({cel_string(key_prefix)}))"
    )


def _read(bucket: str, keys: str, what: str = "the store") -> Binding:
    """Read and list objects whose names start with ``keys``."""
    return Binding(
        "read",
        READ,
        f"atlas-continuity: read {what}",
        f"Read and list objects under {keys}",
        f"{objects_under(bucket, keys)} || {listing_under(bucket, keys)}",
    )


def writer_bindings(bucket: str, prefix: str, *, atlas_backup_writes: bool = True) -> list[Binding]:
    """Read and list the prefix; create objects; replace only Atlas's own backups.

    - The runtime's registry and grants (``<prefix>/atlas-continuity/registry/``, ``.../grants/``)
      may be created, never replaced or deleted: GCS needs ``storage.objects.delete`` to replace
      an object, and no binding grants it there.
    - With ``atlas_backup_writes`` (the default), objects may be created anywhere under the
      prefix, and replaced (``storage.objects.delete``) only outside ``atlas-continuity/``,
      where ``atlas migrate push`` writes its ``repo.backup`` copies. That right also deletes:
      versioning keeps a replaced or deleted live object as a noncurrent version, and soft
      delete keeps any version deleted outright for the bucket's soft-delete window.
    """
    bucket = check_bucket(bucket)
    prefix = check_prefix(prefix)
    runtime = layout.object_name(prefix, layout.ROOT)
    if atlas_backup_writes:
        create = objects_under(bucket, prefix + "/")
        where = f"under {prefix}/"
    else:
        create = " || ".join(
            objects_under(bucket, layout.object_name(prefix, subtree))
            for subtree in layout.SUBTREES
        )
        where = f"in {runtime}registry/ and {runtime}grants/"
    bindings = [
        _read(bucket, prefix + "/"),
        Binding(
            "create",
            CREATE,
            "atlas-continuity: create objects",
            f"Create objects {where}",
            create,
        ),
    ]
    if atlas_backup_writes:
        bindings.append(
            Binding(
                "replace",
                REPLACE,
                "atlas-continuity: replace Atlas backups",
                f"Replace objects under {prefix}/ outside {runtime} (Atlas's own backups)",
                f"{objects_under(bucket, prefix + '/')} && !{objects_under(bucket, runtime)}",
            )
        )
    return bindings


def reader_bindings(bucket: str, prefix: str) -> list[Binding]:
    """Read and list under the store's prefix; nothing else."""
    return [_read(check_bucket(bucket), check_prefix(prefix) + "/")]


def grant_writer_bindings(bucket: str, prefix: str, *, series: str) -> list[Binding]:
    """Create, read and list the snapshots of one grant series
    (``<prefix>/atlas-continuity/grants/<series>/``), nothing else. Without
    ``storage.objects.delete`` no snapshot can be replaced."""
    bucket = check_bucket(bucket)
    grants = layout.object_name(check_prefix(prefix), layout.grants_prefix(series))
    return [
        _read(bucket, grants, "grant snapshots"),
        Binding(
            "create",
            CREATE,
            "atlas-continuity: create grant snapshots",
            f"Create objects in {grants}",
            objects_under(bucket, grants),
        ),
    ]
