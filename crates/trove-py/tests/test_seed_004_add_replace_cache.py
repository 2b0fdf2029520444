"""Seed 004 (the reference's "Add, replace, cache and delete artifacts", LaminDB 2.x edition),
cell by cell with the import changed and `ln.setup.login(...)` removed, twice: on an S3 bucket
as the seed runs it (`s3://<bucket>/test-add-replace-cache` on the test S3 server: the catalog
lives in the bucket, as the reference's cloud SQLite does) and on local storage. The cleanup
cell before `init` is dropped: the bucket and the folder are new.

Adaptations, each because of local storage or a missing third-party package:

* the `.csv` file's cache time is read before the replace that changes the suffix (on local
  storage `cache()` is the stored file itself, which the replace deletes; see seed 003's
  module);
* the folder section writes its folders by hand: `ln.examples.datasets.anndata_pbmc68k_reduced()`
  and `adata.write_zarr` need anndata (a reference data set and format library Trove does not
  ship); `artifact.open()` on a folder gives a read-only store of its files, so the seed's
  `"add_new_col" in store.obs` (an AnnData accessor) is `"obs/add_new_col" in store`;
* `shutil.rmtree(artifact.cache())` and `assert not artifact._cache_path.exists()` run on S3
  only: locally `cache()` is the stored folder, so that cell would delete the artifact's bytes.
"""

import json
import os
import shutil

import pandas as pd
import pytest
import trove as ln


def write_folder(path, extra_col=False):
    """A small zarr-like folder tree."""
    os.makedirs(os.path.join(path, "X"), exist_ok=True)
    os.makedirs(os.path.join(path, "obs", "louvain"), exist_ok=True)
    with open(os.path.join(path, ".zgroup"), "w") as f:
        json.dump({"zarr_format": 2}, f)
    with open(os.path.join(path, "X", "0.0"), "wb") as f:
        f.write(bytes(range(256)) * 8)
    with open(os.path.join(path, "obs", "louvain", "0"), "wb") as f:
        f.write(b"\x01\x02\x03" * 100)
    if extra_col:
        os.makedirs(os.path.join(path, "obs", "add_new_col"), exist_ok=True)
        with open(os.path.join(path, "obs", "add_new_col", "0"), "w") as f:
            f.write("new" * 100)


def test_seed_004_s3(s3_bucket):
    seed_004(f"s3://{s3_bucket}/test-add-replace-cache", cloud=True)


def test_seed_004_local(workdir):
    seed_004("test-add-replace-cache", cloud=False)


def seed_004(storage, cloud):
    """The seed's cells on `storage`."""
    ln.setup.init(storage=storage)

    # Save with auto-managed (key=None)
    AUTO_KEY_PREFIX = ln.core.storage.paths.AUTO_KEY_PREFIX
    root = ln.settings.storage.root
    artifact = ln.Artifact("./test-files/iris.csv", description="iris.csv")
    artifact.save()
    key_path = root / f"{AUTO_KEY_PREFIX}{artifact.uid}{artifact.suffix}"
    assert key_path.exists()
    cache_csv_path = artifact.cache()
    print(cache_csv_path)
    assert cache_csv_path.suffix == ".csv"
    csv_mtime = cache_csv_path.stat().st_mtime  # (adaptation)
    artifact.replace("./test-files/iris.data")
    artifact.save()
    old_key_path = key_path
    new_key_path = root / f"{AUTO_KEY_PREFIX}{artifact.uid}{artifact.suffix}"
    # The suffix changed:
    print(old_key_path)
    print(new_key_path)
    assert not old_key_path.exists()
    assert new_key_path.exists()
    cache_data_path = artifact.cache()
    print(cache_data_path)
    assert cache_data_path.suffix == ".data"
    assert cache_data_path.stat().st_mtime >= csv_mtime
    artifact.delete(permanent=True)

    # Save with manually passed real key
    ln.settings.creation._artifact_use_virtual_keys = False
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
    artifact = ln.Artifact.from_dataframe(iris, description="iris_store", key="iris.parquet")
    artifact.save()
    key_path = root / "iris.parquet"
    assert key_path.exists()
    artifact.replace(data=iris[:-1])
    assert artifact.key == "iris.parquet"
    artifact.save()
    assert key_path.exists()
    artifact.replace("./test-files/new_iris.csv")
    artifact.save()
    old_key_path = key_path
    new_key_path = root / "iris.csv"
    assert not old_key_path.exists()
    assert new_key_path.exists()
    # we use the path in the next sections
    path_in_storage = artifact.path
    artifact.delete(permanent=True, storage=False)
    assert path_in_storage.exists()  # "a file/folder remains here"

    # Save with manually passed virtual key
    ln.settings.creation._artifact_use_virtual_keys = True
    artifact = ln.Artifact("./test-files/iris.csv", key="iris.csv")
    artifact.save()
    with pytest.raises(ValueError) as err:
        artifact.replace(path_in_storage)
    assert err.exconly().startswith("ValueError: Can only replace with a local path not in any Storage.")
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

    # Save in existing storage with a virtual key
    artifact = ln.Artifact(path_in_storage, key="iris_test.csv").save()
    assert artifact._real_key.endswith("iris.csv")
    artifact.replace("./test-files/iris.data")
    assert artifact._real_key.endswith("iris.data")
    assert artifact._clear_storagekey.endswith("iris.csv")
    assert artifact.key == "iris_test.data"
    artifact.save()
    path = artifact.path
    assert path.name == "iris.data"
    assert path.exists()
    assert not path_in_storage.exists()
    artifact.delete(permanent=True, storage=True)

    # Replace with folder artifacts (folders written by hand: see the module docstring)
    write_folder("./test-files/pbmc68k.zarr")
    artifact = ln.Artifact("./test-files/pbmc68k.zarr", key="pbmc68k.zarr").save()
    save_hash = artifact.hash
    save_n_files = artifact.n_files
    with pytest.raises(ValueError) as err:
        artifact.replace("./test-files/iris.csv")
    assert err.exconly().endswith("It is not allowed to replace a folder with a file.")
    assert save_hash is not None
    assert artifact.path.is_dir()
    write_folder("./test-files/pbmc68k_new.zarr", extra_col=True)
    artifact.replace("./test-files/pbmc68k_new.zarr")
    artifact.save()
    assert artifact.key == "pbmc68k.zarr"
    assert artifact.hash != save_hash
    assert artifact.n_files != save_n_files
    assert artifact.path.is_dir()
    if cloud:
        shutil.rmtree(artifact.cache())
    with artifact.open() as store:
        assert "obs/add_new_col" in store
    if cloud:
        # checks that .open above opened the cloud path without syncing
        assert not artifact._cache_path.exists()
    shutil.rmtree("./test-files/pbmc68k.zarr")
    shutil.rmtree("./test-files/pbmc68k_new.zarr")
    stored = artifact.path
    artifact.delete(permanent=True, storage=True)
    assert not stored.exists()
    ln.setup.delete("test-add-replace-cache", force=True)
