//! Conformance checks for bulk work and large catalogs: many records created in one
//! transaction ([`Catalog::create_artifacts`]), set-based lookups by many keys or hashes, and
//! keyset paging ([`ArtifactQuery::after`]). Re-exported from [`crate::catalog_suite`].

use std::collections::HashSet;

use trove_domain::Cursor;

use super::*;

/// `create_artifacts` inserts a batch (new families and reserved new versions) in one unit of
/// work, returns the records in order with heads right; a batch with any refused record (a key
/// that has a family, a key twice) inserts nothing and leaves reservations usable.
pub async fn create_artifacts_all_or_nothing(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v0 = ctx.create(Some("old.csv"), "old v0").await;
    let next = ctx.next_version(&v0, "old v1").await;
    let batch = vec![
        ctx.family(Some("bulk/a.csv"), "a"),
        ctx.family(Some("bulk/b.csv"), "b"),
        next.clone(),
        ctx.family(None, "keyless"),
    ];
    let made = ctx.cat.create_artifacts(&batch).await.expect("create_artifacts");
    assert_eq!(
        made.iter().map(|a| a.uid.clone()).collect::<Vec<_>>(),
        batch.iter().map(|n| n.uid.clone()).collect::<Vec<_>>(),
        "records come back in the order given"
    );
    for (a, n) in made.iter().zip(&batch) {
        assert_eq!((&a.key, &a.hash, a.branch), (&n.key, &n.content.hash, BranchId::MAIN));
        assert_eq!(ctx.get(&a.uid).await, *a, "each record reads back as returned");
        assert_heads(ctx.dyn_cat(), &a.stem()).await;
    }
    assert!(made[2].is_latest && !ctx.get(&v0.uid).await.is_latest, "the new version is its family's head");
    assert_eq!(ctx.cat.max_version(&made[0].stem()).await.expect("max"), Some(0), "new families have a mark");

    // Refused batches insert nothing.
    let before = ctx.all().await.len();
    let taken = vec![ctx.family(Some("bulk/c.csv"), "c"), ctx.family(Some("bulk/a.csv"), "another a")];
    let err = ctx.cat.create_artifacts(&taken).await.expect_err("a key that has a family");
    assert_eq!(err.kind(), ErrorKind::StaleRevises, "{err:?}");
    let next2 = ctx.next_version(&made[2], "old v2").await;
    let twice = vec![next2.clone(), ctx.family(Some("bulk/d.csv"), "d"), ctx.family(Some("bulk/d.csv"), "d2")];
    let err = ctx.cat.create_artifacts(&twice).await.expect_err("a key twice in one batch");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
    let reused = vec![
        ctx.family(Some("bulk/e.csv"), "e"),
        NewArtifact { uid: v0.stem().uid(0).expect("uid"), ..ctx.family(None, "x") },
    ];
    let err = ctx.cat.create_artifacts(&reused).await.expect_err("an existing stem as a new family");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");
    assert_eq!(ctx.all().await.len(), before, "no refused batch left a row");
    assert!(ctx.cat.create_artifacts(&[]).await.expect("empty batch").is_empty());
    let ok = ctx.cat.create_artifacts(&[next2]).await.expect("the reservation of a refused batch is still usable");
    assert!(ok[0].is_latest);
    assert_heads(ctx.dyn_cat(), &v0.stem()).await;
    Ok(Outcome::Passed)
}

/// `keys` and `hashes` select any of many values in one query.
pub async fn many_keys_and_hashes(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("m/a.csv"), "ka").await;
    let b = ctx.create(Some("m/b.csv"), "kb").await;
    let _c = ctx.create(Some("m/c.csv"), "kc").await;
    let q =
        ArtifactQuery { keys: Some(vec!["m/a.csv".into(), "m/b.csv".into(), "nope".into()]), ..ArtifactQuery::new() };
    assert_eq!(sorted(ctx.uids(&q).await), sorted(vec![a.uid.clone(), b.uid.clone()]));
    let q = ArtifactQuery { hashes: Some(vec![a.hash.clone(), b.hash.clone()]), ..ArtifactQuery::new() };
    assert_eq!(sorted(ctx.uids(&q).await), sorted(vec![a.uid.clone(), b.uid.clone()]));
    assert_eq!(ctx.cat.count_artifacts(&q).await.expect("count"), 2);
    let none = ArtifactQuery { keys: Some(vec![]), ..ArtifactQuery::new() };
    assert!(ctx.uids(&none).await.is_empty(), "an empty key list selects nothing");
    Ok(Outcome::Passed)
}

/// Keyset paging in every order: pages cover every record that exists throughout exactly once,
/// while records are added between pages (before and after the cursor), and never repeat one.
pub async fn keyset_pages_cover_everything_once(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let mut initial = Vec::new();
    for i in 0..7 {
        initial.push(ctx.create(Some(&format!("p/{i:02}.csv")), &format!("p{i}")).await.uid);
    }
    let v = ctx.versions("p/05b.csv", 3).await;
    initial.extend(v.iter().map(|a| a.uid.clone()));
    for i in 0..3 {
        initial.push(ctx.create(None, &format!("keyless {i}")).await.uid);
    }
    for (o, order) in [Order::Key, Order::NewestFirst, Order::Version].into_iter().enumerate() {
        let base = ArtifactQuery { order, ..ArtifactQuery::new() }.limit(3);
        let mut seen: Vec<Uid> = Vec::new();
        let mut cursor: Option<Cursor> = None;
        let mut added = 0;
        loop {
            let q = ArtifactQuery { after: cursor.clone(), ..base.clone() };
            let page = ctx.cat.artifacts(&q).await.expect("page");
            seen.extend(page.iter().map(|a| a.uid.clone()));
            if (page.len() as u64) < 3 {
                break;
            }
            let last = page.last().expect("full page");
            let round = Cursor::parse(&Cursor::after(last).encode()).expect("a cursor survives its text form");
            cursor = Some(round);
            // Records are added meanwhile: keyed ones before and after, and a keyless one.
            added += 1;
            ctx.create(Some(&format!("p/00{o}{added}.csv")), &format!("early {order:?} {added}")).await;
            ctx.create(Some(&format!("p/zz{o}{added}.csv")), &format!("late {order:?} {added}")).await;
            ctx.create(None, &format!("keyless {order:?} {added}")).await;
            assert!(added < 50, "paging must end");
        }
        let distinct: HashSet<&Uid> = seen.iter().collect();
        assert_eq!(distinct.len(), seen.len(), "{order:?}: no record on two pages");
        for u in &initial {
            assert!(distinct.contains(u), "{order:?}: {u} (there throughout) is on a page");
        }
        let whole = ctx.cat.artifacts(&ArtifactQuery { order, ..ArtifactQuery::new() }).await.expect("all");
        let pos: std::collections::HashMap<&Uid, usize> = whole.iter().enumerate().map(|(i, a)| (&a.uid, i)).collect();
        let positions: Vec<usize> = seen.iter().filter_map(|u| pos.get(u).copied()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{order:?}: pages follow the listing's order");
    }
    assert!(Cursor::parse("not a cursor").is_err(), "a bad cursor is refused");
    Ok(Outcome::Passed)
}
