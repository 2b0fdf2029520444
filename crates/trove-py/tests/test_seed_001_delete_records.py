"""Seed 001 (the reference's "How to delete records?", LaminDB 2.x edition), cell by cell with
the import changed; `lamin init`/`lamin delete` shell lines as `ln.setup.init`/`ln.setup.delete`.

**Trove:** the seed says a `delete()` of a trashed record "triggers a permanent delete dialog";
the library never prompts, so that call raises `AlreadyInTrashError` (a `PermissionError`)
whose message says to pass `permanent=True` (tested at the end)."""

import pandas as pd
import pytest
import trove as ln


def test_seed_001(workdir):
    ln.setup.init(storage="test-delete")

    artifact = ln.Artifact.from_dataframe(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), description="mydf")
    artifact.save()
    assert (artifact.key, artifact.description, artifact.suffix) == (None, "mydf", ".parquet")
    assert (artifact.kind, artifact.otype, artifact.n_observations, artifact.n_files) == (
        "dataset",
        "DataFrame",
        2,
        None,
    )
    assert artifact.branch_id == 1 and artifact.is_latest and artifact.version_tag is None

    df = ln.Artifact.to_dataframe()
    assert list(df.columns[:10]) == ["uid", "key", "description", "suffix", "kind", "otype", "size", "hash",
                                     "n_files", "n_observations"]  # fmt: skip
    assert list(df["uid"]) == [artifact.uid]

    # Trash an artifact
    artifact.delete()
    assert artifact.branch_id == -1
    assert len(ln.Artifact.to_dataframe()) == 0

    df = ln.Artifact.filter(visibility=None).to_dataframe()
    assert list(df["branch_id"]) == [-1]

    artifact.restore()
    assert list(ln.Artifact.to_dataframe()["branch_id"]) == [1]

    assert len(ln.Storage.to_dataframe()) == 1

    # Permanent delete, after checking that a second plain delete() does not prompt
    artifact.delete()
    with pytest.raises(PermissionError, match="permanent=True"):
        artifact.delete()
    assert list(ln.Artifact.filter(visibility=None).to_dataframe()["branch_id"]) == [-1]
    artifact.delete(permanent=True)
    assert len(ln.Artifact.filter(visibility=None).to_dataframe()) == 0

    ln.setup.delete("test-delete", force=True)
    assert not (workdir / "test-delete" / ".trove" / "trove.db").exists()
