"""The current instance, ``trove.settings`` and ``trove.setup``."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Optional

from . import _native
from ._paths import make_path
from .errors import InstanceError

_lock = threading.Lock()
_current: Optional[_native.Instance] = None
_info: Optional[dict] = None


def _cli_current() -> Optional[str]:
    """The CLI's current instance (``$TROVE_CONFIG_DIR/config.json``), if any."""
    base = os.environ.get("TROVE_CONFIG_DIR")
    if base:
        path = Path(base) / "config.json"
    else:
        xdg = os.environ.get("XDG_CONFIG_HOME")
        path = (Path(xdg) if xdg else Path.home() / ".config") / "trove" / "config.json"
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("current")
    except (OSError, ValueError):
        return None


def _set(inst: _native.Instance) -> None:
    global _current, _info
    with _lock:
        _current = inst
        _info = inst.info()
        settings.creation.artifact_use_virtual_keys = bool(_info["keys_virtual"])


def instance() -> _native.Instance:
    """The current instance: the one ``setup.init``/``connect`` opened, else ``TROVE_INSTANCE``,
    else the CLI's current instance."""
    inst = _current
    if inst is not None:
        return inst
    location = os.environ.get("TROVE_INSTANCE") or _cli_current()
    if not location:
        raise InstanceError(
            "no current Trove instance: call trove.setup.init(storage=...) or trove.connect(...), "
            "set TROVE_INSTANCE, or run `trove init --storage DIR`"
        )
    _set(_native.connect(location))
    assert _current is not None
    return _current


def info() -> dict:
    """The current instance's description (refreshed when storage changes)."""
    instance()
    assert _info is not None
    return _info


def connect(instance: Optional[str] = None) -> None:
    """Connect to an existing instance: a root folder, a bucket URL or a catalog URL; ``None``
    uses ``TROVE_INSTANCE``, else the CLI's current instance."""
    location = instance or os.environ.get("TROVE_INSTANCE") or _cli_current()
    if not location:
        raise InstanceError("trove.connect() needs an instance: a root folder, a bucket URL or a catalog URL")
    _set(_native.connect(str(location)))


class _Setup:
    """``trove.setup``: create and delete instances."""

    @staticmethod
    def init(storage: Any, db: Optional[str] = None, name: Optional[str] = None, **_ignored: Any) -> None:
        """Create an instance at ``storage`` (a folder, ``s3://bucket/prefix``, ``gs://bucket/prefix``)
        with its catalog at ``db`` (default: an embedded SQLite file in the root) and connect to it.
        An existing instance at a shared catalog is attached to."""
        keys_virtual = settings.creation.artifact_use_virtual_keys
        _set(_native.init(str(storage), db, name, keys_virtual))

    @staticmethod
    def delete(instance: Optional[str] = None, force: bool = False, storage: str = "keep") -> None:
        """Delete an instance (``trove instance delete``): its catalog and markers. While it holds
        artifacts this is refused unless ``force``; their bytes are kept unless ``storage="delete"``."""
        global _current, _info
        target: Optional[_native.Instance] = None
        cur = _current
        if cur is not None and (instance is None or instance in _names(cur)):
            target = cur
        elif instance is not None:
            target = _native.connect(str(instance))
        if target is None:
            raise InstanceError("trove.setup.delete() needs an instance")
        target.delete_instance(force, storage)
        if target is cur:
            with _lock:
                _current = None
                _info = None

    @staticmethod
    def login(*_args: Any, **_kwargs: Any) -> None:
        """Accepted for compatibility; Trove has no hub account."""


def _names(inst: _native.Instance) -> set:
    i = inst.info()
    root = str(i["default_root"])
    names = {i["name"], i["uid"], i["location"], root, os.path.basename(root.rstrip("/"))}
    return {n for n in names if n}


class _StorageSettings:
    """``settings.storage``: the default storage location."""

    @property
    def root(self) -> Any:
        """The default storage root as a path object (``pathlib.Path`` for local roots)."""
        return make_path(info()["default_root"])

    @property
    def root_as_str(self) -> str:
        """The default storage root as text."""
        return str(info()["default_root"])

    def __truediv__(self, other: Any) -> Any:
        return self.root / other

    def __repr__(self) -> str:
        return f"StorageSettings(root={self.root_as_str!r})"


class _CreationSettings:
    """``settings.creation``: how new artifacts are created."""

    def __init__(self) -> None:
        self.artifact_use_virtual_keys: bool = True
        self.artifact_silence_missing_run_warning: bool = False

    @property
    def _artifact_use_virtual_keys(self) -> bool:
        return self.artifact_use_virtual_keys

    @_artifact_use_virtual_keys.setter
    def _artifact_use_virtual_keys(self, value: bool) -> None:
        self.artifact_use_virtual_keys = bool(value)


class _Settings:
    """``trove.settings``."""

    def __init__(self) -> None:
        self.storage = _StorageSettings()
        self.creation = _CreationSettings()

    @property
    def artifact_use_virtual_keys(self) -> bool:
        """Whether new keys are virtual (bytes in ``.trove/``) or real (bytes at the key)."""
        return self.creation.artifact_use_virtual_keys

    @artifact_use_virtual_keys.setter
    def artifact_use_virtual_keys(self, value: bool) -> None:
        self.creation.artifact_use_virtual_keys = bool(value)

    @property
    def instance(self) -> dict:
        """The current instance: uid, name, location, catalog backend, storages."""
        return dict(info())

    @property
    def user(self) -> str:
        """The handle recorded as ``created_by``."""
        return str(info()["user"])

    def __repr__(self) -> str:
        return f"Settings(instance={info()['location']!r})" if _current is not None else "Settings(not connected)"


settings = _Settings()
setup = _Setup()


class Storage:
    """The instance's storage locations: ``Storage.to_dataframe()`` (``df()``) lists them."""

    @classmethod
    def to_dataframe(cls, *_args: Any, **_kwargs: Any) -> Any:
        """The storage locations as a DataFrame: ``uid, root, type, instance_uid, managed,
        created_at``."""
        from ._frames import records_frame

        i = info()
        rows = []
        for s in i["storages"]:
            root = str(s["root"])
            rows.append(
                {
                    "id": s["id"],
                    "uid": s["uid"],
                    "root": root,
                    "type": root.split("://", 1)[0] if "://" in root else "local",
                    "instance_uid": i["uid"] if s["managed"] else None,
                    "managed": s["managed"],
                    "created_at": s["created_at"],
                }
            )
        return records_frame(rows, ["id", "uid", "root", "type", "instance_uid", "managed", "created_at"])

    df = to_dataframe
