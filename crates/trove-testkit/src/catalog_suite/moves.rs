//! Conformance checks for branch moves (trash, archive, restore; single and in bulk; an
//! invalid batch changing nothing) and for purges (heads recomputed, marked rows hidden,
//! finished or aborted). Re-exported from [`crate::catalog_suite`].

use super::*;

/// Trash and restore of one record, with the head moving both ways.
pub async fn trash_and_restore_single(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("t.csv", 2).await;
    let stem = v[0].stem();
    let r = ctx.apply(&[&v[1].uid], Operation::Trash).await;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].1, Transition::Move { from: BranchId::MAIN, to: BranchId::TRASH });
    let trashed = &r[0].0;
    assert_eq!((trashed.branch, trashed.trashed_from), (BranchId::TRASH, Some(BranchId::MAIN)));
    assert!(trashed.branch_changed_at.is_some(), "trashing records when");
    assert!(trashed.is_latest, "the only version in the trash is the trash's head");
    assert_eq!(ctx.get(&v[1].uid).await, *trashed, "the result is the record after the transition");
    assert!(ctx.get(&v[0].uid).await.is_latest, "the newest remaining version on main becomes the head");
    let head = ctx.cat.family_head_by_key(ctx.storage, &key("t.csv")).await.expect("head").expect("some");
    assert_eq!(head.uid, v[0].uid);
    assert_heads(ctx.dyn_cat(), &stem).await;

    let err = ctx.cat.apply_transition(std::slice::from_ref(&v[1].uid), Operation::Trash).await.expect_err("again");
    assert_eq!(err.kind(), ErrorKind::AlreadyInTrash);

    let r = ctx.apply(&[&v[1].uid], Operation::Restore).await;
    assert_eq!(r[0].1, Transition::Move { from: BranchId::TRASH, to: BranchId::MAIN });
    assert_eq!((r[0].0.branch, r[0].0.trashed_from), (BranchId::MAIN, None), "restoring clears trashed_from");
    assert!(r[0].0.is_latest, "the restored newest version is the head again");
    assert!(!ctx.get(&v[0].uid).await.is_latest);
    assert_heads(ctx.dyn_cat(), &stem).await;

    let r = ctx.apply(&[&v[1].uid], Operation::Restore).await;
    assert_eq!(r[0].1, Transition::NoOp { reason: NoOpReason::AlreadyLive }, "restoring a live record is a no-op");
    Ok(Outcome::Passed)
}

/// Archive, restore from archive, and heads on both branches.
pub async fn archive_and_restore(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("arch.csv", 2).await;
    let stem = v[0].stem();
    let r = ctx.apply(&[&v[0].uid], Operation::Archive).await;
    assert_eq!(r[0].1, Transition::Move { from: BranchId::MAIN, to: BranchId::ARCHIVE });
    assert_eq!((r[0].0.branch, r[0].0.trashed_from), (BranchId::ARCHIVE, None));
    assert!(r[0].0.is_latest, "the archive holds one version of the family: its head");
    assert!(ctx.get(&v[1].uid).await.is_latest);
    assert_heads(ctx.dyn_cat(), &stem).await;
    let r = ctx.apply(&[&v[0].uid], Operation::Archive).await;
    assert_eq!(r[0].1, Transition::NoOp { reason: NoOpReason::AlreadyArchived });
    let r = ctx.apply(&[&v[0].uid], Operation::Restore).await;
    assert_eq!(r[0].1, Transition::Move { from: BranchId::ARCHIVE, to: BranchId::MAIN });
    assert!(!r[0].0.is_latest, "an older restored version does not take the head");
    assert!(ctx.get(&v[1].uid).await.is_latest);
    assert_heads(ctx.dyn_cat(), &stem).await;
    ctx.apply(&[&v[1].uid], Operation::Archive).await;
    assert!(ctx.get(&v[0].uid).await.is_latest, "archiving the head moves it to the next newest on main");
    assert_heads(ctx.dyn_cat(), &stem).await;
    Ok(Outcome::Passed)
}

/// A record trashed from the archive is restored to the archive.
pub async fn restore_returns_to_origin_branch(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("o.csv"), "o").await;
    ctx.apply(&[&a.uid], Operation::Archive).await;
    let r = ctx.apply(&[&a.uid], Operation::Trash).await;
    assert_eq!(r[0].1, Transition::Move { from: BranchId::ARCHIVE, to: BranchId::TRASH });
    assert_eq!(r[0].0.trashed_from, Some(BranchId::ARCHIVE));
    let r = ctx.apply(&[&a.uid], Operation::Restore).await;
    assert_eq!(r[0].1, Transition::Move { from: BranchId::TRASH, to: BranchId::ARCHIVE });
    assert_eq!((r[0].0.branch, r[0].0.trashed_from), (BranchId::ARCHIVE, None));
    assert!(r[0].0.is_latest);
    assert_heads(ctx.dyn_cat(), &a.stem()).await;
    Ok(Outcome::Passed)
}

/// Saving identical content restores a trashed record; on a live one it is a no-op.
pub async fn save_identical_restores_from_trash(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("s.csv"), "s").await;
    let r = ctx.apply(&[&a.uid], Operation::SaveIdentical).await;
    assert_eq!(r[0].1, Transition::NoOp { reason: NoOpReason::AlreadyExists });
    ctx.apply(&[&a.uid], Operation::Trash).await;
    let r = ctx.apply(&[&a.uid], Operation::SaveIdentical).await;
    assert_eq!(r[0].1, Transition::Move { from: BranchId::TRASH, to: BranchId::MAIN });
    assert_eq!(r[0].0.branch, BranchId::MAIN);
    assert!(r[0].0.is_latest);
    Ok(Outcome::Passed)
}

/// Bulk trash and restore over several families, results in input order.
pub async fn bulk_transitions(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.versions("a.csv", 3).await;
    let b = ctx.versions("b.csv", 2).await;
    let batch = [&a[2].uid, &a[1].uid, &b[1].uid, &b[0].uid];
    let r = ctx.apply(&batch, Operation::Trash).await;
    assert_eq!(
        r.iter().map(|(x, _)| x.uid.clone()).collect::<Vec<_>>(),
        batch.iter().map(|u| (*u).clone()).collect::<Vec<_>>()
    );
    assert!(
        r.iter().all(|(x, t)| x.branch == BranchId::TRASH
            && *t == Transition::Move { from: BranchId::MAIN, to: BranchId::TRASH })
    );
    assert!(ctx.get(&a[0].uid).await.is_latest, "a's only version left on main is its head");
    assert!(ctx.get(&a[2].uid).await.is_latest, "a's newest trashed version is the trash's head");
    assert!(!ctx.get(&a[1].uid).await.is_latest);
    assert!(ctx.get(&b[1].uid).await.is_latest && !ctx.get(&b[0].uid).await.is_latest);
    assert_eq!(ctx.uids(&ArtifactQuery::new()).await, vec![a[0].uid.clone()]);
    assert_heads(ctx.dyn_cat(), &a[0].stem()).await;
    assert_heads(ctx.dyn_cat(), &b[0].stem()).await;

    let r = ctx.apply(&batch, Operation::Restore).await;
    assert!(r.iter().all(|(x, _)| x.branch == BranchId::MAIN));
    assert_eq!(ctx.cat.count_artifacts(&ArtifactQuery::new()).await.expect("count"), 5);
    assert_eq!(
        sorted(ctx.uids(&ArtifactQuery::new().latest_only()).await),
        sorted(vec![a[2].uid.clone(), b[1].uid.clone()])
    );
    assert_heads(ctx.dyn_cat(), &a[0].stem()).await;
    assert_heads(ctx.dyn_cat(), &b[0].stem()).await;
    assert!(ctx.cat.apply_transition(&[], Operation::Trash).await.expect("empty batch").is_empty());
    Ok(Outcome::Passed)
}

/// A batch with any invalid record (missing, already trashed, not archivable) changes nothing.
pub async fn invalid_batch_changes_nothing(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let live = ctx.versions("live.csv", 2).await;
    let gone = ctx.create(Some("gone.csv"), "gone").await;
    ctx.apply(&[&gone.uid], Operation::Trash).await;
    let before = ctx.all().await;

    let cases: [(Vec<Uid>, Operation, ErrorKind); 3] = [
        (vec![live[1].uid.clone(), gone.uid.clone()], Operation::Trash, ErrorKind::AlreadyInTrash),
        (vec![live[1].uid.clone(), Uid::new_family()], Operation::Trash, ErrorKind::NotFound),
        (vec![live[0].uid.clone(), gone.uid.clone()], Operation::Archive, ErrorKind::InvalidTransition),
    ];
    for (uids, op, kind) in cases {
        let err = ctx.cat.apply_transition(&uids, op).await.expect_err("invalid batch");
        assert_eq!(err.kind(), kind, "{op} {uids:?}: {err:?}");
        assert_eq!(ctx.all().await, before, "{op} with an invalid record changed something");
    }
    Ok(Outcome::Passed)
}

/// Heads are recomputed when versions are purged, on main and in the trash.
pub async fn heads_recomputed_after_purge(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("p.csv", 4).await;
    let stem = v[0].stem();
    ctx.apply(&[&v[1].uid, &v[2].uid], Operation::Trash).await;
    assert!(ctx.get(&v[2].uid).await.is_latest);
    ctx.cat.begin_purge(std::slice::from_ref(&v[2].uid), StoragePolicy::Auto).await.expect("purge trash head");
    assert!(ctx.get(&v[1].uid).await.is_latest, "the next newest trashed version becomes the trash's head");
    ctx.cat.begin_purge(std::slice::from_ref(&v[3].uid), StoragePolicy::Auto).await.expect("purge main head");
    assert!(ctx.get(&v[0].uid).await.is_latest, "the next newest version on main becomes the head");
    assert_heads(ctx.dyn_cat(), &stem).await;
    assert_eq!(ctx.cat.finish_purge(&[v[2].uid.clone(), v[3].uid.clone()]).await.expect("finish"), 2);
    assert_heads(ctx.dyn_cat(), &stem).await;
    Ok(Outcome::Passed)
}

/// Purging rows are invisible to every query but count for `max_version`.
pub async fn purging_rows_are_hidden(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("h.csv", 2).await;
    let stem = v[0].stem();
    let marked = ctx.cat.begin_purge(std::slice::from_ref(&v[1].uid), StoragePolicy::Auto).await.expect("begin_purge");
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].uid, v[1].uid);
    assert_eq!(marked[0].pending, None, "begin_purge returns the record as it was");
    assert_eq!(ctx.cat.artifact(&v[1].uid).await.expect("artifact"), None, "artifact() hides purging rows");
    let everything = ArtifactQuery { branch: BranchSelection::All, include_pending: true, ..ArtifactQuery::default() };
    assert_eq!(ctx.uids(&everything).await, vec![v[0].uid.clone()], "artifacts() hides purging rows");
    assert_eq!(ctx.cat.count_artifacts(&everything).await.expect("count"), 1, "count hides purging rows");
    let by_uid = ArtifactQuery { branch: BranchSelection::All, ..ArtifactQuery::new().uids(vec![v[1].uid.clone()]) };
    assert!(ctx.uids(&by_uid).await.is_empty(), "a uid filter does not reveal purging rows");
    let head = ctx.cat.family_head_by_key(ctx.storage, &key("h.csv")).await.expect("head").expect("some");
    assert_eq!(head.uid, v[0].uid, "family_head_by_key skips purging rows");
    assert!(head.is_latest);
    assert_eq!(ctx.cat.max_version(&stem).await.expect("max"), Some(1), "purging rows count for max_version");
    let pending = ctx.cat.pending_artifacts().await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].uid.clone(), pending[0].pending.clone()),
        (v[1].uid.clone(), Some(Pending::Purging { policy: StoragePolicy::Auto }))
    );
    let err = ctx.cat.apply_transition(std::slice::from_ref(&v[1].uid), Operation::Trash).await.expect_err("hidden");
    assert_eq!(err.kind(), ErrorKind::NotFound, "transitions do not see purging rows");

    let again = ctx
        .cat
        .begin_purge(std::slice::from_ref(&v[1].uid), StoragePolicy::Auto)
        .await
        .expect("begin_purge is retryable");
    assert_eq!(again.len(), 1);
    let err = ctx
        .cat
        .begin_purge(&[v[0].uid.clone(), Uid::new_family()], StoragePolicy::Auto)
        .await
        .expect_err("missing uid");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(ctx.get(&v[0].uid).await.pending, None, "a failed begin_purge marks nothing");
    assert_heads(ctx.dyn_cat(), &stem).await;
    Ok(Outcome::Passed)
}

/// `finish_purge` deletes only rows marked purging and says how many.
pub async fn finish_purge_deletes_marked_rows_only(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("f.csv", 3).await;
    let stem = v[0].stem();
    ctx.cat.begin_purge(&[v[2].uid.clone(), v[1].uid.clone()], StoragePolicy::Auto).await.expect("begin_purge");
    let n = ctx.cat.finish_purge(&[v[2].uid.clone(), v[1].uid.clone(), v[0].uid.clone()]).await.expect("finish");
    assert_eq!(n, 2, "only the marked rows go");
    assert!(ctx.get(&v[0].uid).await.is_latest, "the unmarked record stays, as head");
    assert!(ctx.cat.pending_artifacts().await.expect("pending").is_empty());
    assert_eq!(ctx.cat.max_version(&stem).await.expect("max"), Some(2), "purged suffixes stay taken");
    assert_eq!(ctx.cat.finish_purge(&[v[2].uid.clone()]).await.expect("finish again"), 0);
    assert_heads(ctx.dyn_cat(), &stem).await;
    Ok(Outcome::Passed)
}

/// `abort_purge` brings the records back and recomputes heads.
pub async fn abort_purge_restores_visibility(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("ab.csv", 2).await;
    ctx.cat.begin_purge(std::slice::from_ref(&v[1].uid), StoragePolicy::Auto).await.expect("begin_purge");
    assert!(ctx.get(&v[0].uid).await.is_latest);
    ctx.cat.abort_purge(std::slice::from_ref(&v[1].uid)).await.expect("abort_purge");
    let back = ctx.get(&v[1].uid).await;
    assert_eq!((back.pending, back.is_latest, back.branch), (None, true, BranchId::MAIN));
    assert!(!ctx.get(&v[0].uid).await.is_latest);
    assert!(ctx.cat.pending_artifacts().await.expect("pending").is_empty());
    assert_heads(ctx.dyn_cat(), &v[0].stem()).await;
    Ok(Outcome::Passed)
}
