"""Path objects for stored bytes: ``pathlib.Path`` for local storage; for buckets a
``upath.UPath`` when ``universal_pathlib`` is installed, else :class:`CloudPath`, a small
object of the same shape (``/``, ``name``, ``suffix``, ``stem``, ``exists()``, ``is_dir()``)."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path, PurePosixPath
from typing import Any, Union


class CloudPath:
    """A path in an object store (``s3://bucket/prefix/x.csv``) of ``pathlib``'s shape.

    ``exists()`` and ``is_dir()`` ask the instance that manages the location."""

    def __init__(self, url: str) -> None:
        scheme, sep, rest = url.partition("://")
        if not sep:
            raise ValueError(f"not an object URL: {url!r}")
        self._scheme = scheme
        self._rest = rest.rstrip("/")

    def __str__(self) -> str:
        return f"{self._scheme}://{self._rest}"

    def __repr__(self) -> str:
        return f"CloudPath({str(self)!r})"

    def __fspath__(self) -> str:  # pragma: no cover - cloud paths are not local
        raise TypeError(f"{self} is not a local path: use artifact.cache() for a local copy")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CloudPath) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __truediv__(self, other: Union[str, "PurePosixPath"]) -> "CloudPath":
        return CloudPath(f"{self}/{str(other).lstrip('/')}")

    @property
    def protocol(self) -> str:
        """The URL scheme (``s3``, ``gs``)."""
        return self._scheme

    @property
    def name(self) -> str:
        """The last segment."""
        return posixpath.basename(self._rest)

    @property
    def suffix(self) -> str:
        """The last suffix of the name, as ``pathlib``."""
        return PurePosixPath(self.name).suffix

    @property
    def stem(self) -> str:
        """The name without its last suffix, as ``pathlib``."""
        return PurePosixPath(self.name).stem

    @property
    def parent(self) -> "CloudPath":
        """The containing prefix."""
        return CloudPath(f"{self._scheme}://{posixpath.dirname(self._rest)}")

    def exists(self) -> bool:
        """Whether an object, or a folder of objects, is at this path."""
        from . import _state

        return _state.instance().path_exists(str(self)) is not None

    def is_dir(self) -> bool:
        """Whether a folder of objects is at this path."""
        from . import _state

        return _state.instance().path_exists(str(self)) == "dir"

    def is_file(self) -> bool:
        """Whether an object is at this path."""
        from . import _state

        return _state.instance().path_exists(str(self)) == "file"


def path_text(path: Any) -> str:
    """The text of a path argument: a local path (``str``, ``pathlib.Path``, any
    ``os.PathLike``) as the OS sees it, an object URL (:class:`CloudPath`, a ``UPath`` of a
    bucket, ``"s3://..."``) as its URL. Cloud paths are never asked for ``__fspath__``."""
    if isinstance(path, str):
        return path
    if isinstance(path, CloudPath) or getattr(path, "protocol", "") not in ("", "file", "local"):
        return str(path)
    if hasattr(path, "__fspath__"):
        return os.fspath(path)
    return str(path)


def make_path(text: str) -> Any:
    """The path object for a local path or an object URL."""
    if "://" not in text:
        return Path(text)
    try:
        from upath import UPath

        return UPath(text)
    except ImportError:
        return CloudPath(text)
