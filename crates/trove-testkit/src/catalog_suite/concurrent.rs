//! Conformance checks with several catalog handles on one database (several connection pools,
//! or several processes' worth), called directly by a test that opens them. Re-exported from
//! [`crate::catalog_suite`].

use super::*;

async fn retrying<T, F, Fut>(mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = trove_domain::Result<T>>,
{
    for _ in 0..200 {
        match attempt().await {
            Ok(v) => return v,
            // Only a lost race is retried: a catalog that serializes writers per family never
            // reports a spurious Conflict (SQLITE_BUSY, a unique violation) here.
            Err(e) if e.kind() == ErrorKind::StaleRevises => {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    panic!("no progress after 200 attempts")
}

/// `writers` concurrent writers each add one version to one key (retrying on `StaleRevises`,
/// as the façade does; any other error fails the check): the family ends with consecutive versions and one head.
/// `cats` are handles on one database (several connection pools, or several processes' worth).
pub async fn concurrent_new_versions(cats: &[Arc<dyn Catalog>], writers: usize) -> CheckResult {
    let first = &cats[0];
    let inst = first.init_instance(&init("concurrent")).await.expect("init");
    let storage = inst.default_storage.expect("default storage");
    let user = first.ensure_user("alice").await.expect("user").id;
    let ctx = Ctx { cat: Arc::clone(first), storage, storage2: storage, user, seq: AtomicI64::new(0) };
    let v0 = ctx.create(Some("hot.csv"), "v0").await;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let cat = Arc::clone(&cats[w % cats.len()]);
        let created_at = ctx.time();
        tasks.push(tokio::spawn(async move {
            let k = key("hot.csv");
            // Each writer reserves its own version index, then commits it (retrying only what
            // the backend reports as transient): no writer ever loses or repeats a version.
            let (head, index) = retrying(|| {
                let (cat, k) = (Arc::clone(&cat), k.clone());
                async move {
                    let head = cat.family_head_by_key(storage, &k).await?.expect("family exists");
                    let index = cat.reserve_version(&head.stem()).await?;
                    Ok((head, index))
                }
            })
            .await;
            let new = NewArtifact {
                uid: head.stem().uid(index).expect("uid"),
                key: Some(k),
                description: None,
                suffix: ".csv".into(),
                kind: None,
                otype: None,
                content: hash_bytes(format!("writer {w}").as_bytes()),
                n_files: None,
                n_observations: None,
                version_tag: None,
                storage,
                placement: Placement::Managed,
                created_by: user,
                revises: Some(head.uid.clone()),
                strict_revises: false,
                pending: None,
                dedup_exempt: false,
                created_at,
            };
            retrying(|| {
                let (cat, new) = (Arc::clone(&cat), new.clone());
                async move { cat.create_artifact(&new).await }
            })
            .await
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
    let stem = v0.stem();
    let rows = first.artifacts(&ArtifactQuery::new().stem(stem.clone()).order(Order::Version)).await.expect("list");
    assert_eq!(
        rows.iter().map(|a| a.version_index()).collect::<Vec<_>>(),
        (0..=writers as u32).collect::<Vec<_>>(),
        "consecutive versions, none lost or duplicated"
    );
    assert_eq!(rows.iter().filter(|a| a.is_latest).count(), 1, "exactly one head");
    assert_heads(&**first, &stem).await;
    Ok(Outcome::Passed)
}

/// Two writers creating the same brand-new key concurrently make one family, not two.
pub async fn concurrent_new_families(cats: &[Arc<dyn Catalog>], rounds: usize) -> CheckResult {
    let first = &cats[0];
    let inst = first.init_instance(&init("families")).await.expect("init");
    let storage = inst.default_storage.expect("default storage");
    let user = first.ensure_user("alice").await.expect("user").id;
    let ctx = Arc::new(Ctx { cat: Arc::clone(first), storage, storage2: storage, user, seq: AtomicI64::new(0) });
    for round in 0..rounds {
        let k = format!("new/{round}.csv");
        let mut tasks = Vec::new();
        for w in 0..2 {
            let mut new = ctx.family(Some(&k), &format!("{k} by {w}"));
            new.created_at = ctx.time();
            let cat = Arc::clone(&cats[w % cats.len()]);
            tasks.push(tokio::spawn(async move { cat.create_artifact(&new).await.map_err(|e| e.kind()) }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.expect("task") {
                Ok(_) => ok += 1,
                Err(ErrorKind::StaleRevises) => {}
                Err(other) => panic!("unexpected error kind {other:?}"),
            }
        }
        assert_eq!(ok, 1, "exactly one writer creates the family for {k}");
        let rows = first.artifacts(&ArtifactQuery::new().key(&k)).await.expect("list");
        assert_eq!(rows.len(), 1, "one family for {k}");
    }
    Ok(Outcome::Passed)
}

/// Concurrent trash/restore of versions of one family converge to a valid state: one head per
/// branch, the newest there.
pub async fn concurrent_trash_restore(cats: &[Arc<dyn Catalog>], workers: usize, steps: usize) -> CheckResult {
    let first = &cats[0];
    let ctx = setup(Arc::clone(first)).await;
    let v = ctx.versions("churn.csv", 6).await;
    let stem = v[0].stem();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let cat = Arc::clone(&cats[w % cats.len()]);
        let uids: Vec<Uid> = v.iter().map(|a| a.uid.clone()).collect();
        tasks.push(tokio::spawn(async move {
            for s in 0..steps {
                let i = (w * 7 + s * 3) % uids.len();
                let j = (i + 1 + w) % uids.len();
                let batch = vec![uids[i].clone(), uids[j].clone()];
                let op = if (w + s) % 2 == 0 { Operation::Trash } else { Operation::Restore };
                match cat.apply_transition(&batch, op).await {
                    // Someone else trashed one of them first: a legal outcome.
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::AlreadyInTrash => {}
                    // Transitions on one family are serialized: no Conflict, no busy error.
                    Err(e) => panic!("unexpected error: {e:?}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    assert_heads(&*ctx.cat, &stem).await;
    assert_eq!(ctx.cat.max_version(&stem).await.expect("max"), Some(5));
    Ok(Outcome::Passed)
}
