"""atlas-continuity infra: Pulumi components for backup buckets, identities and the operator.

Components live one per file under a subpackage per cloud (atlas_continuity.infra.aws, ...).
"""
