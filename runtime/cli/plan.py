"""plan: what `pulumi up -s STACK` would declare, computed offline under Pulumi's mocks."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInput, ContinuityError, ExitCode
from .options import folder_flag, verbosity_options

if TYPE_CHECKING:
    from . import Output

log = logging.getLogger("atlas_continuity")

EXTRA = "all"
"""The extra that brings Pulumi and every component's provider SDK: the program can compose
any of them."""


class PlanFailed(ContinuityError):
    """The plan itself failed (a bug, exit code INTERNAL): said in one line, and in the JSON
    error object with --json."""


def add_commands(sub: argparse._SubParsersAction) -> None:
    plan = sub.add_parser(
        "plan",
        help="show what a stack would declare, offline (needs the infra extras)",
        description="Run the stack program in this process under Pulumi's mocks and print "
        "the resources it would declare, with their key inputs and the outputs that can be "
        "known before anything exists. Nothing is sent anywhere, and this is not a diff "
        "against deployed state: read it before `pulumi preview`.",
    )
    verbosity_options(plan)
    plan.add_argument(
        "--stack",
        required=True,
        metavar="NAME",
        help="the stack: Pulumi.NAME.yaml in the project's stackConfigDir (this repository's: "
        "stacks/)",
    )
    plan.add_argument(
        "--project-dir",
        metavar="DIR",
        help="the Pulumi project, a folder holding Pulumi.yaml; default: the nearest at or "
        "above the current directory",
    )
    plan.add_argument(
        "--json",
        action="store_true",
        help="print the plan as JSON on stdout (its shape: docs/infra-plan.md)",
    )
    plan.set_defaults(handler=cmd_plan)


def cmd_plan(args: argparse.Namespace, out: Output) -> int:
    try:
        from atlas_continuity.infra import plan as stack_plan
    except ImportError as exc:
        raise BadInput(
            f"plan needs Pulumi and the component SDKs ({exc.name} is not installed): "
            f"pip install 'atlas-continuity[{EXTRA}]'"
        ) from None
    try:
        given = folder_flag("--project-dir", args.project_dir)
        if given is not None:
            project = stack_plan.check_project_dir(given.resolve())
        else:
            project = stack_plan.project_dir(Path.cwd())
        result = stack_plan.plan_stack(args.stack, project)
    except (ValueError, ImportError) as exc:  # a config mistake, no such stack, an extra
        raise BadInput(str(exc)) from None
    except OSError:  # the file system said no: the CLI names the file
        raise
    except Exception as exc:  # a bug: one line (and JSON with --json); -vv has the traceback
        log.debug("internal error", exc_info=True)
        # The exception's text may hold a config value; its type and the traceback suffice.
        raise PlanFailed(
            f"internal error while planning: {type(exc).__name__} (please report it; -vv "
            "shows the traceback)"
        ) from None
    report = stack_plan.render_json(result)
    out.result(report, stack_plan.render_text(result))
    for warning in result.deployment.warnings:
        out.warn(warning)
    return ExitCode.OK
