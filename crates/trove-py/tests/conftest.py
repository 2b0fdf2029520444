"""Fixtures: a fresh Trove instance on local storage per test, and the seeds' test files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import trove

IRIS = """sepal_length,sepal_width,petal_length,petal_width,iris_class
5.1,3.5,1.4,0.2,Iris-setosa
4.9,3.0,1.4,0.2,Iris-setosa
4.7,3.2,1.3,0.2,Iris-setosa
7.0,3.2,4.7,1.4,Iris-versicolor
6.4,3.2,4.5,1.5,Iris-versicolor
6.3,3.3,6.0,2.5,Iris-virginica
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with ``test-files/`` as the seeds expect (iris.csv, new_iris.csv,
    iris.data), made the current directory; nothing leaks into the user's config."""
    files = tmp_path / "work" / "test-files"
    files.mkdir(parents=True)
    (files / "iris.csv").write_text(IRIS)
    (files / "new_iris.csv").write_text(IRIS + "5.9,3.0,5.1,1.8,Iris-virginica\n")
    (files / "iris.data").write_text(IRIS.replace(",", " ").replace("iris_class", "class"))
    monkeypatch.chdir(files.parent)
    monkeypatch.setenv("TROVE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TROVE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TROVE_INSTANCE", raising=False)
    trove.settings.creation.artifact_use_virtual_keys = True
    return files.parent


@pytest.fixture
def instance(workdir: Path) -> Path:
    """A new instance with local storage at ``<tmp>/work/data``; its root is returned."""
    root = workdir / "data"
    trove.setup.init(storage=str(root))
    return root


def stored_files(root: Path) -> list:
    """Every file below a storage root except Trove's own catalog and marker."""
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), root)
            if rel.startswith(".trove/trove.db") or rel == ".trove/storage.json":
                continue
            out.append(rel)
    return sorted(out)
