//! `trove demo`: the reference walk-through on a fresh embedded instance, narrated. Every
//! claim it prints is checked; a broken expectation ends the demo with an error.

use std::path::{Path, PathBuf};

use trove::{
    ArtifactQuery, BranchId, BranchSelection, Error, ErrorKind, InitOptions, Result, SaveOptions, StoragePolicy, Trove,
};

use crate::output::print_artifacts;

fn step(title: &str) {
    println!("\n== {title}");
}

fn check(cond: bool, what: &str) -> Result<()> {
    if cond {
        println!("   ✓ {what}");
        Ok(())
    } else {
        Err(Error::new(ErrorKind::Integrity, format!("demo expectation failed: {what}")))
    }
}

async fn ls(trove: &Trove, branch: BranchSelection) -> Result<usize> {
    let found = trove.list(&ArtifactQuery::new().branch(branch).latest_only()).await?;
    print_artifacts(trove, &found);
    Ok(found.len())
}

pub async fn run(dir: Option<PathBuf>) -> Result<()> {
    let tmp;
    let root: PathBuf = match dir {
        Some(d) => d,
        None => {
            tmp = tempfile::tempdir().map_err(|e| Error::io("cannot create a temporary folder", e))?;
            tmp.path().join("demo-data")
        }
    };
    let work = root.with_extension("inputs");
    std::fs::create_dir_all(&work).map_err(|e| Error::io(format!("cannot create {}", work.display()), e))?;
    let csv = work.join("iris.csv");
    write(&csv, "sepal_length,sepal_width,species\n5.1,3.5,setosa\n7.0,3.2,versicolor\n")?;

    step(&format!("trove init --storage {}", root.display()));
    let trove = Trove::init(InitOptions::local(&root)).await?;
    println!(
        "   instance '{}' · catalog {} · storage {}",
        trove.instance().name,
        trove.catalog_backend(),
        trove.default_storage().root
    );

    step("trove save iris.csv --key datasets/iris.csv");
    let saved = trove.save(csv.as_path(), SaveOptions::key("datasets/iris.csv")).await?;
    println!("   {}", saved.describe());
    let a = saved.into_artifact();
    let bytes_path = PathBuf::from(trove.path(&a)?);
    check(bytes_path.is_file(), &format!("bytes stored at {}", bytes_path.display()))?;
    step("trove ls");
    check(ls(&trove, BranchSelection::Default).await? == 1, "one artifact on main")?;

    step("trove save iris.csv --key datasets/iris.csv   (identical content)");
    let again = trove.save(csv.as_path(), SaveOptions::key("datasets/iris.csv")).await?;
    println!("   {}", again.describe());
    check(
        again.name() == "existing" && again.artifact().uid == a.uid,
        "the existing artifact is returned, nothing new stored",
    )?;

    step("trove delete <uid>   → the trash");
    trove.delete(&a.uid).await?;
    check(ls(&trove, BranchSelection::Default).await? == 0, "gone from `trove ls`")?;
    step("trove ls --branch trash");
    check(ls(&trove, BranchSelection::Only(BranchId::TRASH)).await? == 1, "visible in the trash")?;
    check(bytes_path.is_file(), "bytes still in storage")?;

    step("trove restore <uid>");
    trove.restore(std::slice::from_ref(&a.uid)).await?;
    check(ls(&trove, BranchSelection::Default).await? == 1, "back on main")?;

    step("trove archive <uid>, then trove restore <uid>");
    trove.archive(std::slice::from_ref(&a.uid)).await?;
    check(trove.list(&ArtifactQuery::new()).await?.is_empty(), "archived: hidden from `trove ls`")?;
    trove.restore(std::slice::from_ref(&a.uid)).await?;
    check(trove.get(a.uid.as_str()).await?.branch == BranchId::MAIN, "restored to main")?;

    step("a new version: change the file, save under the same key");
    write(&csv, "sepal_length,sepal_width,species\n5.1,3.5,setosa\n7.0,3.2,versicolor\n6.3,3.3,virginica\n")?;
    let v1 = trove.save(csv.as_path(), SaveOptions::key("datasets/iris.csv")).await?;
    println!("   {}", v1.describe());
    let v1 = v1.into_artifact();
    check(v1.uid.version_suffix() == "0001" && v1.is_latest, "version 0001 is the latest")?;
    step("trove versions datasets/iris.csv");
    print_artifacts(&trove, &trove.versions("datasets/iris.csv", BranchSelection::Default).await?);
    step("trove delete <v0001>   → the previous version is latest again");
    trove.delete(&v1.uid).await?;
    check(trove.get(a.uid.as_str()).await?.is_latest, "version 0000 is the latest on main")?;

    step("trove delete <uid> twice");
    trove.delete(&a.uid).await?;
    match trove.delete(&a.uid).await {
        Err(e) if e.kind() == ErrorKind::AlreadyInTrash => println!("   library: {e}"),
        other => {
            return Err(Error::new(ErrorKind::Integrity, format!("expected an already-in-trash error, got {other:?}")));
        }
    }
    println!("   (the CLI asks for confirmation here, or takes --yes, then deletes permanently)");

    step("trove delete <uid> <v0001> --permanent");
    let report = trove.delete_permanently(&[a.uid.clone(), v1.uid.clone()], StoragePolicy::Auto).await?;
    for p in report.removed_paths() {
        println!("   removed {p}");
    }
    check(trove.get(a.uid.as_str()).await.is_err(), "the record is gone")?;
    check(!bytes_path.exists(), "its managed bytes are gone")?;

    step("a real key: trove save iris.csv --key real/iris.csv --real-key, then delete --permanent");
    let real = trove
        .save(csv.as_path(), SaveOptions::key("real/iris.csv").real_key().allow_duplicate())
        .await?
        .into_artifact();
    let real_path = PathBuf::from(trove.path(&real)?);
    check(real_path == root.join("real/iris.csv"), &format!("stored at the key itself: {}", real_path.display()))?;
    let report = trove.delete_permanently(std::slice::from_ref(&real.uid), StoragePolicy::Auto).await?;
    for k in report.kept_paths() {
        println!("   kept {} (a real key: pass --storage delete to remove it)", k.path);
    }
    check(real_path.is_file(), "the file at the real key is kept and reported")?;

    println!("\nDemo complete: {}", root.display());
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}
