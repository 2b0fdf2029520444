//! Conformance checks for collections, labels and never-reused version suffixes (spec 1,
//! sections 4 and 6). Re-exported from [`crate::catalog_suite`].

use super::*;
use trove_domain::collection::collection_hash;
use trove_domain::{Collection, CollectionQuery, LabelQuery, Labeled, NewCollection, NewLabel};

impl Ctx {
    fn new_collection(&self, key: Option<&str>, members: &[&Artifact]) -> NewCollection {
        NewCollection {
            uid: Uid::new_family(),
            key: key.map(str::to_owned),
            description: if key.is_none() { Some("a keyless collection".into()) } else { None },
            members: members.iter().map(|a| a.uid.clone()).collect(),
            hash: collection_hash(members.iter().map(|a| a.hash.as_str())),
            created_by: self.user,
            revises: None,
            created_at: self.time(),
        }
    }

    async fn collection(&self, key: Option<&str>, members: &[&Artifact]) -> Collection {
        let new = self.new_collection(key, members);
        self.cat.create_collection(&new).await.unwrap_or_else(|e| panic!("create collection {key:?}: {e:?}"))
    }

    async fn collection_version(&self, head: &Collection, members: &[&Artifact]) -> Collection {
        let max = self.cat.max_collection_version(&head.stem()).await.expect("max").expect("family exists");
        let new = NewCollection {
            uid: head.stem().uid(max + 1).expect("uid"),
            revises: Some(head.uid.clone()),
            key: head.key.clone(),
            ..self.new_collection(None, members)
        };
        self.cat.create_collection(&new).await.unwrap_or_else(|e| panic!("collection version: {e:?}"))
    }

    async fn coll(&self, uid: &Uid) -> Collection {
        let q = CollectionQuery { branch: BranchSelection::All, uids: Some(vec![uid.clone()]), ..Default::default() };
        self.cat.collections(&q).await.expect("collections").pop().unwrap_or_else(|| panic!("{uid} visible"))
    }

    async fn label(&self, name: &str) -> trove_domain::Label {
        let new = NewLabel { name: name.into(), description: None, created_by: self.user, created_at: self.time() };
        self.cat.create_label(&new).await.unwrap_or_else(|e| panic!("create label {name}: {e:?}"))
    }
}

/// Check the head invariant for one collection family.
async fn assert_collection_heads(cat: &dyn Catalog, stem: &Stem) {
    let q = CollectionQuery { branch: BranchSelection::All, stem: Some(stem.clone()), ..Default::default() };
    let rows = cat.collections(&q).await.expect("list a collection family");
    let mut by_branch: BTreeMap<BranchId, Vec<&Collection>> = BTreeMap::new();
    for c in &rows {
        by_branch.entry(c.branch).or_default().push(c);
    }
    for (branch, rows) in by_branch {
        let heads: Vec<String> = rows.iter().filter(|c| c.is_latest).map(|c| c.uid.to_string()).collect();
        let newest = rows.iter().max_by_key(|c| c.version_index()).expect("non-empty");
        assert_eq!(heads, vec![newest.uid.to_string()], "collection family {stem} on {branch}: one head, the newest");
    }
}

/// Version suffixes are never reused: `max_version` is a high-water mark that survives the
/// permanent deletion of a family's newest versions, and of the whole family.
pub async fn version_suffixes_never_reused(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("hw.csv", 3).await;
    let stem = v[0].stem();
    ctx.cat.begin_purge(std::slice::from_ref(&v[2].uid), StoragePolicy::Auto).await.expect("begin_purge");
    assert_eq!(ctx.cat.finish_purge(std::slice::from_ref(&v[2].uid)).await.expect("finish"), 1);
    assert_eq!(ctx.cat.max_version(&stem).await.expect("max"), Some(2), "the newest version's index stays taken");
    let reuse = ctx.version_at(&v[1], 2, "reuse");
    let err = ctx.cat.create_artifact(&reuse).await.expect_err("a purged version's suffix is not reused");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");
    let v3 = ctx.version(&v[1], "after purge").await;
    assert_eq!(v3.uid.version_suffix(), "0003", "the next version follows the high-water mark");
    assert_heads(ctx.dyn_cat(), &stem).await;

    let all = [v[0].uid.clone(), v[1].uid.clone(), v3.uid.clone()];
    ctx.cat.begin_purge(&all, StoragePolicy::Auto).await.expect("purge the family");
    ctx.cat.finish_purge(&all).await.expect("finish");
    assert_eq!(ctx.cat.max_version(&stem).await.expect("max"), Some(3), "a family gone for good keeps its mark");
    let mut again = ctx.family(Some("hw.csv"), "a new family for the key");
    again.uid = stem.uid(0).expect("uid");
    let err = ctx.cat.create_artifact(&again).await.expect_err("a purged family's stem is not reused");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");
    let fresh = ctx.create(Some("hw.csv"), "a new family for the key").await;
    assert_ne!(fresh.stem(), stem);
    Ok(Outcome::Passed)
}

/// A collection reads back with its members in order, key, hash, head; versions move the head;
/// invalid creates (stale revises, repeated or missing members) insert nothing.
pub async fn collection_create_and_read_back(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("c/a.csv"), "a").await;
    let b = ctx.create(Some("c/b.csv"), "b").await;
    let c = ctx.create(None, "c").await;
    let new = ctx.new_collection(Some("runs/2024"), &[&b, &a, &c]);
    let col = ctx.cat.create_collection(&new).await.expect("create collection");
    assert_eq!(col.uid, new.uid);
    assert_eq!(col.members, vec![b.uid.clone(), a.uid.clone(), c.uid.clone()], "members keep their order");
    assert_eq!(col.key.as_deref(), Some("runs/2024"));
    assert_eq!(col.hash, collection_hash([a.hash.as_str(), b.hash.as_str(), c.hash.as_str()]), "order-independent");
    assert!(col.is_latest && col.branch == BranchId::MAIN && col.trashed_from.is_none());
    assert_eq!((col.created_by.as_str(), col.created_at), ("alice", new.created_at));
    assert_eq!(ctx.coll(&col.uid).await, col, "collections() returns what create returned");
    let by_key = CollectionQuery { key: Some("runs/2024".into()), ..Default::default() };
    assert_eq!(ctx.cat.collections(&by_key).await.expect("by key"), vec![col.clone()]);
    let head = ctx.cat.collection_head_by_key("runs/2024").await.expect("head").expect("some");
    assert_eq!(head.uid, col.uid);
    assert_eq!(ctx.cat.collection_head_by_key("nope").await.expect("head"), None);

    let v1 = ctx.collection_version(&col, &[&a]).await;
    assert_eq!((v1.stem(), v1.version_index(), v1.members.clone()), (col.stem(), 1, vec![a.uid.clone()]));
    assert!(!ctx.coll(&col.uid).await.is_latest, "the new version takes the head");
    assert_collection_heads(ctx.dyn_cat(), &col.stem()).await;
    let latest = CollectionQuery { latest_only: true, ..by_key.clone() };
    assert_eq!(ctx.cat.collections(&latest).await.expect("heads").len(), 1);
    assert_eq!(ctx.cat.max_collection_version(&col.stem()).await.expect("max"), Some(1));

    let mut stale = ctx.new_collection(Some("runs/2024"), &[&b]);
    stale.uid = col.stem().uid(2).expect("uid");
    stale.revises = Some(col.uid.clone());
    let err = ctx.cat.create_collection(&stale).await.expect_err("stale revises");
    assert_eq!(err.kind(), ErrorKind::StaleRevises, "{err:?}");
    let err = ctx.cat.create_collection(&ctx.new_collection(Some("runs/2024"), &[&b])).await.expect_err("taken key");
    assert_eq!(err.kind(), ErrorKind::StaleRevises, "{err:?}");
    let err = ctx.cat.create_collection(&ctx.new_collection(None, &[&a, &b, &a])).await.expect_err("repeat");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
    let mut ghost = ctx.new_collection(None, &[&a]);
    ghost.members.push(Uid::new_family());
    let err = ctx.cat.create_collection(&ghost).await.expect_err("missing member");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
    let everything = CollectionQuery { branch: BranchSelection::All, ..Default::default() };
    assert_eq!(ctx.cat.collections(&everything).await.expect("all").len(), 2, "failed creates insert nothing");

    let empty = ctx.collection(None, &[]).await;
    assert!(empty.members.is_empty());
    let holding_a = CollectionQuery { containing: Some(vec![a.uid.clone()]), ..Default::default() };
    let found: Vec<Uid> =
        ctx.cat.collections(&holding_a).await.expect("containing").into_iter().map(|c| c.uid).collect();
    assert_eq!(sorted(found), sorted(vec![col.uid.clone(), v1.uid.clone()]));
    let holding_c = CollectionQuery { containing: Some(vec![c.uid.clone()]), ..Default::default() };
    assert_eq!(ctx.cat.collections(&holding_c).await.expect("containing").len(), 1);
    Ok(Outcome::Passed)
}

/// Trash, restore, archive and permanent deletion of collections never touch member artifacts;
/// heads and the version high-water mark behave as for artifacts.
pub async fn collection_lifecycle_leaves_members(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("m/a.csv"), "a").await;
    let b = ctx.create(Some("m/b.csv"), "b").await;
    let v0 = ctx.collection(Some("set"), &[&a, &b]).await;
    let v1 = ctx.collection_version(&v0, &[&b]).await;
    let artifacts_before = ctx.all().await;

    let r = ctx.cat.apply_collection_transition(std::slice::from_ref(&v1.uid), Operation::Trash).await.expect("trash");
    assert_eq!(r[0].transition, Transition::Move { from: BranchId::MAIN, to: BranchId::TRASH });
    assert_eq!((r[0].collection.branch, r[0].collection.trashed_from), (BranchId::TRASH, Some(BranchId::MAIN)));
    assert!(ctx.coll(&v0.uid).await.is_latest, "the previous version becomes the head on main");
    assert_eq!(ctx.all().await, artifacts_before, "trashing a collection leaves its artifacts where they are");
    let main = ctx.cat.collections(&CollectionQuery::default()).await.expect("main");
    assert_eq!(main.iter().map(|c| c.uid.clone()).collect::<Vec<_>>(), vec![v0.uid.clone()], "default: main only");
    let err = ctx.cat.apply_collection_transition(std::slice::from_ref(&v1.uid), Operation::Trash).await;
    assert_eq!(err.expect_err("again").kind(), ErrorKind::AlreadyInTrash);
    let err = ctx.cat.apply_collection_transition(&[v0.uid.clone(), Uid::new_family()], Operation::Archive).await;
    assert_eq!(err.expect_err("missing uid").kind(), ErrorKind::NotFound);
    assert_eq!(ctx.coll(&v0.uid).await.branch, BranchId::MAIN, "an invalid batch changes nothing");

    ctx.cat.apply_collection_transition(std::slice::from_ref(&v0.uid), Operation::Archive).await.expect("archive");
    ctx.cat.apply_collection_transition(std::slice::from_ref(&v0.uid), Operation::Trash).await.expect("trash");
    let r = ctx.cat.apply_collection_transition(std::slice::from_ref(&v0.uid), Operation::Restore).await.expect("back");
    assert_eq!(r[0].transition, Transition::Move { from: BranchId::TRASH, to: BranchId::ARCHIVE }, "to its origin");
    let r = ctx.cat.apply_collection_transition(std::slice::from_ref(&v1.uid), Operation::Restore).await.expect("back");
    assert_eq!((r[0].collection.branch, r[0].collection.is_latest), (BranchId::MAIN, true));
    assert_collection_heads(ctx.dyn_cat(), &v0.stem()).await;
    assert_eq!(ctx.all().await, artifacts_before);

    let gone = ctx.cat.purge_collections(std::slice::from_ref(&v1.uid)).await.expect("purge");
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].members, vec![b.uid.clone()], "purge returns the collection as it was");
    assert_eq!(ctx.all().await, artifacts_before, "deleting a collection permanently never deletes artifacts");
    let everything = CollectionQuery { branch: BranchSelection::All, ..Default::default() };
    assert_eq!(ctx.cat.collections(&everything).await.expect("all").len(), 1);
    let holding_b =
        CollectionQuery { branch: BranchSelection::All, containing: Some(vec![b.uid.clone()]), ..Default::default() };
    assert_eq!(ctx.cat.collections(&holding_b).await.expect("containing").len(), 1, "v0 still holds b");
    assert_eq!(ctx.cat.max_collection_version(&v0.stem()).await.expect("max"), Some(1), "the mark stays");
    let err = ctx.cat.purge_collections(&[v0.uid.clone(), v1.uid.clone()]).await.expect_err("v1 is gone");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(ctx.coll(&v0.uid).await.branch, BranchId::ARCHIVE, "a failed purge deletes nothing");
    Ok(Outcome::Passed)
}

/// An artifact in any collection, on any branch, cannot be deleted permanently: a Protected
/// error names the collection and nothing is marked. Trashing it is allowed.
pub async fn collection_members_are_protected(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("p/a.csv"), "a").await;
    let free = ctx.create(Some("p/free.csv"), "free").await;
    let col = ctx.collection(Some("protects"), &[&a]).await;
    ctx.cat.apply_collection_transition(std::slice::from_ref(&col.uid), Operation::Trash).await.expect("trash coll");

    let err =
        ctx.cat.begin_purge(&[free.uid.clone(), a.uid.clone()], StoragePolicy::Auto).await.expect_err("a is protected");
    assert_eq!(err.kind(), ErrorKind::Protected, "{err:?}");
    assert!(err.message().contains(col.uid.as_str()), "the error names the collection: {}", err.message());
    assert!(err.message().contains("protects"), "and its key: {}", err.message());
    assert!(err.message().contains(a.uid.as_str()), "and the artifact: {}", err.message());
    assert_eq!(ctx.get(&a.uid).await.pending, None, "nothing was marked");
    assert_eq!(ctx.get(&free.uid).await.pending, None, "nothing was marked, not even the free artifact");

    let r = ctx.apply(&[&a.uid], Operation::Trash).await;
    assert_eq!(r[0].0.branch, BranchId::TRASH, "trashing a member is allowed");
    let err = ctx
        .cat
        .begin_purge(std::slice::from_ref(&a.uid), StoragePolicy::Auto)
        .await
        .expect_err("still protected in the trash");
    assert_eq!(err.kind(), ErrorKind::Protected);
    assert_eq!(ctx.coll(&col.uid).await.members, vec![a.uid.clone()], "the membership stays");

    ctx.cat.purge_collections(std::slice::from_ref(&col.uid)).await.expect("purge the collection");
    ctx.cat.begin_purge(std::slice::from_ref(&a.uid), StoragePolicy::Auto).await.expect("no longer protected");
    assert_eq!(ctx.cat.finish_purge(std::slice::from_ref(&a.uid)).await.expect("finish"), 1);
    Ok(Outcome::Passed)
}

/// Labels: unique names, attach/detach to artifacts and collections, the label filter (every
/// label must match), soft deletion, and refusal to delete a label still attached.
pub async fn labels_attach_filter_and_protect(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("l/a.csv"), "a").await;
    let b = ctx.create(Some("l/b.csv"), "b").await;
    let c = ctx.create(Some("l/c.csv"), "c").await;
    let col = ctx.collection(Some("labelled"), &[&a]).await;
    let qc = ctx.label("qc-passed").await;
    assert_eq!(
        (qc.name.as_str(), qc.branch, qc.n_artifacts, qc.created_by.as_str()),
        ("qc-passed", BranchId::MAIN, 0, "alice")
    );
    let raw = ctx.label("raw").await;
    assert_eq!(raw.branch, BranchId::MAIN);
    let dup = NewLabel { name: "qc-passed".into(), description: None, created_by: ctx.user, created_at: ctx.time() };
    assert_eq!(ctx.cat.create_label(&dup).await.expect_err("taken").kind(), ErrorKind::Conflict);

    let n = ctx
        .cat
        .attach_label(
            "qc-passed",
            &[Labeled::Artifact(a.uid.clone()), Labeled::Artifact(b.uid.clone()), Labeled::Collection(col.uid.clone())],
        )
        .await
        .expect("attach");
    assert_eq!(n, 3);
    assert_eq!(
        ctx.cat.attach_label("qc-passed", &[Labeled::Artifact(a.uid.clone())]).await.expect("again"),
        0,
        "idempotent"
    );
    ctx.cat
        .attach_label("raw", &[Labeled::Artifact(b.uid.clone()), Labeled::Artifact(c.uid.clone())])
        .await
        .expect("attach");
    let err = ctx.cat.attach_label("raw", &[Labeled::Artifact(Uid::new_family())]).await.expect_err("missing target");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = ctx.cat.attach_label("nope", &[Labeled::Artifact(a.uid.clone())]).await.expect_err("missing label");
    assert_eq!(err.kind(), ErrorKind::NotFound);

    let with = |names: &[&str]| ArtifactQuery {
        labels: Some(names.iter().map(|s| (*s).to_owned()).collect()),
        ..ArtifactQuery::new()
    };
    assert_eq!(sorted(ctx.uids(&with(&["qc-passed"])).await), sorted(vec![a.uid.clone(), b.uid.clone()]));
    assert_eq!(ctx.uids(&with(&["qc-passed", "raw"])).await, vec![b.uid.clone()], "every label must match");
    assert_eq!(ctx.cat.count_artifacts(&with(&["raw"])).await.expect("count"), 2);
    assert!(ctx.uids(&with(&["unknown"])).await.is_empty());
    let cols = CollectionQuery { labels: Some(vec!["qc-passed".into()]), ..Default::default() };
    assert_eq!(ctx.cat.collections(&cols).await.expect("labelled collections").len(), 1);
    let of_b = LabelQuery { attached_to: Some(Labeled::Artifact(b.uid.clone())), ..Default::default() };
    let names: Vec<String> = ctx.cat.labels(&of_b).await.expect("labels of b").into_iter().map(|l| l.name).collect();
    assert_eq!(names, vec!["qc-passed".to_owned(), "raw".to_owned()]);
    let of_col = LabelQuery { attached_to: Some(Labeled::Collection(col.uid.clone())), ..Default::default() };
    assert_eq!(ctx.cat.labels(&of_col).await.expect("labels of col").len(), 1);
    let qc =
        ctx.cat.labels(&LabelQuery { names: Some(vec!["qc-passed".into()]), ..Default::default() }).await.expect("qc");
    assert_eq!((qc[0].n_artifacts, qc[0].n_collections), (2, 1));

    // Soft deletion: trashed labels hide from default listings, still filter, cannot be attached.
    let r = ctx.cat.apply_label_transition(&["raw".to_owned()], Operation::Trash).await.expect("trash label");
    assert_eq!(r[0].transition, Transition::Move { from: BranchId::MAIN, to: BranchId::TRASH });
    assert_eq!(r[0].label.trashed_from, Some(BranchId::MAIN));
    let listed: Vec<String> =
        ctx.cat.labels(&LabelQuery::default()).await.expect("labels").into_iter().map(|l| l.name).collect();
    assert_eq!(listed, vec!["qc-passed".to_owned()], "default: main only");
    assert_eq!(ctx.uids(&with(&["raw"])).await.len(), 2, "links survive trashing the label");
    let err = ctx.cat.attach_label("raw", &[Labeled::Artifact(a.uid.clone())]).await.expect_err("trashed label");
    assert_eq!(err.kind(), ErrorKind::InvalidTransition);
    let err = ctx.cat.apply_label_transition(&["raw".to_owned()], Operation::Trash).await.expect_err("again");
    assert_eq!(err.kind(), ErrorKind::AlreadyInTrash);

    // A label still attached is protected; detaching frees it.
    let err = ctx.cat.purge_labels(&["raw".to_owned()]).await.expect_err("attached");
    assert_eq!(err.kind(), ErrorKind::Protected, "{err:?}");
    assert!(err.message().contains("detach"), "the error says to detach first: {}", err.message());
    assert_eq!(ctx.uids(&with(&["raw"])).await.len(), 2, "nothing was deleted");
    let n = ctx
        .cat
        .detach_label("raw", &[Labeled::Artifact(b.uid.clone()), Labeled::Artifact(c.uid.clone())])
        .await
        .expect("detach");
    assert_eq!(n, 2);
    let gone = ctx.cat.purge_labels(&["raw".to_owned()]).await.expect("purge detached label");
    assert_eq!(gone[0].name, "raw");
    let all_labels = LabelQuery { branch: BranchSelection::All, ..Default::default() };
    assert_eq!(ctx.cat.labels(&all_labels).await.expect("labels").len(), 1);
    assert_eq!(ctx.cat.purge_labels(&["raw".to_owned()]).await.expect_err("gone").kind(), ErrorKind::NotFound);

    // Purging an artifact or a collection removes their label links with them.
    ctx.cat.purge_collections(std::slice::from_ref(&col.uid)).await.expect("purge collection");
    ctx.cat.begin_purge(std::slice::from_ref(&b.uid), StoragePolicy::Auto).await.expect("purge b");
    ctx.cat.finish_purge(std::slice::from_ref(&b.uid)).await.expect("finish b");
    let qc =
        ctx.cat.labels(&LabelQuery { names: Some(vec!["qc-passed".into()]), ..Default::default() }).await.expect("qc");
    assert_eq!((qc[0].n_artifacts, qc[0].n_collections), (1, 0));
    assert_eq!(ctx.uids(&with(&["qc-passed"])).await, vec![a.uid.clone()]);
    Ok(Outcome::Passed)
}

/// Concurrent `create_collection` (adding an artifact) and `begin_purge` (of that artifact):
/// either the collection is created and the purge is refused as Protected, or the purge wins
/// and the create fails with NotFound. Never both, never neither.
pub async fn concurrent_collect_and_purge(cats: &[Arc<dyn Catalog>], rounds: usize) -> CheckResult {
    let first = &cats[0];
    let ctx = setup(Arc::clone(first)).await;
    for round in 0..rounds {
        let a = ctx.create(Some(&format!("race/{round}.csv")), &format!("race {round}")).await;
        let new = ctx.new_collection(None, &[&a]);
        let (c1, c2) = (Arc::clone(&cats[0]), Arc::clone(&cats[1 % cats.len()]));
        let uid = a.uid.clone();
        let create = tokio::spawn(async move { c1.create_collection(&new).await.map(|_| ()).map_err(|e| e.kind()) });
        let purge =
            tokio::spawn(
                async move { c2.begin_purge(&[uid], StoragePolicy::Auto).await.map(|_| ()).map_err(|e| e.kind()) },
            );
        let (created, purged) = (create.await.expect("task"), purge.await.expect("task"));
        match (created, purged) {
            (Ok(()), Err(ErrorKind::Protected)) | (Err(ErrorKind::NotFound), Ok(())) => {}
            other => panic!("round {round}: create/purge race ended as {other:?}"),
        }
    }
    Ok(Outcome::Passed)
}
