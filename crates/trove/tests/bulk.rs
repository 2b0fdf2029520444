//! Bulk work through the façade, on every backend pair the harness gives: `save_many` (one
//! result per item, bytes verified, a failing item in the middle changes nothing), `save_each`,
//! and lifecycle operations by query (key prefix, label, branch).

mod common;

use std::sync::{Arc, Mutex};

use common::{Pairs, instances, instances_wrapped};
use trove::domain::ports::ObjectStore;
use trove::{ArtifactQuery, BranchId, BranchSelection, ErrorKind, SaveItem, SaveOptions, SaveOutcome, StoragePolicy};
use trove_storage::{FaultInjection, FaultOp};

/// Objects in the managed area (every managed artifact's bytes, nothing else written by saves).
async fn managed_objects(store: &Arc<dyn ObjectStore>) -> usize {
    store
        .list(".trove/")
        .await
        .expect("list .trove/")
        .iter()
        .filter(|o| !o.key.ends_with(".db") && !o.key.contains("marker") && !o.key.ends_with(".json"))
        .count()
}

fn bytes_item(key: &str, content: &str) -> SaveItem {
    SaveItem::new(content.as_bytes().to_vec(), SaveOptions::key(key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_many_reports_each_item_and_keeps_every_rule() {
    for inst in instances(Pairs::S3).await {
        let t = &inst.trove;
        let old = t.save(b"old v0".to_vec(), SaveOptions::key("old.txt")).await.expect("seed").into_artifact();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.csv");
        std::fs::write(&file, "a,b\n1,2\n").unwrap();
        let before = managed_objects(&inst.store).await;
        let items = vec![
            bytes_item("bulk/0.txt", "zero"),
            SaveItem::new(file.clone(), SaveOptions::key("bulk/file.csv")),
            bytes_item("../escape.txt", "bad key"),
            bytes_item("old.txt", "old v1"),
            bytes_item("bulk/dup.txt", "zero"),
            bytes_item("bulk/0.txt", "zero, second version"),
            SaveItem::new(dir.path().join("missing.csv"), SaveOptions::key("bulk/missing.csv")),
            bytes_item("bulk/empty.txt", ""),
        ];
        let out = t.save_many(items).await;
        assert_eq!(out.len(), 8, "{}: one result per item", inst.name);
        let name = |r: &trove::Result<SaveOutcome>| r.as_ref().map(|o| o.name()).map_err(|e| e.kind());
        assert_eq!(name(&out[0]), Ok("created"), "{}", inst.name);
        assert_eq!(name(&out[1]), Ok("created"), "{}", inst.name);
        assert!(out[2].is_err(), "{}: a bad key fails that item only", inst.name);
        assert_eq!(name(&out[3]), Ok("new_version"), "{}", inst.name);
        assert_eq!(name(&out[4]), Ok("existing"), "{}: identical content in the batch is stored once", inst.name);
        assert_eq!(
            name(&out[5]),
            Ok("new_version"),
            "{}: a key repeated in the batch gets versions in order",
            inst.name
        );
        assert!(out[6].is_err(), "{}: a missing source fails that item only", inst.name);
        assert_eq!(name(&out[7]), Ok("created"), "{}", inst.name);

        let zero = out[0].as_ref().unwrap().artifact();
        assert_eq!(out[4].as_ref().unwrap().artifact().uid, zero.uid, "{}: the duplicate names the first", inst.name);
        let v1 = out[3].as_ref().unwrap().artifact();
        assert_eq!((v1.stem(), v1.version_index(), v1.is_latest), (old.stem(), 1, true), "{}", inst.name);
        let second = out[5].as_ref().unwrap().artifact();
        assert_eq!((second.stem(), second.version_index()), (zero.stem(), 1), "{}", inst.name);
        assert_eq!(t.get("bulk/0.txt").await.unwrap().uid, second.uid, "{}: the later version is the head", inst.name);
        assert_eq!(t.load_bytes(second).await.unwrap().as_ref(), b"zero, second version");

        let stored = out
            .iter()
            .filter(|r| matches!(r, Ok(SaveOutcome::Created { .. } | SaveOutcome::NewVersion { .. })))
            .count();
        assert_eq!(
            managed_objects(&inst.store).await - before,
            stored,
            "{}: bytes exactly for the new records",
            inst.name
        );
        inst.check().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transfer_in_the_middle_leaves_nothing_half_written() {
    let faults: Mutex<Vec<Arc<FaultInjection>>> = Mutex::new(Vec::new());
    let wrap = |s: Arc<dyn ObjectStore>| -> Arc<dyn ObjectStore> {
        let f = Arc::new(FaultInjection::new(s));
        faults.lock().unwrap().push(Arc::clone(&f));
        f
    };
    let insts = instances_wrapped(Pairs::S3, &wrap).await;
    let faults = faults.into_inner().unwrap();
    for (inst, fault) in insts.iter().zip(faults) {
        let before = managed_objects(&inst.store).await;
        // The 5th transfer's close fails: that item's bytes never become visible.
        fault.fail_nth(FaultOp::Close, 5);
        let items: Vec<SaveItem> =
            (0..10).map(|i| bytes_item(&format!("f/{i}.txt"), &format!("content {i}"))).collect();
        let out = inst.trove.save_many(items).await;
        fault.clear();
        let failed: Vec<usize> = out.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(i, _)| i).collect();
        assert_eq!(failed.len(), 1, "{}: exactly the faulted item fails: {out:?}", inst.name);
        let listed = inst.trove.count(&ArtifactQuery::new().key_prefix("f/")).await.unwrap();
        assert_eq!(listed, 9, "{}: no row for the failed item", inst.name);
        assert_eq!(managed_objects(&inst.store).await - before, 9, "{}: no bytes for the failed item", inst.name);
        inst.check().await;
        // The failed item saves fine afterwards, as a new family.
        let i = failed[0];
        let again = inst.trove.save(format!("content {i}").into_bytes(), SaveOptions::key(format!("f/{i}.txt"))).await;
        assert_eq!(again.unwrap().name(), "created", "{}", inst.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_each_keys_files_by_relative_path_and_refuses_links() {
    for inst in instances(Pairs::S3).await {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
        std::fs::write(dir.path().join("a.csv"), "a").unwrap();
        std::fs::write(dir.path().join("sub/b.csv"), "b").unwrap();
        std::fs::write(dir.path().join("sub/deeper/c.txt"), "c").unwrap();
        let out = inst.trove.save_each(dir.path(), Some("raw"), SaveOptions::default()).await.unwrap();
        let rels: Vec<&str> = out.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(rels, ["a.csv", "sub/b.csv", "sub/deeper/c.txt"], "{}", inst.name);
        for (rel, r) in &out {
            let a = r.as_ref().unwrap_or_else(|e| panic!("{}: {rel}: {e}", inst.name)).artifact();
            assert_eq!(a.key.as_ref().unwrap().as_str(), format!("raw/{rel}"));
        }
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("sub/link.txt")).unwrap();
        let before = inst.trove.count(&ArtifactQuery::new().branch(BranchSelection::All)).await.unwrap();
        let err = inst.trove.save_each(dir.path(), Some("again/"), SaveOptions::default()).await.expect_err("a link");
        assert_eq!(err.kind(), ErrorKind::UnsupportedSource, "{}: {err}", inst.name);
        assert_eq!(inst.trove.count(&ArtifactQuery::new().branch(BranchSelection::All)).await.unwrap(), before);
        inst.check().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_by_query_selects_set_based() {
    for inst in instances(Pairs::S3).await {
        let t = &inst.trove;
        let mut items: Vec<SaveItem> =
            (0..12).map(|i| bytes_item(&format!("raw/{i:02}.txt"), &format!("raw {i}"))).collect();
        items.extend((0..4).map(|i| bytes_item(&format!("keep/{i}.txt"), &format!("keep {i}"))));
        assert!(t.save_many(items).await.iter().all(|r| r.is_ok()));
        t.save(b"raw 3, v1".to_vec(), SaveOptions::key("raw/03.txt")).await.unwrap();
        t.create_label("gold", None).await.unwrap();
        let keep: Vec<trove::Uid> =
            t.list(&ArtifactQuery::new().key_prefix("keep/")).await.unwrap().into_iter().map(|a| a.uid).collect();
        t.label_artifacts("gold", &keep[..2]).await.unwrap();

        let err = t.trash_matching(&ArtifactQuery::new()).await.expect_err("an empty selection");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{}", inst.name);

        let moved = t.trash_matching(&ArtifactQuery::new().key_prefix("raw/")).await.unwrap();
        assert_eq!(moved.len(), 13, "{}: every version under the prefix", inst.name);
        assert_eq!(t.count(&ArtifactQuery::new()).await.unwrap(), 4, "{}: only keep/ is left on main", inst.name);
        let trash = ArtifactQuery::new().branch(BranchSelection::Only(BranchId::TRASH));
        assert_eq!(t.count(&trash).await.unwrap(), 13);

        let restored =
            t.restore_matching(&ArtifactQuery { key_prefix: Some("raw/1".into()), ..trash.clone() }).await.unwrap();
        assert_eq!(restored.len(), 2, "{}: raw/10 and raw/11", inst.name);

        let archived = t.archive_matching(&ArtifactQuery::new().label("gold")).await.unwrap();
        assert_eq!(archived.len(), 2, "{}: the labelled ones", inst.name);
        let archive = ArtifactQuery::new().branch(BranchSelection::Only(BranchId::ARCHIVE));
        assert_eq!(t.count(&archive).await.unwrap(), 2);

        let report = t.delete_permanently_matching(&trash, StoragePolicy::Auto).await.unwrap();
        assert_eq!(report.purged.len(), 11, "{}: the whole trash, by branch", inst.name);
        assert_eq!(t.count(&trash).await.unwrap(), 0);
        assert_eq!(t.count(&ArtifactQuery::new().branch(BranchSelection::All)).await.unwrap(), 6);
        inst.check().await;

        // Many locators resolve in one call, in order; a missing one is named.
        let live = t.list(&ArtifactQuery::new().branch(BranchSelection::All)).await.unwrap();
        let mut names: Vec<String> = live.iter().map(|a| a.uid.to_string()).collect();
        names.push("raw/10.txt".into());
        let found = t.get_many_in(&names, BranchSelection::All).await.unwrap();
        assert_eq!(found.len(), names.len());
        assert_eq!(found.last().unwrap().key.as_ref().unwrap().as_str(), "raw/10.txt");
        names.push("no/such.txt".into());
        let err = t.get_many_in(&names, BranchSelection::All).await.expect_err("a missing key");
        assert!(err.message().contains("no/such.txt"), "{err}");
    }
}
