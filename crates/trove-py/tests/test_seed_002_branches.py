"""Seed 002 (the reference's "How do I trash or archive records?"), cell by cell with the
import changed."""

import pandas as pd
import trove as ln


def test_seed_002(workdir):
    ln.setup.init(storage="test-branch")

    artifact = ln.Artifact.from_dataframe(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), key="dataset.parquet").save()

    # An artifact is by default created on the main branch and then visible.
    assert artifact.branch.name == "main"

    # If you delete an artifact, it gets moved into the trash branch.
    artifact.delete()
    assert artifact.branch.name == "trash"

    # Artifacts in trash won't show in default queries:
    assert len(ln.Artifact.filter(key="dataset.parquet").to_dataframe()) == 0

    # You can query for them by adding the trash branch to the filter.
    df = ln.Artifact.filter(key="dataset.parquet", branch__name="trash").to_dataframe()
    assert list(df["uid"]) == [artifact.uid] and list(df["branch_id"]) == [-1]

    # You can restore an artifact from trash:
    artifact.restore()
    assert artifact.branch.name == "main"
    df = ln.Artifact.filter(key="dataset.parquet").to_dataframe()
    assert list(df["uid"]) == [artifact.uid] and list(df["branch_id"]) == [1]

    # The archive, the reference's way: set branch_id and save.
    artifact.branch_id = 0
    artifact.save()
    assert artifact.branch.name == "archive"
    assert len(ln.Artifact.filter(key="dataset.parquet").to_dataframe()) == 0
    assert ln.Artifact.filter(key="dataset.parquet", branch_id=0).one() == artifact
    artifact.restore()
    assert artifact.branch.name == "main"
