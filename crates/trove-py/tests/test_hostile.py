"""Hostile input through the Python API: special files, links leading out of a folder, keys that
cannot round-trip, a broken catalog and a missing instance. Each gets a typed error (a Python
built-in exception class), and nothing is written: no record, no stored file."""

import os
import threading

import pytest
import trove as ln
from conftest import stored_files
from trove import errors


def nothing_registered(root):
    assert ln.Artifact.filter(branch_id=None).count() == 0
    assert stored_files(root) == []


def test_special_files_are_refused_unread(instance, tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    # A reader that blocked on the FIFO would hang the test: a writer is never started.
    with pytest.raises(ValueError) as e:
        ln.Artifact(str(fifo), key="pipe.csv").save()
    assert isinstance(e.value, errors.InvalidInputError) and e.value.kind == "unsupported_source"
    with pytest.raises(ValueError):
        ln.Artifact("/dev/zero", key="zero.bin").save()
    nothing_registered(instance)


def test_a_link_out_of_a_folder_is_refused(instance, tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text("not for the folder\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "ok.txt").write_text("fine\n")
    os.symlink(secret, folder / "leak.txt")
    with pytest.raises(ValueError) as e:
        ln.Artifact(str(folder), key="folder").save()
    assert "leak.txt" in str(e.value)
    loop = tmp_path / "loop"
    loop.mkdir()
    os.symlink(loop, loop / "again")
    with pytest.raises(ValueError):
        ln.Artifact(str(loop), key="loop").save()
    nothing_registered(instance)


@pytest.mark.parametrize(
    "key",
    ["sp/y ", " lead.csv", "a//b.csv", "../up.csv", "ctl\x01.csv", "x" * 300 + ".csv", ".trove/x.csv", ""],
)
def test_keys_that_cannot_round_trip_are_refused(instance, tmp_path, key):
    src = tmp_path / "a.csv"
    src.write_text("x\n1\n")
    with pytest.raises(ValueError) as e:
        ln.Artifact(str(src), key=key).save()
    assert e.value.kind in ("invalid_key", "invalid_input")
    nothing_registered(instance)


def test_a_broken_catalog_is_a_typed_error(workdir):
    # The catalog file of an instance, overwritten (as a bad copy or a disk error leaves it).
    root = workdir / "broken"
    (root / ".trove").mkdir(parents=True)
    db = root / ".trove" / "trove.db"
    db.write_bytes(b"this is no sqlite database" * 200)
    before = db.read_bytes()
    with pytest.raises(errors.TroveError) as e:
        ln.connect(str(root))
        ln.Artifact.filter().count()
    assert isinstance(e.value, (errors.StorageError, errors.InstanceError)), repr(e.value)
    assert db.read_bytes() == before, "a broken catalog is reported, never rewritten"


def test_no_instance_there_is_a_typed_error(workdir):
    with pytest.raises(errors.TroveError) as e:
        ln.connect(str(workdir / "nothing-here"))
    assert isinstance(e.value, (errors.InstanceError, errors.DoesNotExist, errors.InvalidInputError)), repr(e.value)
    assert not (workdir / "nothing-here").exists()


def test_a_file_growing_during_the_save_is_refused(instance, tmp_path):
    src = tmp_path / "growing.bin"
    src.write_bytes(b"\0" * (8 << 20))
    stop = threading.Event()

    def grow():
        with open(src, "ab") as f:
            while not stop.is_set():
                f.write(b"\1" * 65536)
                f.flush()

    t = threading.Thread(target=grow)
    t.start()
    try:
        with pytest.raises(errors.TroveError) as e:
            ln.Artifact(str(src), key="growing.bin").save()
    finally:
        stop.set()
        t.join()
    assert e.value.kind == "source_changed"
    nothing_registered(instance)
