"""The component provider's entry point (PulumiPlugin.yaml): see infra/provider.py."""

from atlas_continuity.infra.provider import main

if __name__ == "__main__":
    main()
