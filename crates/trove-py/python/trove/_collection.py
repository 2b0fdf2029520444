"""``trove.Collection`` and ``trove.ULabel``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, List, Optional

from . import _state
from ._artifact import Artifact, Branch, QuerySet
from .errors import AlreadyInTrashError, DoesNotExist


class Collection:
    """A named, versioned set of artifacts. ``Collection(artifacts, key=..., description=...)``
    registers nothing until ``save()``; identical membership returns the existing collection."""

    DoesNotExist = DoesNotExist

    def __init__(
        self,
        artifacts: Any,
        key: Optional[str] = None,
        description: Optional[str] = None,
        **_kwargs: Any,
    ) -> None:
        artifacts = [artifacts] if isinstance(artifacts, Artifact) else list(artifacts)
        if any(isinstance(a, Artifact) and a.uid is None for a in artifacts):
            raise ValueError("save every artifact before putting it into a collection")
        self._members: List[str] = _members(artifacts)
        self._key = key
        self._description = description
        self._rec: Optional[dict] = None
        self._deleted = False

    @classmethod
    def _from_record(cls, rec: dict) -> "Collection":
        self = cls.__new__(cls)
        self._members = list(rec["members"])
        self._key = rec["key"]
        self._description = rec["description"]
        self._rec = rec
        self._deleted = False
        return self

    @property
    def uid(self) -> Optional[str]:
        """The uid (``None`` until saved)."""
        return self._rec["uid"] if self._rec else None

    @property
    def key(self) -> Optional[str]:
        """The key."""
        return self._rec["key"] if self._rec else self._key

    @property
    def description(self) -> Optional[str]:
        """The description."""
        return self._rec["description"] if self._rec else self._description

    @property
    def hash(self) -> Optional[str]:
        """The hash of the members' hashes."""
        return self._rec["hash"] if self._rec else None

    @property
    def is_latest(self) -> Optional[bool]:
        """Whether this is the family's head."""
        return self._rec["is_latest"] if self._rec else None

    @property
    def branch_id(self) -> int:
        """1 main, 0 archive, -1 trash."""
        return self._rec["branch_id"] if self._rec else 1

    @property
    def branch(self) -> Branch:
        """The branch, with ``.name``."""
        return Branch(self.branch_id)

    @property
    def created_at(self) -> Optional[datetime]:
        """When it was created."""
        return datetime.fromisoformat(self._rec["created_at"]) if self._rec else None

    @property
    def artifacts(self) -> QuerySet:
        """The member artifacts as a query set (on any branch)."""
        return QuerySet({"uid__in": list(self._members), "branch_id": None})

    def ordered_artifacts(self) -> List[Artifact]:
        """The members in collection order."""
        self._require_saved()
        return [Artifact._from_record(r) for r in _state.instance().collection_members(self._saved_uid())]

    def save(self) -> "Collection":
        """Register the collection (or find the identical one)."""
        if self._rec is None:
            _, self._rec = _state.instance().create_collection(self._members, self._key, self._description)
        return self

    def delete(self, permanent: Optional[bool] = None, **_kwargs: Any) -> None:
        """Trash the collection, or with ``permanent=True`` delete it (its artifacts stay).
        A plain ``delete()`` of a trashed collection raises ``AlreadyInTrashError`` (no prompt)."""
        self._require_saved()
        inst = _state.instance()
        if permanent:
            inst.collections_op("delete", [self._saved_uid()])
            self._deleted = True
            return
        if self.branch_id == -1:
            raise AlreadyInTrashError(
                f"collection {self.uid} is already in the trash; delete it with .delete(permanent=True)"
            )
        inst.collections_op("trash", [self._saved_uid()])
        self._refresh()

    def restore(self) -> "Collection":
        """Bring the collection back from the trash or the archive."""
        self._require_saved()
        _state.instance().collections_op("restore", [self._saved_uid()])
        self._refresh()
        return self

    def _refresh(self) -> None:
        self._rec = _state.instance().get_collection(self._saved_uid())

    def _require_saved(self) -> None:
        if self._deleted:
            raise DoesNotExist("the collection was deleted permanently")
        if self._rec is None:
            raise ValueError("the collection is not saved yet; call .save() first")

    def _saved_uid(self) -> str:
        """The uid of a saved collection (``ValueError`` for an unsaved one)."""
        self._require_saved()
        assert self._rec is not None
        return str(self._rec["uid"])

    @classmethod
    def get(cls, idlike: Optional[str] = None, *, key: Optional[str] = None) -> "Collection":
        """One collection by uid, stem or key."""
        loc = idlike or key
        if loc is None:
            raise ValueError("Collection.get() needs a uid or key=")
        return cls._from_record(_state.instance().get_collection(loc))

    @classmethod
    def filter(cls, key: Optional[str] = None, branch_id: Any = 1, **_kwargs: Any) -> List["Collection"]:
        """Collections on main (``branch_id=None`` for all branches), optionally by key."""
        branch: Optional[str] = None
        if branch_id is None:
            branch = "all"
        elif branch_id != 1:
            branch = {"0": "archive", "-1": "trash"}.get(str(branch_id), str(branch_id))
        return [cls._from_record(r) for r in _state.instance().list_collections(branch, key)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Collection) and (self is other or (self.uid is not None and self.uid == other.uid))

    def __hash__(self) -> int:
        return hash(self.uid) if self.uid else id(self)

    def __repr__(self) -> str:
        return (
            f"Collection(uid={self.uid!r}, key={self.key!r}, description={self.description!r}, n={len(self._members)})"
        )


class ULabel:
    """A label: ``ULabel(name="x").save()``, attached with ``artifact.ulabels.add(label)``."""

    DoesNotExist = DoesNotExist

    def __init__(self, name: str, description: Optional[str] = None, **_kwargs: Any) -> None:
        self.name = name
        self.description = description
        self._rec: Optional[dict] = None

    @classmethod
    def _from_record(cls, rec: dict) -> "ULabel":
        self = cls(rec["name"], rec["description"])
        self._rec = rec
        return self

    @property
    def branch_id(self) -> int:
        """1 main, 0 archive, -1 trash."""
        return self._rec["branch_id"] if self._rec else 1

    @property
    def artifacts(self) -> QuerySet:
        """The artifacts carrying this label."""
        return QuerySet({"ulabels": self.name})

    def save(self) -> "ULabel":
        """Register the label (an existing label of that name is returned)."""
        self._rec = _state.instance().create_label(self.name, self.description)
        return self

    def delete(self, permanent: Optional[bool] = None, **_kwargs: Any) -> None:
        """Trash the label, or with ``permanent=True`` delete it."""
        _state.instance().labels_op("delete" if permanent else "trash", [self.name])
        if not permanent:
            self._rec = _state.instance().get_label(self.name)

    def restore(self) -> "ULabel":
        """Bring the label back."""
        _state.instance().labels_op("restore", [self.name])
        self._rec = _state.instance().get_label(self.name)
        return self

    @classmethod
    def get(cls, name: str) -> "ULabel":
        """One label by name."""
        return cls._from_record(_state.instance().get_label(name))

    @classmethod
    def filter(cls, **_kwargs: Any) -> List["ULabel"]:
        """Labels on main."""
        return [cls._from_record(r) for r in _state.instance().list_labels(None)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ULabel) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"ULabel(name={self.name!r}, description={self.description!r})"


def _members(items: Iterable[Any]) -> List[str]:
    return [a._saved_uid("a collection member") if isinstance(a, Artifact) else str(a) for a in items]
