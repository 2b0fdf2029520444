//! Conformance checks for what the façade's byte protocols rely on (design, section 3): version
//! reservations (a writer owns its uid, and so its object key, before its row commits),
//! conditional updates of placement marks, one real-key placement per key, purge marks that
//! record their storage policy, and the replace units of work (`begin_replace`,
//! `commit_replace`, `abort_replace`) with their refusals. Re-exported from
//! [`crate::catalog_suite`].

use super::*;

/// Concurrent reservations of one family never hand out the same index; each reservation
/// commits exactly once; an index nobody reserved, or one already consumed, is refused; a
/// version that commits after a higher one is not the head.
pub async fn reservations_are_exclusive(cat: Arc<dyn Catalog>) -> CheckResult {
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
    Ok(Outcome::Passed)
}

/// `update_artifact` preconditions: a mark is set only on an unmarked row, cleared only by its
/// owner, and content changes only from the content the writer read; a failed precondition
/// changes nothing.
pub async fn conditional_updates(cat: Arc<dyn Catalog>) -> CheckResult {
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
    Ok(Outcome::Passed)
}

/// Only one row per key carries a real-key placement mark, so two placements of one key never
/// run at once; another key, or the same key once the mark is cleared, is free.
pub async fn one_placement_per_key(cat: Arc<dyn Catalog>) -> CheckResult {
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
    Ok(Outcome::Passed)
}

/// A purge mark records its storage policy, and a row another operation has marked cannot be
/// marked for purging (its bytes are in flight) until that operation is settled.
pub async fn purge_marks_record_policy_and_respect_other_marks(cat: Arc<dyn Catalog>) -> CheckResult {
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
    Ok(Outcome::Passed)
}

/// A replace marker for `a`: staged at an operation's key, with this new content.
fn replacing(a: &Artifact, op: &str, new: ContentUpdate) -> Pending {
    Pending::Replacing {
        staged_key: format!(".trove/staging/{op}/{}{}", a.uid, new.suffix),
        target_key: new.key.as_ref().map_or_else(|| format!(".trove/{}{}", a.uid, new.suffix), |k| k.to_string()),
        new,
    }
}

/// New content for `a` under its own key and suffix.
fn same_key_content(a: &Artifact, bytes: &str) -> ContentUpdate {
    let c = hash_bytes(bytes.as_bytes());
    ContentUpdate {
        suffix: a.suffix.clone(),
        key: a.key.clone(),
        placement: a.placement.clone(),
        size: c.size,
        hash: c.hash,
        hash_type: c.hash_type,
        n_files: a.n_files,
        n_observations: a.n_observations,
    }
}

/// The content fields of a record, to compare before and after.
fn content_of(a: &Artifact) -> ContentUpdate {
    ContentUpdate {
        suffix: a.suffix.clone(),
        key: a.key.clone(),
        placement: a.placement.clone(),
        size: a.size,
        hash: a.hash.clone(),
        hash_type: a.hash_type.clone(),
        n_files: a.n_files,
        n_observations: a.n_observations,
    }
}

/// `begin_replace` marks only an unmarked row still holding the expected content, and the
/// record keeps its old content while marked; `commit_replace` applies exactly the marked
/// content (every field, a suffix change's new key included) and clears the mark, only for
/// the marker the row carries. Every refusal changes nothing. A marked row refuses other
/// protocols: a purge, and settling its mark through `update_artifact`.
pub async fn replace_commits_the_marked_content(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let mut new = ctx.family(Some("u/iris.csv"), "u");
    new.version_tag = Some("gold".into());
    let a = ctx.cat.create_artifact(&new).await.expect("create");
    let c = hash_bytes(b"replaced content");
    let content = ContentUpdate {
        suffix: ".data".into(),
        key: Some(key("u/iris.data")),
        placement: Placement::InPlace { real_path: "raw/iris.data".into() },
        size: c.size,
        hash: c.hash.clone(),
        hash_type: HashType::Md5Parts(2),
        n_files: None,
        n_observations: Some(7),
    };
    let marker = replacing(&a, "op1", content.clone());

    let refused = |what: &'static str, kind: ErrorKind| {
        move |r: trove_domain::Result<Artifact>| {
            let err = r.expect_err(what);
            assert_eq!(err.kind(), kind, "{what}: {err}");
        }
    };
    refused("a stale hash", ErrorKind::Conflict)(ctx.cat.begin_replace(&a.uid, "not its hash", &marker).await);
    let placing = Pending::PlacingRealKey { managed_key: "m".into(), target: None };
    refused("not a replace marker", ErrorKind::InvalidInput)(ctx.cat.begin_replace(&a.uid, &a.hash, &placing).await);
    refused("no such record", ErrorKind::NotFound)(ctx.cat.begin_replace(&Uid::new_family(), &a.hash, &marker).await);
    assert_eq!(ctx.get(&a.uid).await, a, "refused marks change nothing");

    let marked = ctx.cat.begin_replace(&a.uid, &a.hash, &marker).await.expect("begin_replace");
    assert_eq!(marked.pending, Some(marker.clone()), "the mark records the staged key, new content and target");
    assert_eq!(content_of(&marked), content_of(&a), "a marked record still describes its old content");
    assert_eq!(ctx.get(&a.uid).await, marked, "begin_replace returns the stored record");
    let pending: Vec<Uid> = ctx.cat.pending_artifacts().await.expect("pending").into_iter().map(|p| p.uid).collect();
    assert_eq!(pending, vec![a.uid.clone()], "fsck sees the marked record");
    assert_eq!(ctx.uids(&ArtifactQuery::new()).await, Vec::<Uid>::new(), "default listings hide it");

    let other = replacing(&a, "op2", content.clone());
    refused("already marked", ErrorKind::Conflict)(ctx.cat.begin_replace(&a.uid, &a.hash, &other).await);
    refused("commit of another marker", ErrorKind::Conflict)(ctx.cat.commit_replace(&a.uid, &other).await);
    refused("abort of another marker", ErrorKind::Conflict)(ctx.cat.abort_replace(&a.uid, &other).await);
    refused("a commit needs a replace marker", ErrorKind::InvalidInput)(ctx.cat.commit_replace(&a.uid, &placing).await);
    let clear = ArtifactUpdate { pending: Some(None), ..Default::default() };
    refused("update_artifact clears no replace mark", ErrorKind::Conflict)(
        ctx.cat.update_artifact(&a.uid, &clear).await,
    );
    let purge = ctx.cat.begin_purge(std::slice::from_ref(&a.uid), StoragePolicy::Delete).await;
    assert_eq!(purge.expect_err("a marked record is not purged").kind(), ErrorKind::Conflict);
    assert_eq!(ctx.get(&a.uid).await, marked, "refused settlements change nothing");

    let done = ctx.cat.commit_replace(&a.uid, &marker).await.expect("commit_replace");
    assert_eq!(content_of(&done), content, "the record takes the marked content");
    assert_eq!(done.pending, None, "the mark is cleared with the commit");
    assert_eq!(
        (&done.uid, done.branch, done.is_latest, done.version_tag.as_deref(), done.created_at),
        (&a.uid, BranchId::MAIN, true, Some("gold"), a.created_at),
        "uid, version, branch, head and metadata stay"
    );
    assert_eq!(ctx.get(&a.uid).await, done, "commit_replace returns the stored record");
    refused("a second commit", ErrorKind::Conflict)(ctx.cat.commit_replace(&a.uid, &marker).await);
    assert!(ctx.cat.pending_artifacts().await.expect("pending").is_empty());
    let head = ctx.cat.family_head_by_key(ctx.storage, &key("u/iris.data")).await.expect("head");
    assert_eq!(head.map(|h| h.uid), Some(a.uid.clone()), "the renamed key finds the family");
    Ok(Outcome::Passed)
}

/// `abort_replace` clears only the mark it names and leaves the old content; afterwards the
/// record can be replaced again.
pub async fn abort_replace_keeps_the_old_content(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("ab/r.csv"), "old").await;
    let first = replacing(&a, "op1", same_key_content(&a, "new"));
    ctx.cat.begin_replace(&a.uid, &a.hash, &first).await.expect("begin_replace");
    let other = replacing(&a, "op2", same_key_content(&a, "new"));
    let err = ctx.cat.abort_replace(&a.uid, &other).await.expect_err("not its mark");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(ctx.get(&a.uid).await.pending, Some(first.clone()), "the mark stays");
    let back = ctx.cat.abort_replace(&a.uid, &first).await.expect("abort_replace");
    assert_eq!(back.pending, None);
    assert_eq!(content_of(&back), content_of(&a), "the old content stays");
    assert_eq!(ctx.get(&a.uid).await, back, "abort_replace returns the stored record");
    let err = ctx.cat.abort_replace(&a.uid, &first).await.expect_err("nothing left to abort");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let err = ctx.cat.abort_replace(&Uid::new_family(), &first).await.expect_err("no such record");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

    ctx.cat.begin_replace(&a.uid, &a.hash, &other).await.expect("a new replace after the abort");
    let done = ctx.cat.commit_replace(&a.uid, &other).await.expect("commit");
    assert_eq!(done.hash, hash_bytes(b"new").hash);
    let stale = replacing(&a, "op3", same_key_content(&a, "newer"));
    let err = ctx.cat.begin_replace(&a.uid, &a.hash, &stale).await.expect_err("the content changed since");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    Ok(Outcome::Passed)
}

/// Replaced content is in place, not de-duplicated (spec 2, section 6): a version may be
/// replaced with the content another version of its key holds. Heads do not move.
pub async fn replaced_content_may_repeat_a_key(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("same.csv", 2).await;
    let mut content = same_key_content(&v[0], "");
    (content.size, content.hash, content.hash_type) = (v[1].size, v[1].hash.clone(), v[1].hash_type.clone());
    let marker = replacing(&v[0], "op1", content);
    ctx.cat.begin_replace(&v[0].uid, &v[0].hash, &marker).await.expect("begin_replace");
    let done = ctx.cat.commit_replace(&v[0].uid, &marker).await.expect("commit the content v1 holds");
    assert_eq!((done.hash.as_str(), done.is_latest), (v[1].hash.as_str(), false));
    assert_eq!(ctx.get(&v[1].uid).await, v[1], "the other version is untouched");
    assert_heads(ctx.dyn_cat(), &v[0].stem()).await;
    Ok(Outcome::Passed)
}

/// Concurrent `begin_replace` calls on one record: exactly one marks it, the others are
/// refused with `Conflict`.
pub async fn replace_marks_are_exclusive(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("x.csv"), "x").await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (cat, a) = (Arc::clone(&ctx.cat), a.clone());
        let marker = replacing(&a, &format!("op{i}"), same_key_content(&a, &format!("new {i}")));
        tasks.push(tokio::spawn(async move { (cat.begin_replace(&a.uid, &a.hash, &marker).await, marker) }));
    }
    let mut won = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            (Ok(_), marker) => won.push(marker),
            (Err(e), _) => assert_eq!(e.kind(), ErrorKind::Conflict, "{e}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one replace marks the record");
    assert_eq!(ctx.get(&a.uid).await.pending, won.pop(), "the winner's mark is the one recorded");
    Ok(Outcome::Passed)
}

/// `begin_purge_on` marks only the records still on the branch: one restored since the caller
/// listed it, or one already gone, is skipped (reported as such), never deleted from where it
/// went.
pub async fn purge_on_a_branch_skips_what_left_it(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("a.csv"), "a").await;
    let b = ctx.create(Some("b.csv"), "b").await;
    let c = ctx.create(Some("c.csv"), "c").await;
    ctx.apply(&[&a.uid, &b.uid, &c.uid], Operation::Trash).await;
    ctx.apply(&[&b.uid], Operation::Restore).await;
    ctx.cat.begin_purge(std::slice::from_ref(&c.uid), StoragePolicy::Auto).await.expect("purge c");
    ctx.cat.finish_purge(std::slice::from_ref(&c.uid)).await.expect("finish c");
    let gone = Uid::new_family();
    let listed = [a.uid.clone(), b.uid.clone(), c.uid.clone(), gone.clone()];
    let (marked, mut skipped) =
        ctx.cat.begin_purge_on(&listed, StoragePolicy::Auto, BranchId::TRASH).await.expect("begin_purge_on");
    assert_eq!(marked.iter().map(|m| m.uid.clone()).collect::<Vec<_>>(), vec![a.uid.clone()]);
    skipped.sort();
    let mut want = vec![b.uid.clone(), c.uid.clone(), gone];
    want.sort();
    assert_eq!(skipped, want, "restored, already deleted and unknown records are skipped");
    let b_now = ctx.cat.artifact(&b.uid).await.expect("read").expect("b is still there");
    assert_eq!((b_now.branch, b_now.pending), (BranchId::MAIN, None), "the restored record is untouched");
    Ok(Outcome::Passed)
}
