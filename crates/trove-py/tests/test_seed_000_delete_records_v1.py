"""Seed 000 (the reference's "How to delete records?", older edition), cell by cell, with
`import lamindb as ln` changed to `import trove as ln` and `lamin init`/`lamin delete` shell
lines written as `ln.setup.init`/`ln.setup.delete`. Assertions after a cell check what its
printed output showed."""

import pandas as pd
import trove as ln


def test_seed_000(workdir):
    # !lamin init --storage test-delete
    ln.setup.init(storage="test-delete")

    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), description="mydf")
    artifact.save()
    assert artifact.suffix == ".parquet" and artifact.kind == "dataset" and artifact.otype == "DataFrame"
    assert artifact.n_observations == 2 and len(artifact.hash) == 22

    df = ln.Artifact.df()
    assert list(df["uid"]) == [artifact.uid]
    assert df.loc[0, "description"] == "mydf"

    # Trash an artifact
    artifact.delete()
    assert len(ln.Artifact.df()) == 0  # no longer visible

    df = ln.Artifact.filter(visibility=None).df()
    assert list(df["uid"]) == [artifact.uid] and df.loc[0, "branch_id"] == -1

    artifact.restore()
    df = ln.Artifact.df()
    assert list(df["uid"]) == [artifact.uid] and df.loc[0, "branch_id"] == 1

    storages = ln.Storage.df()
    assert len(storages) == 1 and storages.loc[0, "type"] == "local"

    # Permanent delete
    path = artifact.path
    artifact.delete(permanent=True)
    assert len(ln.Artifact.filter(visibility=None).df()) == 0
    assert not path.exists()

    # !lamin delete --force test-delete
    ln.setup.delete("test-delete", force=True)
