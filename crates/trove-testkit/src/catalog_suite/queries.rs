//! Conformance checks for updates and queries: changed fields, pending records for `fsck`, key
//! prefixes, ordering and paging, branch selection, family lookup by key, time and uid
//! filters. Re-exported from [`crate::catalog_suite`].

use super::*;

/// `update_artifact` changes exactly the fields given.
pub async fn update_artifact_changes_fields(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("u/iris.csv"), "u").await;
    let upd = ArtifactUpdate {
        description: Some(Some("described".into())),
        version_tag: Some(Some("gold".into())),
        placement: Some(Placement::RealKey),
        ..Default::default()
    };
    let b = ctx.cat.update_artifact(&a.uid, &upd).await.expect("update");
    assert_eq!((b.description.as_deref(), b.version_tag.as_deref()), (Some("described"), Some("gold")));
    assert_eq!(b.placement, Placement::RealKey);
    assert_eq!((&b.key, &b.hash, b.size, b.is_latest, b.branch), (&a.key, &a.hash, a.size, true, BranchId::MAIN));
    assert_eq!((&b.created_by, b.created_at), (&a.created_by, a.created_at));
    let c = ctx
        .cat
        .update_artifact(&a.uid, &ArtifactUpdate { description: Some(None), ..Default::default() })
        .await
        .expect("clear the description");
    assert_eq!(
        (c.description.clone(), c.version_tag.as_deref(), &c.placement),
        (None, Some("gold"), &Placement::RealKey)
    );
    assert_eq!(ctx.get(&a.uid).await, c, "update returns the stored record");
    let err = ctx.cat.update_artifact(&Uid::new_family(), &upd).await.expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    Ok(Outcome::Passed)
}

/// Records with a pending marker are listed for `fsck`, hidden from default listings.
pub async fn pending_artifacts_are_listed(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let plain = ctx.create(Some("plain.csv"), "plain").await;
    let mut new = ctx.family(Some("real.csv"), "real");
    new.placement = Placement::RealKey;
    new.pending = Some(Pending::PlacingRealKey { managed_key: format!(".trove/{}.csv", new.uid), target: None });
    let placing = ctx.cat.create_artifact(&new).await.expect("create pending");
    assert_eq!(placing.pending, new.pending);
    assert!(placing.is_latest);
    let pending = ctx.cat.pending_artifacts().await.expect("pending");
    assert_eq!(pending.iter().map(|a| a.uid.clone()).collect::<Vec<_>>(), vec![placing.uid.clone()]);
    assert_eq!(ctx.get(&placing.uid).await.pending, new.pending, "artifact(uid) shows pending records");
    assert_eq!(ctx.uids(&ArtifactQuery::new()).await, vec![plain.uid.clone()], "default listings hide pending records");
    let with_pending = ArtifactQuery { include_pending: true, ..ArtifactQuery::new() };
    assert_eq!(sorted(ctx.uids(&with_pending).await), sorted(vec![plain.uid.clone(), placing.uid.clone()]));
    let head = ctx.cat.family_head_by_key(ctx.storage, &key("real.csv")).await.expect("head");
    assert_eq!(head.map(|h| h.uid), Some(placing.uid.clone()), "a pending head still owns its key");
    ctx.cat
        .update_artifact(&placing.uid, &ArtifactUpdate { pending: Some(None), ..Default::default() })
        .await
        .expect("clear");
    assert!(ctx.cat.pending_artifacts().await.expect("pending").is_empty());
    assert_eq!(ctx.cat.count_artifacts(&ArtifactQuery::new()).await.expect("count"), 2);
    Ok(Outcome::Passed)
}

/// Key prefixes are literal: `%`, `_` and `!` match themselves; matching is case-sensitive.
pub async fn key_prefix_is_literal(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let mut by_key = BTreeMap::new();
    for k in ["a%b/1.csv", "a_b/2.csv", "axb/3.csv", "A%b/4.csv", "a%bc.csv", "a!b/5.csv", "b/a%b/6.csv"] {
        by_key.insert(k, ctx.create(Some(k), k).await.uid);
    }
    let expect = |keys: &[&str]| sorted(keys.iter().map(|k| by_key[k].clone()).collect());
    let cases: [(&str, &[&str]); 6] = [
        ("a%b/", &["a%b/1.csv"]),
        ("a_b/", &["a_b/2.csv"]),
        ("a%b", &["a%b/1.csv", "a%bc.csv"]),
        ("a", &["a%b/1.csv", "a_b/2.csv", "axb/3.csv", "a%bc.csv", "a!b/5.csv"]),
        ("a!b/", &["a!b/5.csv"]),
        ("A", &["A%b/4.csv"]),
    ];
    for (prefix, want) in cases {
        assert_eq!(sorted(ctx.uids(&ArtifactQuery::new().key_prefix(prefix)).await), expect(want), "prefix '{prefix}'");
    }
    assert_eq!(ctx.cat.count_artifacts(&ArtifactQuery::new().key_prefix("a%")).await.expect("count"), 2);
    assert_eq!(ctx.uids(&ArtifactQuery::new().key("a_b/2.csv")).await, expect(&["a_b/2.csv"]));
    assert!(ctx.uids(&ArtifactQuery::new().key("a_b/2.CSV")).await.is_empty(), "exact key is case-sensitive");
    Ok(Outcome::Passed)
}

/// Orders, limit and offset; counts ignore limit and offset.
pub async fn ordering_limit_and_offset(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let mut made = Vec::new();
    for k in ["c.csv", "a.csv", "e.csv", "b.csv", "d.csv"] {
        made.push(ctx.create(Some(k), k).await);
    }
    let nokey = ctx.create(None, "keyless").await;
    made.push(nokey.clone());

    let newest: Vec<Uid> = made.iter().rev().map(|a| a.uid.clone()).collect();
    assert_eq!(ctx.uids(&ArtifactQuery::new()).await, newest, "default order: newest first");
    let by_key = ctx.cat.artifacts(&ArtifactQuery::new().order(Order::Key)).await.expect("by key");
    let keys: Vec<Option<&str>> = by_key.iter().map(|a| a.key.as_ref().map(|k| k.as_str())).collect();
    assert_eq!(keys, vec![Some("a.csv"), Some("b.csv"), Some("c.csv"), Some("d.csv"), Some("e.csv"), None]);
    assert_eq!(ctx.uids(&ArtifactQuery::new().limit(2)).await, newest[..2].to_vec());
    let page = ArtifactQuery { offset: Some(2), ..ArtifactQuery::new().limit(3) };
    assert_eq!(ctx.uids(&page).await, newest[2..5].to_vec());
    assert_eq!(ctx.cat.count_artifacts(&page).await.expect("count"), 6, "count ignores limit and offset");
    assert!(ctx.uids(&ArtifactQuery::new().limit(0)).await.is_empty());
    Ok(Outcome::Passed)
}

/// The default query shows main only; a named branch shows exactly that; `All` shows all.
pub async fn default_query_shows_main_only(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let main = ctx.create(Some("m.csv"), "m").await;
    let archived = ctx.create(Some("ar.csv"), "ar").await;
    let trashed = ctx.create(Some("tr.csv"), "tr").await;
    let mut elsewhere = ctx.family(Some("m.csv"), "m elsewhere");
    elsewhere.storage = ctx.storage2;
    let elsewhere = ctx.cat.create_artifact(&elsewhere).await.expect("same key, other storage");
    ctx.apply(&[&archived.uid], Operation::Archive).await;
    ctx.apply(&[&trashed.uid], Operation::Trash).await;

    assert_eq!(sorted(ctx.uids(&ArtifactQuery::new()).await), sorted(vec![main.uid.clone(), elsewhere.uid.clone()]));
    assert_eq!(ctx.cat.count_artifacts(&ArtifactQuery::new()).await.expect("count"), 2);
    let only = |b| ArtifactQuery::new().branch(BranchSelection::Only(b));
    assert_eq!(ctx.uids(&only(BranchId::ARCHIVE)).await, vec![archived.uid.clone()]);
    assert_eq!(ctx.uids(&only(BranchId::TRASH)).await, vec![trashed.uid.clone()]);
    assert_eq!(ctx.uids(&only(BranchId::MAIN)).await.len(), 2);
    assert_eq!(ctx.uids(&ArtifactQuery::new().branch(BranchSelection::All)).await.len(), 4);
    let no_trash = ArtifactQuery { exclude_trash: true, ..ArtifactQuery::new().branch(BranchSelection::All) };
    assert_eq!(ctx.uids(&no_trash).await.len(), 3);
    let in_storage2 = ArtifactQuery { storage: Some(ctx.storage2), ..ArtifactQuery::new() };
    assert_eq!(ctx.uids(&in_storage2).await, vec![elsewhere.uid.clone()]);
    assert_eq!(ctx.uids(&ArtifactQuery::new().key("m.csv")).await.len(), 2);
    Ok(Outcome::Passed)
}

/// `family_head_by_key` ignores the trash and prefers main over the archive.
pub async fn family_head_by_key_prefers_main(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let k = key("shared.csv");
    let a = ctx.create(Some("shared.csv"), "family a").await;
    ctx.apply(&[&a.uid], Operation::Trash).await;
    assert_eq!(ctx.cat.family_head_by_key(ctx.storage, &k).await.expect("head"), None, "the trash does not count");
    let b = ctx.create(Some("shared.csv"), "family b").await;
    assert_ne!(a.stem(), b.stem());
    let head = |want: &Uid| {
        let want = want.clone();
        let cat = Arc::clone(&ctx.cat);
        let (storage, k) = (ctx.storage, k.clone());
        async move {
            let got = cat.family_head_by_key(storage, &k).await.expect("head").map(|h| h.uid);
            assert_eq!(got, Some(want));
        }
    };
    head(&b.uid).await;
    ctx.apply(&[&b.uid], Operation::Archive).await;
    head(&b.uid).await;
    ctx.apply(&[&a.uid], Operation::Restore).await;
    head(&a.uid).await;
    assert_eq!(ctx.cat.family_head_by_key(ctx.storage2, &k).await.expect("head"), None, "keys are per storage");
    Ok(Outcome::Passed)
}

/// `branch_changed_before` selects records that changed branch before a time.
pub async fn branch_changed_before_filter(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("old.csv"), "old").await;
    let trashed = ctx.apply(&[&a.uid], Operation::Trash).await.remove(0).0;
    let when = trashed.branch_changed_at.expect("set on trash");
    let trash = |before| ArtifactQuery {
        branch_changed_before: Some(before),
        ..ArtifactQuery::new().branch(BranchSelection::Only(BranchId::TRASH))
    };
    assert_eq!(ctx.uids(&trash(when + Duration::hours(1))).await, vec![a.uid.clone()]);
    assert!(ctx.uids(&trash(when - Duration::hours(1))).await.is_empty());
    Ok(Outcome::Passed)
}

/// A uid filter finds records on any branch it is combined with.
pub async fn uid_filter_spans_branches(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("x.csv"), "x").await;
    let b = ctx.create(Some("y.csv"), "y").await;
    ctx.apply(&[&b.uid], Operation::Trash).await;
    let q = ArtifactQuery::new().uids(vec![a.uid.clone(), b.uid.clone()]).branch(BranchSelection::All);
    assert_eq!(sorted(ctx.uids(&q).await), sorted(vec![a.uid.clone(), b.uid.clone()]));
    assert_eq!(ctx.uids(&ArtifactQuery::new().uids(vec![a.uid.clone(), b.uid.clone()])).await, vec![a.uid.clone()]);
    assert!(ctx.uids(&ArtifactQuery::new().uids(vec![]).branch(BranchSelection::All)).await.is_empty());
    assert_eq!(ctx.cat.count_artifacts(&ArtifactQuery::new().uids(vec![])).await.expect("count"), 0);
    Ok(Outcome::Passed)
}
