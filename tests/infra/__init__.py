"""Tests of the Pulumi components in atlas_continuity.infra (mocks, IAM evaluation, lint)."""
