"""Fixtures: a fresh Trove instance on local storage per test, the seeds' test files, and a
real S3 server (moto) with a new bucket per test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3 server for the session: moto's server mode (``moto_server``, installed by
    ``scripts/install-test-deps.sh``), which honours conditional writes as AWS S3 does (the
    catalog of an instance in a bucket needs them). Its endpoint is yielded.

    Without ``moto_server`` the test is skipped, except when ``TROVE_TEST_BACKENDS`` asks for
    real backends (CI): then it fails, so a broken install never silently tests less."""
    binary = os.environ.get("TROVE_TEST_MOTO_BIN") or shutil.which("moto_server")
    if not binary:
        msg = "no moto_server (pip install 'moto[server]'): no S3 server for the S3 tests"
        if os.environ.get("TROVE_TEST_BACKENDS"):
            pytest.fail(msg)
        pytest.skip(msg)
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint + "/", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on {endpoint}")
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def s3_bucket(s3_server: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty bucket on the session's S3 server, with the standard AWS variables set
    for it (endpoint, region, any key); its name is returned."""
    name = f"trove-py-{uuid.uuid4().hex[:12]}"
    req = urllib.request.Request(f"{s3_server}/{name}", method="PUT")
    urllib.request.urlopen(req, timeout=10).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "trove-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "trove-test-secret")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    return name
