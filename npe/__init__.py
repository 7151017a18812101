"""npe: the Neural Photo Editor. Importing this package stays cheap (no torch, no Qt)."""

__version__ = "0.1.0"
