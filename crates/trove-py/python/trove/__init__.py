"""Trove: a data-artifact registry, with the reference system's (LaminDB's) artifact API.

Notebooks written for the reference run with ``import lamindb as ln`` changed to
``import trove as ln``::

    import trove as ln
    ln.setup.init(storage="./data")          # or ln.connect("./data")
    artifact = ln.Artifact("iris.csv", key="datasets/iris.csv").save()
    artifact.delete()                        # to the trash: hidden, restorable
    artifact.restore()
    ln.Artifact.filter(key__startswith="datasets/").to_dataframe()

The engine is Rust (one process-wide runtime; the GIL is released during every I/O call, so
threads save and load concurrently). The library never prompts and never prints.
"""

from __future__ import annotations

from . import core, errors
from ._artifact import AUTO_KEY_PREFIX, Artifact, Branch, QuerySet
from ._collection import Collection, ULabel
from ._native import __version__
from ._paths import make_path as UPath
from ._state import Storage, connect, settings, setup

Label = ULabel

__all__ = [
    "AUTO_KEY_PREFIX",
    "Artifact",
    "Branch",
    "Collection",
    "Label",
    "QuerySet",
    "Storage",
    "ULabel",
    "UPath",
    "__version__",
    "connect",
    "core",
    "errors",
    "settings",
    "setup",
]
