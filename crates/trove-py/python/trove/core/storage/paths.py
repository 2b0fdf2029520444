"""Storage path constants."""

from ..._artifact import AUTO_KEY_PREFIX

__all__ = ["AUTO_KEY_PREFIX"]
