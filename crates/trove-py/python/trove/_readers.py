"""Readers over stored bytes that do not download whole artifacts."""

from __future__ import annotations

import io
from typing import Any, Dict, Iterator, List, Optional, Tuple


class RangeFile(io.RawIOBase):
    """A read-only, seekable binary file over a stored file artifact: each ``read`` is a ranged
    read of the store (local disk, S3 or GCS), so only what is read is fetched."""

    def __init__(self, uid: str, size: int, inst: Any) -> None:
        super().__init__()
        self._uid = uid
        self._size = int(size)
        self._inst = inst
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def size(self) -> int:
        """The file's size in bytes."""
        return self._size

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: Optional[int] = -1) -> bytes:
        if self._pos >= self._size:
            return b""
        length = self._size - self._pos if size is None or size < 0 else min(size, self._size - self._pos)
        data = bytes(self._inst.read_bytes(self._uid, self._pos, length))
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class FolderStore:
    """A read-only mapping over a folder artifact's files, read in place from storage:
    ``store["a/b.json"]`` returns bytes; ``keys()``, ``in``, ``len`` and iteration list the files.
    Usable as a context manager."""

    def __init__(self, uid: str, inst: Any) -> None:
        self._uid = uid
        self._inst = inst
        self._files: Dict[str, int] = dict(inst.folder_files(uid))

    def __enter__(self) -> "FolderStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def keys(self) -> List[str]:
        """The files' paths inside the folder."""
        return sorted(self._files)

    def items(self) -> Iterator[Tuple[str, int]]:
        """``(path, size)`` of every file."""
        return iter(sorted(self._files.items()))

    def __contains__(self, path: object) -> bool:
        return path in self._files or any(p.startswith(f"{path}/") for p in self._files)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._files)

    def __getitem__(self, path: str) -> bytes:
        if path not in self._files:
            raise KeyError(path)
        return bytes(self._inst.folder_read(self._uid, path))

    def close(self) -> None:
        """Nothing to release."""
