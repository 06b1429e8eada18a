"""atlas-continuity runtime: replicated migration registry and grant caching for Atlas."""

__version__ = "0.2.0"
