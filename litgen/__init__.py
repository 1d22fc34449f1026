"""litgen: scaffold PyTorch Lightning projects and convert raw PyTorch scripts, then prove they train."""

__version__ = "0.1.0"
