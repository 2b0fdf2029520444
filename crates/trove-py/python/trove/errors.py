"""Trove's exceptions.

Each class is also the built-in exception Python users already catch:

=========================  ==========================  ==============================================
class                      also a                      raised when
=========================  ==========================  ==============================================
``InvalidInputError``      ``ValueError``              a bad key, argument or source
``SourceNotFoundError``    ``FileNotFoundError``       a path to save or replace from does not exist
``DoesNotExist``           ``LookupError``             no record matches (``Artifact.DoesNotExist``)
``MultipleResultsFound``   ``LookupError``             ``.one()`` matched more than one record
``NotAllowedError``        ``PermissionError``         not allowed in the record's current state
``AlreadyInTrashError``    ``PermissionError``         a plain ``delete()`` of a trashed record
``ProtectedError``         ``PermissionError``         a protected record (collection member...)
``NotManagedError``        ``PermissionError``         storage managed by another instance
``AuthenticationError``    ``PermissionError``         credentials refused or missing
``ConflictError``          ``RuntimeError``            a concurrent writer won; retrying may work
``UnsupportedError``       ``NotImplementedError``     the backend cannot do this
``InstanceError``          ``RuntimeError``            no instance there, or one exists already
``PathOccupiedError``      ``FileExistsError``,        a path or key is taken (a file at a real key's
                           ``ValueError``              path, a key a replace would rename to)
``IntegrityError``         ``OSError``                 stored bytes do not match their record
``StorageError``           ``OSError``                 the catalog, the object store or the disk failed
=========================  ==========================  ==============================================

Every instance has ``kind``, Trove's stable snake_case error kind (``not_found``, ...).
A refused ``replace()`` raises a plain ``ValueError`` (the reference's exact type).
"""

from __future__ import annotations


class TroveError(Exception):
    """Base class of Trove's errors. ``kind`` is Trove's error kind."""

    kind: str = "error"


class InvalidInputError(TroveError, ValueError):
    """Bad input: a key, an argument, a source that is no regular file or folder."""


class SourceNotFoundError(TroveError, FileNotFoundError):
    """A path to save or replace from does not exist or cannot be read."""


class DoesNotExist(TroveError, LookupError):
    """No record matches the uid, stem, key or filter."""


class MultipleResultsFound(TroveError, LookupError):
    """``.one()`` found more than one record."""


class NotAllowedError(TroveError, PermissionError):
    """The operation is not allowed in the record's current state."""


class AlreadyInTrashError(NotAllowedError):
    """The record is already in the trash: delete it with ``delete(permanent=True)``."""


class ProtectedError(NotAllowedError):
    """The record is protected (a member of a collection, a label still attached...)."""


class NotManagedError(NotAllowedError):
    """The storage location is managed by another instance, or read-only."""


class AuthenticationError(TroveError, PermissionError):
    """A backend refused the credentials given, or found none."""


class ConflictError(TroveError, RuntimeError):
    """A concurrent writer got there first (or the source changed while saved); retry."""


class UnsupportedError(TroveError, NotImplementedError):
    """The backend does not support the operation."""


class InstanceError(TroveError, RuntimeError):
    """No instance at that location, or one exists already where one was to be created."""


class PathOccupiedError(TroveError, FileExistsError, ValueError):
    """A path or key is taken: a file at a real key's path that belongs to no artifact, or a
    key another artifact uses (a ``replace()`` with a new suffix renames the key). Also a
    ``ValueError``, the type the reference raises for a refused replace."""


class IntegrityError(TroveError, OSError):
    """Bytes in storage do not match the record (size or hash)."""


class StorageError(TroveError, OSError):
    """The catalog database, the object store or the local file system failed."""


__all__ = [
    "AlreadyInTrashError",
    "AuthenticationError",
    "ConflictError",
    "DoesNotExist",
    "InstanceError",
    "IntegrityError",
    "InvalidInputError",
    "MultipleResultsFound",
    "NotAllowedError",
    "NotManagedError",
    "PathOccupiedError",
    "ProtectedError",
    "SourceNotFoundError",
    "StorageError",
    "TroveError",
    "UnsupportedError",
]
