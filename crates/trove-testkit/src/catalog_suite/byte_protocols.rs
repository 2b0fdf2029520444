//! Conformance checks for what the façade's byte protocols rely on (design, section 3): version
//! reservations (a writer owns its uid, and so its object key, before its row commits),
//! conditional updates of pending marks, one real-key placement per key, and purge marks that
//! record their storage policy. Re-exported from [`crate::catalog_suite`].

use super::*;

/// Concurrent reservations of one family never hand out the same index; each reservation
/// commits exactly once; an index nobody reserved, or one already consumed, is refused; a
/// version that commits after a higher one is not the head.
pub async fn reservations_are_exclusive(cat: Arc<dyn Catalog>) {
    let ctx = setup(cat).await;
    let v0 = ctx.create(Some("r.csv"), "v0").await;
    let stem = v0.stem();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (cat, stem) = (Arc::clone(&ctx.cat), stem.clone());
        tasks.push(tokio::spawn(async move { cat.reserve_version(&stem).await.expect("reserve") }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.expect("task"));
    }
    got.sort_unstable();
    assert_eq!(got, (1..=8).collect::<Vec<u32>>(), "every reservation is distinct");

    // Commit 8 before 7: both land, the higher one is the head.
    let newer = NewArtifact { strict_revises: false, ..ctx.version_at(&v0, 8, "eight") };
    let older = NewArtifact { strict_revises: false, ..ctx.version_at(&v0, 7, "seven") };
    let eight = ctx.cat.create_artifact(&newer).await.expect("commit 8");
    let seven = ctx.cat.create_artifact(&older).await.expect("commit 7 after 8");
    assert!(!seven.is_latest, "a version committed after a higher one is not the head");
    assert!(ctx.cat.artifact(&eight.uid).await.expect("read").expect("row").is_latest);
    assert_heads(ctx.dyn_cat(), &stem).await;

    let again = NewArtifact { content: hash_bytes(b"eight again"), ..newer };
    assert_eq!(ctx.cat.create_artifact(&again).await.expect_err("consumed").kind(), ErrorKind::Conflict);
    let unreserved = NewArtifact { strict_revises: false, ..ctx.version_at(&v0, 9, "nine") };
    assert_eq!(ctx.cat.create_artifact(&unreserved).await.expect_err("unreserved").kind(), ErrorKind::Conflict);
    assert_eq!(ctx.cat.reserve_version(&Stem::random()).await.expect_err("no such family").kind(), ErrorKind::NotFound);
    assert_eq!(ctx.cat.reserve_version(&stem).await.expect("reserve"), 9, "indexes continue past reservations");
}

/// `update_artifact` preconditions: a mark is set only on an unmarked row, cleared only by its
/// owner, and content changes only from the content the writer read; a failed precondition
/// changes nothing.
pub async fn conditional_updates(cat: Arc<dyn Catalog>) {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("c.csv"), "c").await;
    let mark = Pending::PlacingRealKey { managed_key: format!(".trove/{}.csv", a.uid), target: Some("c.csv".into()) };
    let set = ArtifactUpdate { pending: Some(Some(mark.clone())), if_pending: Some(None), ..Default::default() };
    let marked = ctx.cat.update_artifact(&a.uid, &set).await.expect("mark an unmarked row");
    assert_eq!(marked.pending, Some(mark.clone()));
    let err = ctx.cat.update_artifact(&a.uid, &set).await.expect_err("a second mark");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let other = Pending::PlacingRealKey { managed_key: "elsewhere".into(), target: None };
    let wrong_owner = ArtifactUpdate { pending: Some(None), if_pending: Some(Some(other)), ..Default::default() };
    assert_eq!(
        ctx.cat.update_artifact(&a.uid, &wrong_owner).await.expect_err("not its mark").kind(),
        ErrorKind::Conflict
    );
    let row = ctx.cat.pending_artifacts().await.expect("pending");
    assert_eq!(row.len(), 1, "the mark is still there");
    let clear = ArtifactUpdate { pending: Some(None), if_pending: Some(Some(mark)), ..Default::default() };
    assert_eq!(ctx.cat.update_artifact(&a.uid, &clear).await.expect("clear own mark").pending, None);

    let stale = ArtifactUpdate {
        description: Some(Some("changed".into())),
        if_hash: Some("not its hash".into()),
        ..Default::default()
    };
    assert_eq!(ctx.cat.update_artifact(&a.uid, &stale).await.expect_err("stale hash").kind(), ErrorKind::Conflict);
    let row = ctx.cat.artifact(&a.uid).await.expect("read").expect("row");
    assert_eq!(row.description, a.description, "a refused update changes nothing");
    let fresh = ArtifactUpdate { if_hash: Some(a.hash.clone()), ..stale };
    let row = ctx.cat.update_artifact(&a.uid, &fresh).await.expect("current hash");
    assert_eq!(row.description.as_deref(), Some("changed"));
}

/// Only one row per key carries a real-key placement mark, so two placements of one key never
/// run at once; another key, or the same key once the mark is cleared, is free.
pub async fn one_placement_per_key(cat: Arc<dyn Catalog>) {
    let ctx = setup(cat).await;
    let v0 = ctx.create(Some("p.csv"), "v0").await;
    let marked = |new: NewArtifact| NewArtifact {
        pending: Some(Pending::PlacingRealKey { managed_key: format!(".trove/{}.csv", new.uid), target: None }),
        strict_revises: false,
        ..new
    };
    let first = ctx.cat.create_artifact(&marked(ctx.next_version(&v0, "v1").await)).await.expect("first placement");
    let second = marked(ctx.next_version(&v0, "v2").await);
    let err = ctx.cat.create_artifact(&second).await.expect_err("a second placement of the key");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    ctx.cat
        .update_artifact(
            &first.uid,
            &ArtifactUpdate { pending: Some(None), if_pending: Some(first.pending.clone()), ..Default::default() },
        )
        .await
        .expect("finish the first placement");
    ctx.cat.create_artifact(&second).await.expect("the key is free again, and the reservation still holds");
    let other = marked(ctx.family(Some("q.csv"), "other key"));
    ctx.cat.create_artifact(&other).await.expect("another key places independently");
}

/// A purge mark records its storage policy, and a row another operation has marked cannot be
/// marked for purging (its bytes are in flight) until that operation is settled.
pub async fn purge_marks_record_policy_and_respect_other_marks(cat: Arc<dyn Catalog>) {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("a.csv"), "a").await;
    let b = ctx.create(Some("b.csv"), "b").await;
    let mark = Pending::PlacingRealKey { managed_key: "m".into(), target: None };
    ctx.cat
        .update_artifact(&b.uid, &ArtifactUpdate { pending: Some(Some(mark.clone())), ..Default::default() })
        .await
        .expect("mark b");
    let err = ctx.cat.begin_purge(&[a.uid.clone(), b.uid.clone()], StoragePolicy::Keep).await.expect_err("b is busy");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(ctx.cat.artifact(&a.uid).await.expect("read").is_some(), "nothing in the batch was marked");
    ctx.cat.begin_purge(std::slice::from_ref(&a.uid), StoragePolicy::Keep).await.expect("purge a");
    let pending = ctx.cat.pending_artifacts().await.expect("pending");
    let a_mark = pending.iter().find(|p| p.uid == a.uid).and_then(|p| p.pending.clone());
    assert_eq!(a_mark, Some(Pending::Purging { policy: StoragePolicy::Keep }));
    ctx.cat.begin_purge(std::slice::from_ref(&a.uid), StoragePolicy::Delete).await.expect("retried with delete");
    let pending = ctx.cat.pending_artifacts().await.expect("pending");
    let a_mark = pending.iter().find(|p| p.uid == a.uid).and_then(|p| p.pending.clone());
    assert_eq!(a_mark, Some(Pending::Purging { policy: StoragePolicy::Delete }), "a retry records its policy");
}
