//! Collections and labels through the façade, on SQLite + local disk and PostgreSQL + S3
//! (garage) when the harness provides them: collections never touch their artifacts, members
//! are protected from permanent deletion, labels filter listings and are protected while
//! attached.

use trove::{
    ArtifactQuery, BranchId, BranchSelection, CollectionOptions, CollectionQuery, ErrorKind, Labeled, SaveOptions,
    StoragePolicy, Transition, Trove,
};
mod common;

use common::{Pairs, instances};

async fn save(t: &Trove, key: &str, content: &str) -> trove::Artifact {
    t.save(bytes::Bytes::from(content.to_owned()), SaveOptions::key(key)).await.unwrap().into_artifact()
}

#[tokio::test]
async fn collections_on_every_backend() {
    for inst in instances(Pairs::S3).await {
        let (t, store, name) = (&inst.trove, &inst.store, inst.name);
        let a = save(t, "runs/a.csv", "a,1\n").await;
        let b = save(t, "runs/b.csv", "b,2\n").await;
        let c = save(t, "runs/c.csv", "c,3\n").await;

        let made = t.create_collection(&[b.uid.clone(), a.uid.clone()], CollectionOptions::key("runs")).await.unwrap();
        assert_eq!(made.name(), "created", "{name}");
        let v0 = made.collection().clone();
        assert_eq!(v0.members, vec![b.uid.clone(), a.uid.clone()], "{name}: members keep their order");
        assert_eq!(v0.hash.len(), 22, "{name}");
        let same = t.create_collection(&[b.uid.clone(), a.uid.clone()], CollectionOptions::key("runs")).await.unwrap();
        assert_eq!(same.name(), "existing", "{name}: the same members again change nothing");
        let reordered =
            t.create_collection(&[a.uid.clone(), b.uid.clone()], CollectionOptions::key("runs")).await.unwrap();
        assert_eq!(reordered.name(), "new_version", "{name}: another order is another version");
        assert_eq!(reordered.collection().hash, v0.hash, "{name}: the hash is order-independent");
        let v1 = reordered.collection().clone();
        assert_eq!((v1.uid.stem(), v1.uid.version_suffix()), (v0.uid.stem(), "0001"), "{name}");
        assert_eq!(t.collection("runs").await.unwrap().uid, v1.uid, "{name}: the key finds the head");
        let members: Vec<_> = t.collection_members(&v1).await.unwrap().into_iter().map(|m| m.uid).collect();
        assert_eq!(members, vec![a.uid.clone(), b.uid.clone()], "{name}");

        // Trashing and restoring a collection leaves its artifacts where they are.
        let moved = t.trash_collections(std::slice::from_ref(&v1.uid)).await.unwrap();
        assert_eq!(moved[0].transition, Transition::Move { from: BranchId::MAIN, to: BranchId::TRASH }, "{name}");
        assert_eq!(t.collection("runs").await.unwrap().uid, v0.uid, "{name}: the previous version is the head");
        assert_eq!(t.count(&ArtifactQuery::new()).await.unwrap(), 3, "{name}: artifacts untouched");
        let trash = CollectionQuery { branch: BranchSelection::Only(BranchId::TRASH), ..Default::default() };
        assert_eq!(t.collections(&trash).await.unwrap().len(), 1, "{name}");
        t.restore_collections(std::slice::from_ref(&v1.uid)).await.unwrap();
        assert_eq!(t.collection("runs").await.unwrap().uid, v1.uid, "{name}: restored as head");

        // Members are protected from permanent deletion, in any branch; trashing is allowed.
        let err = t.delete_permanently(&[a.uid.clone(), c.uid.clone()], StoragePolicy::Auto).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protected, "{name}");
        assert!(err.message().contains("'runs'") && err.message().contains(v0.uid.as_str()), "{name}: {err}");
        assert!(store.stat(&a.storage_key()).await.unwrap().is_some(), "{name}: no bytes deleted");
        assert!(t.get(c.uid.as_str()).await.is_ok(), "{name}: nothing deleted, not even the free artifact");
        t.trash(std::slice::from_ref(&a.uid)).await.unwrap();
        assert_eq!(
            t.delete_permanently(std::slice::from_ref(&a.uid), StoragePolicy::Auto).await.unwrap_err().kind(),
            ErrorKind::Protected,
            "{name}"
        );

        // Deleting collections permanently removes membership rows only; then members can go.
        let gone = t.delete_collections_permanently(&[v0.uid.clone(), v1.uid.clone()]).await.unwrap();
        assert_eq!(gone.len(), 2, "{name}");
        assert_eq!(t.count(&ArtifactQuery::new().branch(BranchSelection::All)).await.unwrap(), 3, "{name}");
        assert!(store.stat(&a.storage_key()).await.unwrap().is_some(), "{name}: artifact bytes stay");
        let rep = t.delete_permanently(std::slice::from_ref(&a.uid), StoragePolicy::Auto).await.unwrap();
        assert_eq!(rep.removed_paths().count(), 1, "{name}");
        let again = t.create_collection(std::slice::from_ref(&c.uid), CollectionOptions::key("runs")).await.unwrap();
        assert_eq!(again.collection().uid.version_suffix(), "0000", "{name}: a new family for the freed key");
        eprintln!("{name}: collections ok");
    }
}

#[tokio::test]
async fn labels_on_every_backend() {
    for inst in instances(Pairs::S3).await {
        let (t, name) = (&inst.trove, inst.name);
        let a = save(t, "l/a.csv", "a\n").await;
        let b = save(t, "l/b.csv", "b\n").await;
        let coll = t.create_collection(std::slice::from_ref(&a.uid), CollectionOptions::key("set")).await.unwrap();
        t.create_label("qc-passed", Some("checked by QC")).await.unwrap();
        assert_eq!(t.create_label("qc-passed", None).await.unwrap_err().kind(), ErrorKind::Conflict, "{name}");
        let targets = t.resolve_labeled(&["l/a.csv".into(), coll.collection().uid.to_string()]).await.unwrap();
        assert_eq!(
            targets,
            vec![Labeled::Artifact(a.uid.clone()), Labeled::Collection(coll.collection().uid.clone())],
            "{name}"
        );
        assert_eq!(t.attach_label("qc-passed", &targets).await.unwrap(), 2, "{name}");
        let listed = t.list(&ArtifactQuery::new().label("qc-passed")).await.unwrap();
        assert_eq!(listed.iter().map(|x| x.uid.clone()).collect::<Vec<_>>(), vec![a.uid.clone()], "{name}");
        assert!(!listed.iter().any(|x| x.uid == b.uid), "{name}");
        let labelled = CollectionQuery { labels: Some(vec!["qc-passed".into()]), ..Default::default() };
        assert_eq!(t.collections(&labelled).await.unwrap().len(), 1, "{name}");

        t.trash_labels(&["qc-passed".into()]).await.unwrap();
        assert!(t.labels(BranchSelection::Default).await.unwrap().is_empty(), "{name}: trashed labels are hidden");
        let err = t.delete_labels_permanently(&["qc-passed".into()]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protected, "{name}");
        assert!(err.message().contains("detach"), "{name}: {err}");
        t.detach_label("qc-passed", &targets).await.unwrap();
        t.delete_labels_permanently(&["qc-passed".into()]).await.unwrap();
        assert!(t.labels(BranchSelection::All).await.unwrap().is_empty(), "{name}");
        eprintln!("{name}: labels ok");
    }
}

/// `delete`'s decision for collections and labels, as for artifacts: the plan says which go to
/// the trash and which are there already (only a confirmed permanent deletion removes those);
/// a key or name is resolved on every branch, and an unknown one is NotFound.
#[tokio::test]
async fn delete_plans_for_collections_and_labels() {
    for inst in instances(Pairs::S3).await {
        let (t, name) = (&inst.trove, inst.name);
        let a = save(t, "p/a.csv", "a\n").await;
        let live = t.create_collection(std::slice::from_ref(&a.uid), CollectionOptions::key("live")).await.unwrap();
        let gone = t.create_collection(std::slice::from_ref(&a.uid), CollectionOptions::key("gone")).await.unwrap();
        let (live, gone) = (live.collection().uid.clone(), gone.collection().uid.clone());
        t.trash_collections(std::slice::from_ref(&gone)).await.unwrap();
        assert_eq!(t.collection_in("gone", BranchSelection::All).await.unwrap().uid, gone, "{name}");
        assert_eq!(t.collection("gone").await.unwrap_err().kind(), ErrorKind::NotFound, "{name}: main only");

        let plan = t.plan_delete_collections(&[gone.clone(), live.clone(), gone.clone()]).await.unwrap();
        let uids = |cs: &[trove::Collection]| cs.iter().map(|c| c.uid.clone()).collect::<Vec<_>>();
        assert_eq!(uids(&plan.to_trash), vec![live.clone()], "{name}");
        assert_eq!(uids(&plan.already_in_trash), vec![gone.clone()], "{name}: each once");
        let unknown = trove::Uid::parse("AAAAAAAAAAAAAAAA0000").unwrap();
        let err = t.plan_delete_collections(&[live.clone(), unknown]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{name}");
        assert!(err.message().contains("AAAAAAAAAAAAAAAA0000"), "{name}: {err}");

        t.create_label("keep", None).await.unwrap();
        t.create_label("old", None).await.unwrap();
        t.trash_labels(&["old".to_owned()]).await.unwrap();
        let plan = t.plan_delete_labels(&["old".to_owned(), "keep".to_owned()]).await.unwrap();
        let names = |ls: &[trove::Label]| ls.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
        assert_eq!((names(&plan.to_trash), names(&plan.already_in_trash)), (vec!["keep".into()], vec!["old".into()]));
        let err = t.plan_delete_labels(&["keep".to_owned(), "nope".to_owned()]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{name}");
        assert!(err.message().contains("'nope'"), "{name}: {err}");
        // A plan changes nothing.
        let all = CollectionQuery { branch: BranchSelection::All, ..Default::default() };
        assert_eq!(t.collections(&all).await.unwrap().len(), 2, "{name}");
        assert_eq!(t.label("keep").await.unwrap().branch, BranchId::MAIN, "{name}");
    }
}
