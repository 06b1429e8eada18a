"""Entry point of the Pulumi program (Pulumi.yaml: main: infra/): see program.py."""

from atlas_continuity.infra.program import main

main()
