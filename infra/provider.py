"""The component provider: the components for TypeScript, Go, C#, Java and YAML programs.

``PulumiPlugin.yaml`` at the repository's root makes the repository a source-based Pulumi
package, and the root ``__main__.py`` starts this provider. ``pulumi package add`` (a local
path or the Git URL) runs it, asks for its schema, which the Pulumi SDK infers from the
components' typed args and annotated outputs, and generates an SDK in the consumer's language.
A program in that language then declares ``atlas-continuity:index:<Name>``, and Pulumi runs the
Python component here.
"""

from __future__ import annotations

PACKAGE = "atlas-continuity"
"""The package name: the first part of every component's type token."""


def components() -> list[type]:
    """Every component of the package, in one list: the provider hosts exactly these."""
    from atlas_continuity.infra import aws, azure, gcp, kubernetes
    from atlas_continuity.infra.continuity_plan import ContinuityPlan

    return [
        aws.S3BackupBucket,
        aws.AwsCiWriterRole,
        aws.EksReaderRole,
        gcp.GcsBackupBucket,
        gcp.GcpCiWriterIdentity,
        gcp.GkeReaderIdentity,
        azure.AzureBackupContainer,
        azure.AzureCiWriterIdentity,
        azure.AksReaderIdentity,
        kubernetes.AtlasOperator,
        ContinuityPlan,
    ]


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("atlas-continuity")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0.0.0"


def main() -> None:
    """Serve the components to the Pulumi engine (the engine passes its address in argv)."""
    from pulumi.provider.experimental import component_provider_host

    component_provider_host(components(), PACKAGE, version=version())
