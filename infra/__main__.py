"""The stack program that `pulumi up -s <env>` runs (Pulumi.yaml: main: infra/).

It composes the components of atlas_continuity.infra from the stack's config in stacks/.
The components arrive cloud by cloud; until then the program declares nothing.
"""

import pulumi

pulumi.export("backup_urls", [])
