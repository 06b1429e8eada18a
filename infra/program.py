"""The stack program: ``pulumi up -s ENV`` builds one ContinuityPlan from stacks/Pulumi.ENV.yaml.

Each key of the ``atlas-continuity`` config namespace is one field of ContinuityPlanArgs
(``atlas-continuity:repo``, ``:aws``, ``:gcp``, ``:azure``, ``:operator``; stacks/README.md
explains them all). The config is checked before anything is declared: a misspelt key, a value
of the wrong type or a missing required key is refused with its path, e.g.
``atlas-continuity:gcp.ci_writers.main: unknown keys ['brnach'] ('brnach': did you mean
'branch'?)``.

Exports what pipelines need (README, "The stack program"): ``store_url``, ``backup_urls``, an
``atlas.hcl`` ``repo`` block, the identities per cloud and name, ``ci_identities`` and
``ci_variables`` (every variable the ``ci init`` templates read), and the operator's release.
"""

from __future__ import annotations

from typing import Any

import pulumi

CONFIG_NAMESPACE = "atlas-continuity"
"""The config namespace, and the plan's name: errors read ``atlas-continuity:aws.bucket...``,
as the key is written in the stack file."""


def main() -> None:
    from .continuity_plan import ContinuityPlan

    plan = ContinuityPlan(CONFIG_NAMESPACE, read_config())
    for key, value in plan.stack_outputs.items():
        pulumi.export(key, value)


def read_config() -> dict[str, Any]:
    """ContinuityPlanArgs from the stack's config, refusing a key of the namespace that is
    none of its fields (a misspelt ``atlas-continuity:gpc`` would otherwise be ignored), and
    any key of the project's own namespace when the project has another name: a key written
    without a namespace (``aws:``) is the project's, which nothing else reads."""
    from .continuity_plan import ContinuityPlanArgs

    fields = ContinuityPlanArgs.__annotations__
    keys = _config_keys()
    project = pulumi.get_project()
    if project != CONFIG_NAMESPACE:
        stray = sorted(key for key in keys if key.startswith(f"{project}:"))
        if stray:
            raise ValueError(
                f"{', '.join(stray)}: a key of the project's namespace ({project}), which "
                f"the program does not read: write {CONFIG_NAMESPACE}:<key> (a key without "
                "a namespace is the project's)"
            )
    given = sorted(key.split(":", 1)[1] for key in keys if key.startswith(f"{CONFIG_NAMESPACE}:"))
    unknown = [key for key in given if key not in fields]
    if unknown:
        raise ValueError(
            f"{', '.join(f'{CONFIG_NAMESPACE}:{key}' for key in unknown)}: unknown config "
            f"key (the keys are {', '.join(f'{CONFIG_NAMESPACE}:{f}' for f in fields)}; "
            "stacks/README.md)"
        )
    config = pulumi.Config(CONFIG_NAMESPACE)
    args: dict[str, Any] = {}
    for key in given:
        try:
            args[key] = config.get_object(key)
        except (ValueError, pulumi.ConfigTypeError):  # not JSON: a plain string
            args[key] = config.get(key)
        if fields[key] is str and not isinstance(args[key], dict | list):
            args[key] = config.get(key)  # as written: "2024" or "true" is a name, no number
    return args


def _config_keys() -> list[str]:
    from pulumi.runtime import config

    return [*config.CONFIG.get(), *config.get_config_env()]
