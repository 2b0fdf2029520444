"""Spec 1's lifecycle table (rows 1-11) and storage table (section 3), through the Python API,
with the bytes checked as well as the records."""

import hashlib
import warnings
from pathlib import Path

import pytest
import trove as ln
from trove import errors


def save(tmp: Path, name: str, content: str, **kwargs) -> ln.Artifact:
    p = tmp / name
    p.write_text(content)
    return ln.Artifact(str(p), **kwargs).save()


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_row_1_unsaved_delete_is_a_no_op_that_says_so(instance, tmp_path):
    (tmp_path / "u.txt").write_text("u")
    a = ln.Artifact(str(tmp_path / "u.txt"), key="u.txt")
    with pytest.warns(UserWarning, match="not saved"):
        a.delete()
    assert a.uid is None and ln.Artifact.filter(branch_id=None).count() == 0


def test_rows_2_3_5_trash_then_no_prompt_then_permanent(instance, tmp_path):
    v1 = save(tmp_path, "a.txt", "one", key="a.txt")
    v2 = save(tmp_path, "a.txt", "two", key="a.txt")
    assert v2.stem_uid == v1.stem_uid and v2.is_latest
    stored = v2.path
    v2.delete()  # row 2: trashed; v1 becomes the head on main
    assert v2.branch_id == -1 and stored.exists()
    assert ln.Artifact.get(key="a.txt") == v1 and ln.Artifact.get(v1.uid).is_latest
    with pytest.raises(errors.AlreadyInTrashError) as err:  # row 3: no prompt, a typed error
        v2.delete()
    assert isinstance(err.value, PermissionError) and "permanent=True" in str(err.value)
    assert ln.Artifact.get(v2.uid).branch_id == -1 and stored.exists()
    v2.delete(permanent=True)  # row 5
    assert not stored.exists()
    with pytest.raises(ln.Artifact.DoesNotExist):  # row 11
        ln.Artifact.get(v2.uid)
    with pytest.raises(LookupError):
        v2.restore()


def test_row_4_permanent_from_live(instance, tmp_path):
    a = save(tmp_path, "b.txt", "bee", key="b.txt")
    stored = a.path
    a.delete(permanent=True)
    assert not stored.exists() and ln.Artifact.filter(branch_id=None).count() == 0


def test_rows_6_7_8_9_restore_archive(instance, tmp_path):
    a = save(tmp_path, "c.txt", "sea", key="c.txt")
    a.restore()  # row 9: no-op on main
    assert a.branch.name == "main"
    a.archive()  # row 8
    assert a.branch.name == "archive" and ln.Artifact.filter(key="c.txt").count() == 0
    a.delete()  # trashed from the archive
    assert a.branch.name == "trash"
    a.restore()  # row 6: back where it came from
    assert a.branch.name == "archive"
    a.restore()  # row 7: archive to main
    assert a.branch.name == "main" and a.is_latest
    a.branch_id = 0  # the reference's way
    a.save()
    assert ln.Artifact.get(a.uid).branch_id == 0


def test_row_10_identical_content_restores_from_trash(instance, tmp_path):
    a = save(tmp_path, "d.txt", "dee", key="d.txt")
    a.delete()
    b = save(tmp_path, "d.txt", "dee", key="d.txt")
    assert b.uid == a.uid and b.branch_id == 1


def test_identical_content_is_deduplicated(instance, tmp_path):
    a = save(tmp_path, "e.txt", "same", key="e.txt")
    b = save(tmp_path, "e2.txt", "same", description="again")
    assert b.uid == a.uid


def test_storage_policy_of_permanent_deletion(instance, tmp_path):
    ln.settings.creation.artifact_use_virtual_keys = False
    real = save(tmp_path, "r.txt", "real", key="real/r.txt")
    ln.settings.creation.artifact_use_virtual_keys = True
    assert real.path == instance / "real" / "r.txt"
    real.delete(permanent=True)  # auto keeps a real key's bytes
    assert (instance / "real" / "r.txt").read_text() == "real"

    ln.settings.creation.artifact_use_virtual_keys = False
    real = ln.Artifact(str(instance / "real" / "r.txt"), key="real/r.txt").save()  # in place
    ln.settings.creation.artifact_use_virtual_keys = True
    real.delete(permanent=True, storage=True)
    assert not (instance / "real" / "r.txt").exists()

    managed = save(tmp_path, "m.txt", "managed", key="m.txt")
    stored = managed.path
    assert stored.parent.name == ".trove"
    managed.delete(permanent=True, storage=False)
    assert stored.read_text() == "managed"


def test_bulk_delete_and_restore(instance, tmp_path):
    arts = [save(tmp_path, f"f{i}.txt", f"content {i}", key=f"bulk/f{i}.txt") for i in range(20)]
    other = save(tmp_path, "g.txt", "other", key="keep/g.txt")
    qs = ln.Artifact.filter(key__startswith="bulk/")
    assert len(qs) == 20 and qs.count() == 20
    qs.delete()
    assert ln.Artifact.filter(key__startswith="bulk/").count() == 0
    trashed = ln.Artifact.filter(key__startswith="bulk/", branch__name="trash")
    assert trashed.count() == 20
    with pytest.raises(PermissionError, match="permanent=True"):
        trashed.delete()
    trashed.restore()
    assert ln.Artifact.filter(key__startswith="bulk/").count() == 20
    paths = [a.path for a in arts]
    ln.Artifact.filter(key__startswith="bulk/").delete(permanent=True)
    assert not any(p.exists() for p in paths)
    assert ln.Artifact.filter(branch_id=None).one() == other


def test_bytes_match_records(instance, tmp_path):
    a = save(tmp_path, "h.txt", "hash me", key="h.txt")
    assert a.size == len("hash me") and a.path.read_text() == "hash me"
    assert md5_of(a.path) == hashlib.md5(b"hash me").hexdigest()


def test_unsaved_delete_warns_not_prints(instance, tmp_path, capsys):
    (tmp_path / "x.txt").write_text("x")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        ln.Artifact(str(tmp_path / "x.txt"), key="x.txt").delete()
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
