"""Compatibility namespace: ``trove.core.storage.paths.AUTO_KEY_PREFIX``."""

from . import storage

__all__ = ["storage"]
