"""The rest of the API: lookups and filters, versions, errors, DataFrames, open/load, settings,
collections and labels."""

import pandas as pd
import pyarrow as pa
import pytest
import trove as ln
from trove import errors


def test_errors_are_python_builtins(instance, tmp_path):
    with pytest.raises(ln.Artifact.DoesNotExist) as e:
        ln.Artifact.get("nope/missing.csv")
    assert isinstance(e.value, LookupError) and e.value.kind == "not_found"
    (tmp_path / "a.csv").write_text("x\n1\n")
    with pytest.raises(ValueError):
        ln.Artifact(str(tmp_path / "a.csv"), key="../escape.csv").save()
    with pytest.raises(FileNotFoundError):
        ln.Artifact(str(tmp_path / "missing.csv"), key="m.csv").save()
    with pytest.raises(ValueError):
        ln.Artifact.filter(no_such_field=1).count()


def test_get_filter_and_dataframe_listing(instance, tmp_path):
    for i in range(3):
        (tmp_path / f"t{i}.csv").write_text(f"a\n{i}\n")
        ln.Artifact(str(tmp_path / f"t{i}.csv"), key=f"tables/t{i}.csv", description=f"table {i}").save()
    a = ln.Artifact.get(key="tables/t1.csv")
    assert a.description == "table 1" and a.suffix == ".csv" and a.size == 4
    assert ln.Artifact.get(a.uid) == a and ln.Artifact.get(a.stem_uid) == a
    assert ln.Artifact.filter(description__contains="table").count() == 3
    assert ln.Artifact.filter(description="table 2").one().key == "tables/t2.csv"
    assert ln.Artifact.filter(key__startswith="tables/", suffix=".csv").count() == 3
    with pytest.raises(errors.MultipleResultsFound):
        ln.Artifact.filter(key__startswith="tables/").one()
    assert ln.Artifact.filter(key="nope").first() is None
    keys = [x.key for x in ln.Artifact.filter(key__startswith="tables/").order_by("key")]
    assert keys == ["tables/t0.csv", "tables/t1.csv", "tables/t2.csv"]
    df = ln.Artifact.filter(key__startswith="tables/").to_dataframe()
    assert len(df) == 3 and "created_at" in df and str(df["created_at"].dt.tz) == "UTC"
    assert set(df.columns) >= {"uid", "key", "hash", "branch_id", "storage_id", "created_by_id"}


def test_versions_and_revises(instance, tmp_path):
    p = tmp_path / "v.txt"
    p.write_text("1")
    v1 = ln.Artifact(str(p), key="v.txt").save()
    p.write_text("2")
    v2 = ln.Artifact(str(p), key="v.txt").save()
    p.write_text("3")
    v3 = ln.Artifact(str(p), revises=v2).save()
    assert v3.key == "v.txt" and v3.is_latest and v3.stem_uid == v1.stem_uid
    assert [a.uid for a in v3.versions] == [v1.uid, v2.uid, v3.uid]
    assert not ln.Artifact.get(v1.uid).is_latest


def test_dataframes_round_trip(instance):
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.5, 1.5, 2.5]})
    a = ln.Artifact.from_dataframe(df, key="frames/df.parquet").save()
    assert (a.otype, a.kind, a.n_observations, a.suffix) == ("DataFrame", "dataset", 3, ".parquet")
    back = a.load()
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    pf = a.open()
    assert pf.metadata.num_rows == 3 and pf.read().num_rows == 3
    table = pa.table({"n": list(range(1000))})
    t = ln.Artifact.from_dataframe(table, description="an arrow table").save()
    assert t.n_observations == 1000 and list(t.load()["n"])[-1] == 999
    empty = ln.Artifact.from_df(df.iloc[:0], key="frames/empty.parquet").save()
    assert empty.n_observations == 0 and list(empty.load().columns) == ["a", "b", "c"]
    # polars crosses the same Arrow C stream (its __arrow_c_stream__), no pandas in between.
    pl = pytest.importorskip("polars")
    pdf = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.5, 1.5, 2.5]})
    p = ln.Artifact.from_dataframe(pdf, key="frames/polars.parquet").save()
    assert (p.otype, p.n_observations, p.suffix) == ("DataFrame", 3, ".parquet")
    pd.testing.assert_frame_equal(p.load(), df, check_dtype=False)


def test_load_csv_and_open_bytes(instance, tmp_path):
    (tmp_path / "k.csv").write_text("x,y\n1,2\n3,4\n")
    a = ln.Artifact(str(tmp_path / "k.csv"), key="k.csv").save()
    assert a.load()["y"].tolist() == [2, 4]
    with a.open() as f:
        assert f.read(3) == b"x,y"
        f.seek(-4, 2)
        assert f.read() == b"3,4\n"
    (tmp_path / "b.bin").write_bytes(b"\x00\x01")
    assert ln.Artifact(str(tmp_path / "b.bin"), key="b.bin").save().load() == b"\x00\x01"


def test_settings_and_connect(instance, workdir):
    assert ln.settings.storage.root == instance and ln.settings.storage.root.exists()
    assert ln.settings.creation.artifact_use_virtual_keys is True
    ln.settings.creation.artifact_silence_missing_run_warning = True
    (workdir / "s.txt").write_text("s")
    a = ln.Artifact(str(workdir / "s.txt"), key="s.txt").save()
    ln.connect(str(instance))
    assert ln.Artifact.get(key="s.txt") == a
    with pytest.raises(errors.InstanceError):
        ln.connect(str(workdir / "no-instance-here"))


def test_collections_and_labels(instance, tmp_path):
    arts = []
    for i in range(2):
        (tmp_path / f"m{i}.txt").write_text(str(i))
        arts.append(ln.Artifact(str(tmp_path / f"m{i}.txt"), key=f"m{i}.txt").save())
    c = ln.Collection(arts, key="my-collection", description="two files").save()
    assert c.uid and set(a.uid for a in c.artifacts) == {a.uid for a in arts}
    assert [a.uid for a in c.ordered_artifacts()] == [a.uid for a in arts]
    with pytest.raises(errors.ProtectedError):
        arts[0].delete(permanent=True)
    c.delete()
    assert c.branch.name == "trash"
    with pytest.raises(PermissionError):
        c.delete()
    c.restore()
    assert ln.Collection.get(key="my-collection") == c
    c.delete(permanent=True)
    arts[0].delete(permanent=True)

    label = ln.ULabel(name="experiment-1").save()
    arts[1].ulabels.add(label)
    assert [lbl.name for lbl in arts[1].ulabels.all()] == ["experiment-1"]
    assert ln.Artifact.filter(ulabels=label).one() == arts[1]
    arts[1].ulabels.remove(label)
    assert ln.Artifact.filter(ulabels=label).count() == 0
