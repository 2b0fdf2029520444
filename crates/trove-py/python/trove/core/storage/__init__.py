"""Compatibility namespace for storage constants."""

from . import paths

__all__ = ["paths"]
