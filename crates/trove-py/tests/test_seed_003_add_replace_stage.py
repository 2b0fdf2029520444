"""Seed 003 (the reference's "Add, replace, cache and delete artifacts", older edition), cell by
cell with the import changed and `ln.setup.login(...)` removed, on local storage instead of
`s3://lamindb-ci/...`.

One adaptation, because on local storage `cache()` is the stored file itself (spec 2): the
seed compares the modification time of the cached `.csv` with the cached `.data` after the
replace, but locally the `.csv` is the old stored file, which the suffix change deleted; its
time is read before the replace instead."""

import pandas as pd
import pytest
import trove as ln


def test_seed_003(workdir):
    ln.setup.init(storage="test-add-replace-stage")

    # Save with auto-managed (key=None)
    AUTO_KEY_PREFIX = ln.core.storage.paths.AUTO_KEY_PREFIX
    root = ln.settings.storage
    artifact = ln.Artifact("./test-files/iris.csv", description="iris.csv")
    artifact.save()
    key_path = root / f"{AUTO_KEY_PREFIX}{artifact.uid}{artifact.suffix}"
    assert key_path.exists()
    cache_csv_path = artifact.cache()
    assert cache_csv_path.suffix == ".csv"
    csv_mtime = cache_csv_path.stat().st_mtime  # (adaptation, see the module docstring)
    artifact.replace("./test-files/iris.data")
    artifact.save()
    old_key_path = key_path
    new_key_path = root / f"{AUTO_KEY_PREFIX}{artifact.uid}{artifact.suffix}"
    # The suffix changed:
    assert not old_key_path.exists()
    assert new_key_path.exists()
    cache_data_path = artifact.cache()
    assert cache_data_path.suffix == ".data"
    assert cache_data_path.stat().st_mtime >= csv_mtime
    artifact.delete(permanent=True)

    # Save with manually passed real key
    ln.settings.artifact_use_virtual_keys = False
    artifact = ln.Artifact("./test-files/iris.csv", key="iris.csv")
    artifact.save()
    key_path = root / "iris.csv"
    assert key_path.exists()
    artifact.replace("./test-files/new_iris.csv")
    artifact.save()
    # Check paths: no changes here, as the suffix didn't change.
    old_key_path = key_path
    new_key_path = root / "new_iris.csv"
    assert old_key_path.exists()
    assert not new_key_path.exists()
    artifact.replace("./test-files/iris.data")
    artifact.save()
    new_key_path = root / "iris.data"
    assert not old_key_path.exists()
    assert new_key_path.exists()
    artifact.delete(permanent=True, storage=True)

    # Save from memory
    iris = pd.read_csv("./test-files/iris.csv")
    artifact = ln.Artifact.from_df(iris, description="iris_store", key="iris.parquet")
    artifact.save()
    key_path = root / "iris.parquet"
    assert key_path.exists()
    artifact.replace(data=iris[:-1])
    assert artifact.key == "iris.parquet"
    artifact.save()
    assert key_path.exists()
    assert artifact.n_observations == len(iris) - 1
    artifact.replace("./test-files/new_iris.csv")
    artifact.save()
    old_key_path = key_path
    new_key_path = root / "iris.csv"
    assert not old_key_path.exists()
    assert new_key_path.exists()
    # we use the path in the next section
    path_in_storage = artifact.path
    artifact.delete(permanent=True, storage=False)

    # Save with manually passed virtual key
    ln.settings.artifact_use_virtual_keys = True
    artifact = ln.Artifact("./test-files/iris.csv", key="iris.csv")
    artifact.save()
    with pytest.raises(ValueError):
        artifact.replace(path_in_storage)
    # return an existing artifact if the hash is the same
    assert artifact == artifact.replace("./test-files/iris.csv")
    fpath = artifact.path
    assert fpath.suffix == ".csv" and fpath.stem == artifact.uid
    artifact.replace("./test-files/iris.data")
    artifact.save()
    assert artifact.key == "iris.data"
    assert not fpath.exists()
    fpath = artifact.path
    assert fpath.suffix == ".data" and fpath.stem == artifact.uid
    artifact.delete(permanent=True, storage=True)
    path_in_storage.unlink()
    ln.setup.delete("test-add-replace-stage", force=True)
