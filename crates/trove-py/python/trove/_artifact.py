"""``trove.Artifact`` and its lazy query set, in the reference system's API shape."""

from __future__ import annotations

import os
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from . import _native, _state
from ._frames import from_stream, is_tabular, records_frame, to_stream
from ._paths import make_path, path_text
from .errors import AlreadyInTrashError, DoesNotExist, InvalidInputError, MultipleResultsFound

PathLike = Union[str, "os.PathLike[str]"]

#: Where artifacts without a real key keep their bytes, relative to the storage root.
AUTO_KEY_PREFIX = ".trove/"

#: The columns of ``QuerySet.to_dataframe()``.
COLUMNS = [
    "uid",
    "key",
    "description",
    "suffix",
    "kind",
    "otype",
    "size",
    "hash",
    "n_files",
    "n_observations",
    "version_tag",
    "is_latest",
    "created_at",
    "branch_id",
    "storage_id",
    "created_by_id",
]

_BRANCH_NAMES = {1: "main", 0: "archive", -1: "trash"}
_BRANCH_IDS = {v: k for k, v in _BRANCH_NAMES.items()}


class Branch:
    """A branch: ``id`` (1 main, 0 archive, -1 trash) and ``name``."""

    __slots__ = ("id", "name")

    def __init__(self, branch_id: int) -> None:
        self.id = branch_id
        self.name = _BRANCH_NAMES.get(branch_id) or _native.Instance.branch_name(branch_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Branch) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Branch(id={self.id}, name={self.name!r})"


def _ts(text: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(text) if text else None


def _with_suffix(name: str, old: str, new: str) -> str:
    return name[: len(name) - len(old)] + new if old and name.endswith(old) else name + new


class Artifact:
    """A file, folder or DataFrame registered in Trove.

    ``Artifact(path, key=None, description=None, kind=None, revises=None)`` registers nothing
    until :meth:`save`. Saving content identical to an existing artifact (same storage, not in
    the trash) returns that artifact: the object takes its uid and ``save()`` writes nothing.
    A path inside a registered storage location is registered in place (no copy).
    """

    DoesNotExist = DoesNotExist
    MultipleResultsFound = MultipleResultsFound

    def __init__(
        self,
        path: Any = None,
        key: Optional[str] = None,
        description: Optional[str] = None,
        kind: Optional[str] = None,
        revises: Optional["Artifact"] = None,
        *,
        data: Any = None,
        **kwargs: Any,
    ) -> None:
        if path is None and data is not None:
            path = data
        if path is None:
            raise ValueError("Artifact() needs a path, a URI, or data")
        unknown = set(kwargs) - {"run", "version", "version_tag", "otype"}
        if unknown:
            raise TypeError(f"Artifact() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
        self._rec: Optional[dict] = None
        self._deleted = False
        self._version_tag: Optional[str] = kwargs.get("version_tag") or kwargs.get("version")
        self._key = key
        self._description = description
        self._kind = kind
        self._revises = revises.uid if isinstance(revises, Artifact) else revises
        if isinstance(revises, Artifact) and key is None and description is None:
            # A new version carries its family's key (or description), as in the reference.
            self._key, self._description = revises.key, revises.description
        self._staged: Optional[Tuple[str, Any, str]] = None
        self._pending_branch: Optional[int] = None
        # The suffix of a path is worked out only if asked for before save() (the record has it).
        self._suffix: Optional[str] = None
        if isinstance(path, str):
            self._source: Tuple[str, Any] = ("path", path)
        elif is_tabular(path):
            self._source = ("arrow", to_stream(path))
            self._suffix = ".parquet"
        else:
            self._source = ("path", path_text(path))

    # ----- construction -----

    @classmethod
    def _from_record(cls, rec: dict) -> "Artifact":
        self = cls.__new__(cls)
        self._rec = rec
        self._deleted = False
        self._version_tag = None
        self._key = rec["key"]
        self._description = rec["description"]
        self._kind = rec["kind"]
        self._revises = None
        self._staged = None
        self._pending_branch = None
        self._source = ("saved", None)
        self._suffix = rec["suffix"]
        return self

    @classmethod
    def from_dataframe(
        cls,
        df: Any,
        key: Optional[str] = None,
        description: Optional[str] = None,
        revises: Optional["Artifact"] = None,
        **kwargs: Any,
    ) -> "Artifact":
        """A pandas, polars or pyarrow table, stored as Parquet (``otype="DataFrame"``,
        ``kind="dataset"``, ``n_observations`` = rows). Registers nothing until ``save()``."""
        if not is_tabular(df):
            raise TypeError(f"from_dataframe() needs a DataFrame or table, got {type(df).__name__}")
        kwargs.pop("schema", None)
        kind = kwargs.pop("kind", "dataset")
        return cls(df, key=key, description=description, kind=kind, revises=revises, **kwargs)

    from_df = from_dataframe

    # ----- attributes -----

    def _field(self, name: str) -> Any:
        return self._rec[name] if self._rec is not None else None

    @property
    def uid(self) -> Optional[str]:
        """The 20-character uid (``None`` until saved)."""
        return self._field("uid")

    @property
    def stem_uid(self) -> Optional[str]:
        """The family's 16-character stem."""
        uid = self.uid
        return uid[:16] if uid else None

    @property
    def key(self) -> Optional[str]:
        """The key (a staged replace with a new suffix shows the key it will have)."""
        key = self._rec["key"] if self._rec is not None else self._key
        if key and self._staged is not None and self._rec is not None:
            return _with_suffix(key, self._rec["suffix"], self._staged[2])
        return key

    @property
    def description(self) -> Optional[str]:
        """The description."""
        return self._rec["description"] if self._rec is not None else self._description

    @property
    def suffix(self) -> str:
        """The canonical suffix (``.csv``, ``.ome.zarr``, or empty)."""
        if self._staged is not None:
            return self._staged[2]
        if self._rec is not None:
            return self._rec["suffix"]
        if self._suffix is None:
            self._suffix = _native.suffix_of(os.path.basename(str(self._source[1]).rstrip("/")))
        return self._suffix

    @property
    def kind(self) -> Optional[str]:
        """Free text such as ``dataset`` or ``model``."""
        return self._rec["kind"] if self._rec is not None else self._kind

    type = kind

    @property
    def otype(self) -> Optional[str]:
        """``DataFrame`` for tabular artifacts."""
        if self._rec is not None:
            return self._rec["otype"]
        return "DataFrame" if self._source[0] == "arrow" else None

    @property
    def size(self) -> Optional[int]:
        """Bytes (the sum over files for folders)."""
        return self._field("size")

    @property
    def hash(self) -> Optional[str]:
        """The 22-character content hash."""
        return self._field("hash")

    @property
    def n_files(self) -> Optional[int]:
        """Files, for folders."""
        return self._field("n_files")

    @property
    def n_observations(self) -> Optional[int]:
        """Rows, for DataFrames."""
        return self._field("n_observations")

    @property
    def version_tag(self) -> Optional[str]:
        """The version's label, if any."""
        return self._field("version_tag") if self._rec is not None else self._version_tag

    version = version_tag

    @property
    def is_latest(self) -> Optional[bool]:
        """Whether this is its family's head on its branch."""
        return self._field("is_latest")

    @property
    def branch_id(self) -> Optional[int]:
        """1 main, 0 archive, -1 trash. Set it and ``save()`` to move the record."""
        if self._pending_branch is not None:
            return self._pending_branch
        return self._field("branch_id") if self._rec is not None else 1

    @branch_id.setter
    def branch_id(self, value: int) -> None:
        if value not in (1, 0, -1):
            raise ValueError(f"branch_id must be 1 (main), 0 (archive) or -1 (trash), not {value!r}")
        self._pending_branch = value

    @property
    def branch(self) -> Branch:
        """The branch, with ``.name``."""
        return Branch(self.branch_id if self.branch_id is not None else 1)

    @property
    def storage_id(self) -> Optional[int]:
        """The storage location's id."""
        return self._field("storage_id")

    @property
    def storage(self) -> Any:
        """The storage location's root as a path object."""
        root = self._field("storage_root")
        return make_path(root) if root else None

    @property
    def created_by(self) -> Optional[str]:
        """The handle of the user who created it."""
        return self._field("created_by")

    @property
    def created_at(self) -> Optional[datetime]:
        """When it was created (UTC)."""
        return _ts(self._field("created_at"))

    @property
    def updated_at(self) -> Optional[datetime]:
        """When it last changed (UTC)."""
        return _ts(self._field("updated_at"))

    @property
    def path(self) -> Any:
        """A path object of the stored bytes (``pathlib.Path`` on local storage)."""
        self._require_saved("path")
        p = self._rec["path"]  # type: ignore[index]
        if p is None:
            raise DoesNotExist(f"the storage location of {self._label()} is not open in this session")
        return make_path(p.rstrip("/") if self._rec["is_folder"] else p)  # type: ignore[index]

    @property
    def _real_key(self) -> Optional[str]:
        """Where the bytes live relative to the storage root (after a staged replace, where they
        will live)."""
        if self._rec is None:
            return None
        real = self._rec["real_path"] or self._rec["storage_key"]
        if self._staged is not None:
            return _with_suffix(real, self._rec["suffix"], self._staged[2])
        return real

    @property
    def _clear_storagekey(self) -> Optional[str]:
        """The storage key a staged replace will delete on ``save()`` (a suffix change)."""
        if self._rec is None or self._staged is None or self._staged[2] == self._rec["suffix"]:
            return None
        return self._rec["real_path"] or self._rec["storage_key"]

    @property
    def _cache_path(self) -> Any:
        """Where the cache copy of a cloud artifact is (or would be); the stored path locally."""
        self._require_saved("_cache_path")
        p = _state.instance().cache_path(self._rec["uid"])  # type: ignore[index]
        return Path(p) if p is not None else self.path

    @property
    def versions(self) -> "QuerySet":
        """Every version of this artifact's family on main, oldest first."""
        self._require_saved("versions")
        return QuerySet({"uid__startswith": self.stem_uid}, order="version")

    # ----- lifecycle -----

    def save(self) -> "Artifact":
        """Commit: register the artifact, or apply a staged ``replace()`` or ``branch_id``
        change. Returns the artifact."""
        inst = _state.instance()
        if self._deleted:
            raise DoesNotExist(f"{self._label()} was deleted permanently; create a new artifact")
        if self._rec is None:
            if self._key is None and self._description is None and self._revises is None:
                raise InvalidInputError(
                    "an artifact needs a key or a description: pass key='folder/name.ext' or description='...'"
                )
            real_key = None if _state.settings.creation.artifact_use_virtual_keys else True
            kind, src = self._source
            if kind == "arrow":
                _, rec = inst.save_arrow(src, self._key, self._description, self._kind, self._revises, real_key)
            else:
                _, rec = inst.save_path(src, self._key, self._description, self._kind, self._revises, real_key)
            self._rec = rec
        elif self._staged is not None:
            how, src, _suffix = self._staged
            if how == "arrow":
                _, rec = inst.replace_arrow(self._rec["uid"], src)
            else:
                _, rec = inst.replace_path(self._rec["uid"], src)
            self._rec = rec
            self._staged = None
        if self._pending_branch is not None and self._pending_branch != self._rec["branch_id"]:
            target = self._pending_branch
            self._pending_branch = None
            self._move(target)
        self._pending_branch = None
        return self

    def _move(self, target: int) -> None:
        inst = _state.instance()
        uid = self._rec["uid"]  # type: ignore[index]
        current = self._rec["branch_id"]  # type: ignore[index]
        if target == -1:
            self._rec = inst.trash([uid])[0]
        elif target == 0:
            if current == -1:
                self._rec = inst.restore([uid])[0]
            if self._rec["branch_id"] != 0:  # type: ignore[index]
                self._rec = inst.archive([uid])[0]
        else:
            self._rec = inst.restore([uid])[0]
            if self._rec["branch_id"] == 0:
                self._rec = inst.restore([uid])[0]

    def delete(self, permanent: Optional[bool] = None, storage: Optional[bool] = None) -> None:
        """Move the artifact to the trash, or with ``permanent=True`` delete it at once.

        ``storage``: ``True`` deletes the bytes, ``False`` keeps them, ``None`` (auto) deletes
        managed bytes and keeps bytes at a real key or registered in place.

        **Trove:** a plain ``delete()`` of an artifact already in the trash does not prompt (the
        library never prompts): it raises :class:`trove.errors.AlreadyInTrashError` (a
        ``PermissionError``) saying to pass ``permanent=True``.
        """
        if self._rec is None and not self._deleted:
            warnings.warn("the artifact is not saved: nothing to delete", UserWarning, stacklevel=2)
            return
        self._require_saved("delete")
        inst = _state.instance()
        uid = self._rec["uid"]  # type: ignore[index]
        if permanent:
            inst.delete_permanently([uid], storage)
            self._deleted = True
            return
        try:
            self._rec = inst.trash([uid])[0]
        except AlreadyInTrashError as e:
            raise AlreadyInTrashError(
                f"{self._label()} is already in the trash; delete it permanently with "
                f"artifact.delete(permanent=True) (Trove never asks for confirmation). {e}"
            ) from None

    def restore(self) -> "Artifact":
        """Bring the artifact back from the trash (to the branch it came from) or the archive."""
        self._require_saved("restore")
        self._rec = _state.instance().restore([self._rec["uid"]])[0]  # type: ignore[index]
        return self

    def archive(self) -> "Artifact":
        """Move the artifact to the archive (kept, hidden from default queries)."""
        self._require_saved("archive")
        self._rec = _state.instance().archive([self._rec["uid"]])[0]  # type: ignore[index]
        return self

    def replace(self, path: Any = None, data: Any = None, **_kwargs: Any) -> "Artifact":
        """Stage new content (a local file or folder, or ``data=`` a DataFrame) for ``save()``:
        same uid, same version. A folder replaces only a folder and a file only a file; a path
        inside any registered storage is refused (``ValueError``). A new suffix changes the
        key's suffix (and a real path's) on save, and the old bytes are deleted then. Returns the
        artifact itself (also when the content is the same: ``save()`` then changes nothing).
        """
        self._require_saved("replace")
        rec = self._rec
        assert rec is not None
        content = data if data is not None else path
        if content is None:
            raise ValueError("replace() needs a path or data=")
        if is_tabular(content):
            if rec["is_folder"]:
                raise ValueError(f"{self._label()} is a folder. It is not allowed to replace a folder with a file.")
            self._staged = ("arrow", to_stream(content), ".parquet")
            return self
        text = path_text(content)
        self._check_outside_storage(text)
        is_dir = os.path.isdir(text)
        if rec["is_folder"] and not is_dir and os.path.exists(text):
            raise ValueError(f"{self._label()} is a folder. It is not allowed to replace a folder with a file.")
        if not rec["is_folder"] and is_dir:
            raise ValueError(f"{self._label()} is a file. It is not allowed to replace a file with a folder.")
        self._staged = ("path", text, _native.suffix_of(os.path.basename(text.rstrip("/"))))
        return self

    def _check_outside_storage(self, text: str) -> None:
        roots = [s["root"] for s in _state.info()["storages"]]
        if "://" in text:
            inside = [r for r in roots if text.rstrip("/").startswith(r.rstrip("/") + "/")]
        else:
            full = os.path.realpath(os.path.abspath(text))
            inside = [
                r
                for r in roots
                if "://" not in r and (full + os.sep).startswith(os.path.realpath(r).rstrip(os.sep) + os.sep)
            ]
        if inside:
            raise ValueError(
                f"Can only replace with a local path not in any Storage. {text} is inside the storage location "
                f"{inside[0]}; copy it out first, or register it as a new artifact"
            )

    # ----- content -----

    def cache(self, **_kwargs: Any) -> Path:
        """A local path to the content: on local storage the stored file or folder itself; on
        cloud storage the cache copy (downloaded or refreshed first)."""
        self._require_saved("cache")
        return Path(_state.instance().cache(self._rec["uid"]))  # type: ignore[index]

    def load(self, **_kwargs: Any) -> Any:
        """Parquet and CSV as a pandas DataFrame (a pyarrow table if pandas is absent); other
        files as bytes."""
        self._require_saved("load")
        rec = self._rec
        assert rec is not None
        if not rec["is_folder"] and rec["suffix"] in (".parquet", ".csv", ".tsv"):
            return from_stream(_state.instance().load_arrow(rec["uid"]))
        if rec["is_folder"]:
            raise ValueError(f"{self._label()} is a folder: use .cache() for its local path or .open() to read it")
        return _state.instance().read_bytes(rec["uid"])

    def open(self, mode: str = "r", **_kwargs: Any) -> Any:
        """A reader that does not download the whole content: a ``pyarrow.parquet.ParquetFile``
        for Parquet (ranged reads), a binary file object for other files, a read-only store of
        the files for folders."""
        self._require_saved("open")
        if mode not in ("r", "rb"):
            raise ValueError(f"artifacts open read-only; mode {mode!r} is not supported")
        from ._readers import FolderStore, RangeFile

        rec = self._rec
        assert rec is not None
        if rec["is_folder"]:
            return FolderStore(rec["uid"], _state.instance())
        f = RangeFile(rec["uid"], rec["size"], _state.instance())
        if rec["suffix"] == ".parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(f)
        return f

    # ----- lookups -----

    @classmethod
    def get(cls, idlike: Optional[str] = None, *, key: Optional[str] = None, **fields: Any) -> "Artifact":
        """One artifact: by uid (that version, any branch), by 16-character stem (the family's
        head), or ``key=`` (the latest version on main), or by filter fields (exactly one match).
        Missing: :class:`Artifact.DoesNotExist` (a ``LookupError``)."""
        if idlike is not None and not fields and key is None:
            return cls._from_record(_state.instance().get(str(idlike)))
        if key is not None and not fields and idlike is None:
            return cls._from_record(_state.instance().get(key))
        if idlike is not None:
            fields["uid"] = idlike
        if key is not None:
            fields["key"] = key
        return QuerySet(fields).one()

    @classmethod
    def filter(cls, *queries: Any, **fields: Any) -> "QuerySet":
        """A lazy query set. Fields: ``uid, key, key__startswith, description,
        description__contains, suffix, kind, otype, hash, is_latest, branch_id, branch__name,
        branch_id__in, created_at__gt/__lt, ulabels``; main only unless ``branch_id=None`` /
        ``branch=None`` / ``visibility=None`` (all branches) or a branch is named."""
        if queries:
            raise TypeError("positional query expressions are not supported: use keyword fields")
        return QuerySet(fields)

    @classmethod
    def all(cls) -> "QuerySet":
        """Every artifact on main."""
        return QuerySet({})

    @classmethod
    def to_dataframe(cls, *args: Any, **kwargs: Any) -> Any:
        """The default listing (main) as a DataFrame."""
        return QuerySet({}).to_dataframe()

    df = to_dataframe

    # ----- labels -----

    @property
    def ulabels(self) -> "_LabelManager":
        """The artifact's labels: ``.add(label)``, ``.remove(label)``, ``.all()``."""
        self._require_saved("ulabels")
        return _LabelManager(self)

    labels = ulabels

    # ----- plumbing -----

    def _require_saved(self, what: str) -> None:
        if self._deleted:
            raise DoesNotExist(f"{self._label()} was deleted permanently")
        if self._rec is None:
            raise ValueError(f"{what}: the artifact is not saved yet; call .save() first")

    def _saved_uid(self, what: str) -> str:
        """The uid of a saved artifact (``ValueError`` for an unsaved one)."""
        self._require_saved(what)
        assert self._rec is not None
        return str(self._rec["uid"])

    def _label(self) -> str:
        if self._rec is None:
            return "the unsaved artifact"
        name = self._rec["key"] or self._rec["description"] or ""
        return f"artifact '{name}' ({self._rec['uid']})"

    def _record_row(self) -> dict:
        row = dict(self._rec or {})
        row["created_by_id"] = row.get("created_by")
        return row

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Artifact):
            return NotImplemented
        if self is other:
            return True
        return self._rec is not None and other._rec is not None and self._rec["uid"] == other._rec["uid"]

    def __hash__(self) -> int:
        return hash(self._rec["uid"]) if self._rec is not None else id(self)

    def __repr__(self) -> str:
        fields = ["uid", "key", "description", "suffix", "kind", "otype", "size", "hash", "n_files",
                  "n_observations", "branch_id", "storage_id", "created_by", "created_at", "version_tag",
                  "is_latest"]  # fmt: skip
        parts = []
        for f in fields:
            v = getattr(self, f)
            if isinstance(v, datetime):
                v = v.strftime("%Y-%m-%d %H:%M:%S UTC")
                parts.append(f"{f}={v}")
            else:
                parts.append(f"{f}={v!r}")
        return f"Artifact({', '.join(parts)})"


class _LabelManager:
    def __init__(self, artifact: Artifact) -> None:
        self._artifact = artifact

    def add(self, *labels: Any) -> None:
        """Attach labels (``ULabel`` objects or names)."""
        uid = self._artifact._saved_uid("labels.add")
        for label in labels:
            for one in label if isinstance(label, (list, tuple)) else [label]:
                _state.instance().label_link(_label_name(one), [uid], True)

    def remove(self, *labels: Any) -> None:
        """Detach labels."""
        uid = self._artifact._saved_uid("labels.remove")
        for label in labels:
            _state.instance().label_link(_label_name(label), [uid], False)

    def all(self) -> List[Any]:
        """The labels attached."""
        from ._collection import ULabel

        return [ULabel._from_record(r) for r in _state.instance().labels_of(self._artifact._saved_uid("labels.all"))]

    def list(self, field: Optional[str] = None) -> List[Any]:
        """The labels (or one field of each)."""
        labels = self.all()
        return [getattr(lbl, field) for lbl in labels] if field else labels

    def __iter__(self) -> Iterator[Any]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self.all())


def _label_name(label: Any) -> str:
    return label if isinstance(label, str) else str(label.name)


# ----- query sets -----

_NATIVE_FIELDS = {"uid", "key", "key__startswith", "hash", "uid__in"}


def _branch_of(fields: Dict[str, Any]) -> Tuple[Optional[str], Optional[Callable[[dict], bool]]]:
    """The native branch selection and, for `branch_id__in`, a predicate."""
    for name in ("visibility", "branch_id", "branch"):
        if name in fields:
            v = fields.pop(name)
            if v is None:
                return "all", None
            if isinstance(v, Branch):
                v = v.id
            if isinstance(v, str):
                return v, None
            return str(_BRANCH_NAMES.get(int(v), int(v))), None
    if "branch__name" in fields:
        return str(fields.pop("branch__name")), None
    for name in ("branch_id__in", "visibility__in"):
        if name in fields:
            wanted = {int(b) for b in fields.pop(name)}
            return "all", lambda r, wanted=wanted: r["branch_id"] in wanted
    return None, None


class QuerySet:
    """A lazy selection of artifacts: nothing is read until it is iterated, counted or
    converted. ``to_dataframe()`` (``df()``), ``first()``, ``one()``, ``one_or_none()``,
    ``all()``, ``count()``, ``len()``, iteration, ``order_by()``, and bulk ``delete()`` and
    ``restore()`` (one transaction per batch)."""

    def __init__(self, fields: Dict[str, Any], order: Optional[str] = None) -> None:
        self._fields = dict(fields)
        self._order = order
        self._reverse = False
        self._sort_field: Optional[str] = None

    def _query(self) -> Tuple[dict, List[Callable[[dict], bool]]]:
        fields = dict(self._fields)
        branch, pred = _branch_of(fields)
        native: Dict[str, Any] = {"branch": branch}
        preds: List[Callable[[dict], bool]] = [pred] if pred else []
        labels = fields.pop("ulabels", None) or fields.pop("labels", None)
        if labels is not None:
            native["labels"] = [_label_name(lbl) for lbl in (labels if isinstance(labels, (list, tuple)) else [labels])]
        for name, value in fields.items():
            if name == "uid":
                if len(value) == 16:
                    native["stem"] = value
                else:
                    native["uids"] = [value]
            elif name == "uid__in":
                native["uids"] = [str(u) for u in value]
            elif name == "uid__startswith" and len(value) == 16:
                native["stem"] = value
            elif name == "key":
                native["key"] = value
            elif name == "key__startswith":
                native["key_prefix"] = value
            elif name == "hash":
                native["hash"] = value
            elif name == "is_latest" and value is True:
                native["latest_only"] = True
            else:
                preds.append(_predicate(name, value))
        if self._order:
            native["order"] = self._order
        return native, preds

    def _records(self) -> List[dict]:
        native, preds = self._query()
        rows = _state.instance().list(**native)
        rows = [r for r in rows if all(p(r) for p in preds)]
        if self._sort_field:
            key = self._sort_field
            rows.sort(key=lambda r: (r.get(key) is None, r.get(key)), reverse=self._reverse)
        return rows

    def order_by(self, field: str) -> "QuerySet":
        """Sort by a field (``-field`` for descending)."""
        qs = QuerySet(self._fields, self._order)
        qs._reverse = field.startswith("-")
        qs._sort_field = field.lstrip("-")
        return qs

    def filter(self, **fields: Any) -> "QuerySet":
        """Narrow the selection."""
        merged = dict(self._fields)
        merged.update(fields)
        qs = QuerySet(merged, self._order)
        qs._reverse, qs._sort_field = self._reverse, self._sort_field
        return qs

    def all(self) -> "QuerySet":
        """This query set."""
        return self

    def __iter__(self) -> Iterator[Artifact]:
        return iter([Artifact._from_record(r) for r in self._records()])

    def list(self, field: Optional[str] = None) -> List[Any]:
        """The artifacts (or one field of each) as a list."""
        arts = list(self)
        return [getattr(a, field) for a in arts] if field else arts

    def __len__(self) -> int:
        return self.count()

    def count(self) -> int:
        """How many artifacts match."""
        native, preds = self._query()
        if not preds:
            return int(_state.instance().list(**native, count_only=True))
        return len(self._records())

    def exists(self) -> bool:
        """Whether any artifact matches."""
        return self.count() > 0

    def __getitem__(self, i: Any) -> Any:
        arts = list(self)
        return arts[i]

    def first(self) -> Optional[Artifact]:
        """The first match, or ``None``."""
        rows = self._records()
        return Artifact._from_record(rows[0]) if rows else None

    def last(self) -> Optional[Artifact]:
        """The last match, or ``None``."""
        rows = self._records()
        return Artifact._from_record(rows[-1]) if rows else None

    def one(self) -> Artifact:
        """Exactly one match: else :class:`DoesNotExist` or :class:`MultipleResultsFound`."""
        rows = self._records()
        if not rows:
            raise DoesNotExist(f"no artifact matches {self._describe()}")
        if len(rows) > 1:
            raise MultipleResultsFound(f"{len(rows)} artifacts match {self._describe()}; expected exactly one")
        return Artifact._from_record(rows[0])

    def one_or_none(self) -> Optional[Artifact]:
        """One match, ``None`` for none; more than one is :class:`MultipleResultsFound`."""
        try:
            return self.one()
        except DoesNotExist:
            return None

    def to_dataframe(self, *args: Any, **kwargs: Any) -> Any:
        """The matches as a pandas DataFrame (columns: ``uid, key, description, suffix, kind,
        otype, size, hash, n_files, n_observations, version_tag, is_latest, created_at,
        branch_id, storage_id, created_by_id``)."""
        rows = self._records()
        for r in rows:
            r["created_by_id"] = r.get("created_by")
        return records_frame(rows, COLUMNS)

    df = to_dataframe

    def delete(self, permanent: Optional[bool] = None, storage: Optional[bool] = None) -> None:
        """Trash every match (one transaction), or with ``permanent=True`` delete them all at
        once. As for one artifact, trashed records need ``permanent=True`` (no prompt)."""
        rows = self._records()
        uids = [r["uid"] for r in rows]
        if not uids:
            return
        inst = _state.instance()
        if permanent:
            inst.delete_permanently(uids, storage)
            return
        trashed = [r["uid"] for r in rows if r["branch_id"] == -1]
        if trashed:
            raise AlreadyInTrashError(
                f"{len(trashed)} of the {len(uids)} artifacts are already in the trash ({', '.join(trashed[:5])}); "
                "delete them permanently with .delete(permanent=True) (Trove never asks for confirmation)"
            )
        inst.trash(uids)

    def restore(self) -> None:
        """Restore every match (one transaction)."""
        uids = [r["uid"] for r in self._records()]
        if uids:
            _state.instance().restore(uids)

    def _describe(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._fields.items()) or "the default view"

    def __repr__(self) -> str:
        return f"QuerySet({self._describe()})"


def _predicate(name: str, value: Any) -> Callable[[dict], bool]:
    field, _, op = name.partition("__")
    if field == "created_by_id":
        field = "created_by"
    if field in ("created_at", "updated_at") and op in ("gt", "lt", "gte", "lte"):
        bound = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))

        def cmp(r: dict) -> bool:
            t = datetime.fromisoformat(r[field])
            b = bound if bound.tzinfo else bound.replace(tzinfo=t.tzinfo)
            return {"gt": t > b, "lt": t < b, "gte": t >= b, "lte": t <= b}[op]

        return cmp
    if field not in COLUMNS and field not in ("is_latest", "created_by", "storage_id", "trashed_from"):
        raise ValueError(f"unknown filter field {name!r}: use one of {', '.join(COLUMNS)}")
    if op == "":
        return lambda r: r.get(field) == value
    if op == "contains":
        return lambda r: r.get(field) is not None and str(value) in r[field]
    if op == "icontains":
        return lambda r: r.get(field) is not None and str(value).lower() in r[field].lower()
    if op == "startswith":
        return lambda r: r.get(field) is not None and r[field].startswith(str(value))
    if op == "endswith":
        return lambda r: r.get(field) is not None and r[field].endswith(str(value))
    if op == "in":
        wanted = list(value)
        return lambda r: r.get(field) in wanted
    if op == "isnull":
        return lambda r: (r.get(field) is None) == bool(value)
    if op in ("gt", "lt", "gte", "lte"):
        return lambda r: (
            r.get(field) is not None
            and {
                "gt": r[field] > value,
                "lt": r[field] < value,
                "gte": r[field] >= value,
                "lte": r[field] <= value,
            }[op]
        )
    raise ValueError(f"unsupported filter {name!r}")
