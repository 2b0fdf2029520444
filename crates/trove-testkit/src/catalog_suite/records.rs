//! Conformance checks for creating records and their versions: instance set-up, read-back of
//! every field, version numbering and heads, refused versions, de-duplication lookups.
//! Re-exported from [`crate::catalog_suite`].

use super::*;

/// `init_instance`, `instance`, `add_storage`, `storages`, `ensure_user`.
pub async fn init_instance_storages_users(cat: Arc<dyn Catalog>) -> CheckResult {
    assert!(!cat.backend().is_empty(), "backend() names the backend");
    assert!(cat.instance().await.expect("instance").is_none(), "an empty catalog has no instance");
    let init = init("first");
    let inst = cat.init_instance(&init).await.expect("init_instance");
    assert_eq!((inst.uid.as_str(), inst.name.as_str(), inst.keys_virtual), ("inst00000001", "first", true));
    assert_eq!(inst.created_at, init.created_at);
    assert_eq!(cat.instance().await.expect("instance"), Some(inst.clone()), "instance() returns what init made");
    let again = cat.init_instance(&InstanceInit { uid: "inst00000002".into(), ..init.clone() }).await;
    assert_eq!(again.expect_err("second init fails").kind(), ErrorKind::Instance);

    let storages = cat.storages().await.expect("storages");
    assert_eq!(storages.len(), 1, "init registers the first storage location");
    assert_eq!(Some(storages[0].id), inst.default_storage, "the first storage location is the default");
    assert_eq!(storages[0].root, "/data/one");
    assert_eq!(storages[0].created_at, t0());

    let mut second = new_storage("stor00000002", "s3://bucket/prefix");
    second.region = Some("eu-west-1".into());
    second.settings = serde_json::json!({"endpoint": "http://127.0.0.1:9000"});
    let s2 = cat.add_storage(&second).await.expect("add_storage");
    assert_eq!((s2.root.as_str(), s2.region.as_deref()), ("s3://bucket/prefix", Some("eu-west-1")));
    assert_eq!(s2.settings, second.settings, "settings round-trip");
    assert_ne!(Some(s2.id), inst.default_storage);
    let storages = cat.storages().await.expect("storages");
    assert_eq!(storages.len(), 2);
    assert_eq!(storages[1], s2, "storages() lists what add_storage returned");
    let dup = cat.add_storage(&new_storage("stor00000003", "s3://bucket/prefix")).await;
    assert!(dup.is_err(), "a root is registered once");

    let changed = cat.set_default_storage(s2.id).await.expect("set_default_storage");
    assert_eq!(changed.default_storage, Some(s2.id), "set_default_storage returns the updated instance");
    assert_eq!(cat.instance().await.expect("instance").and_then(|i| i.default_storage), Some(s2.id));
    let again = cat.set_default_storage(s2.id).await.expect("set_default_storage is idempotent");
    assert_eq!(again.default_storage, Some(s2.id));
    let missing = cat.set_default_storage(StorageId(i64::MAX)).await.expect_err("unknown location");
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    assert_eq!(cat.instance().await.expect("instance").and_then(|i| i.default_storage), Some(s2.id));

    let a1 = cat.ensure_user("alice").await.expect("ensure_user");
    let a2 = cat.ensure_user("alice").await.expect("ensure_user again");
    let b = cat.ensure_user("bob").await.expect("ensure_user bob");
    assert_eq!(a1, a2, "ensure_user is idempotent");
    assert_eq!(a1.handle, "alice");
    assert_ne!(a1.id, b.id);
    Ok(Outcome::Passed)
}

/// A created record reads back with every field, on main, as the head.
pub async fn create_and_read_back(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let mut new = ctx.family(Some("tables/iris.csv"), "iris");
    new.kind = Some("dataset".into());
    new.otype = Some("DataFrame".into());
    new.n_observations = Some(150);
    new.version_tag = Some("v1.0".into());
    new.description = Some("the iris table".into());
    new.placement = Placement::InPlace { real_path: "raw/iris.csv".into() };
    new.storage = ctx.storage2;
    let created = ctx.cat.create_artifact(&new).await.expect("create");
    assert_eq!(created.uid, new.uid);
    assert_eq!(created.key, new.key);
    assert_eq!(created.description, new.description);
    assert_eq!(created.suffix, ".csv");
    assert_eq!((created.kind.as_deref(), created.otype.as_deref()), (Some("dataset"), Some("DataFrame")));
    assert_eq!(
        (created.size, &created.hash, &created.hash_type),
        (new.content.size, &new.content.hash, &HashType::Md5)
    );
    assert_eq!((created.n_files, created.n_observations), (None, Some(150)));
    assert_eq!(created.version_tag.as_deref(), Some("v1.0"));
    assert!(created.is_latest, "a new family's first version is its head");
    assert_eq!(created.branch, BranchId::MAIN, "new records land on main");
    assert_eq!((created.trashed_from, created.storage), (None, ctx.storage2));
    assert_eq!(created.placement, new.placement);
    assert_eq!(created.created_by, "alice", "created_by is the user's handle");
    assert_eq!(created.created_at, new.created_at);
    assert_eq!(created.pending, None);
    assert_eq!(ctx.get(&new.uid).await, created, "artifact(uid) returns what create returned");

    let mut folder = ctx.family(None, "a folder");
    folder.n_files = Some(3);
    folder.content.hash_type = HashType::Md5Tree;
    let folder = ctx.cat.create_artifact(&folder).await.expect("create folder");
    assert_eq!(folder.n_files, Some(3));
    assert_eq!(folder.hash_type, HashType::Md5Tree);
    assert_eq!(folder.key, None);

    assert_eq!(sorted(ctx.uids(&ArtifactQuery::new()).await), sorted(vec![created.uid.clone(), folder.uid.clone()]));
    assert_eq!(ctx.cat.count_artifacts(&ArtifactQuery::new()).await.expect("count"), 2);
    assert_eq!(ctx.cat.artifact(&Uid::new_family()).await.expect("artifact"), None, "unknown uid is None");
    Ok(Outcome::Passed)
}

/// New versions take the next index and the head moves to them.
pub async fn versions_move_the_head(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("model.pt", 3).await;
    let stem = v[0].stem();
    assert!(v.iter().all(|a| a.stem() == stem), "versions share the stem");
    assert_eq!(v.iter().map(|a| a.version_index()).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(ctx.cat.max_version(&stem).await.expect("max"), Some(2));
    assert_eq!(ctx.cat.max_version(&Stem::random()).await.expect("max"), None, "unknown family has no max");
    for (i, a) in v.iter().enumerate() {
        assert_eq!(ctx.get(&a.uid).await.is_latest, i == 2, "only the newest version is the head");
    }
    let head = ctx.cat.family_head_by_key(ctx.storage, &key("model.pt")).await.expect("head").expect("some");
    assert_eq!(head.uid, v[2].uid);
    let listed = ctx.uids(&ArtifactQuery::new().stem(stem.clone()).order(Order::Version)).await;
    assert_eq!(listed, uids_of(&v.iter().collect::<Vec<_>>()), "Order::Version lists versions ascending");
    let latest = ctx.uids(&ArtifactQuery::new().stem(stem.clone()).latest_only()).await;
    assert_eq!(latest, vec![v[2].uid.clone()]);
    assert_heads(ctx.dyn_cat(), &stem).await;
    Ok(Outcome::Passed)
}

/// Version numbering uses the numeric index across the base62 case boundary (`000Z` < `000a`).
pub async fn version_numbering_is_numeric(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("many.csv", 40).await;
    let stem = v[0].stem();
    assert_eq!(v[35].uid.version_suffix(), "000Z");
    assert_eq!(v[36].uid.version_suffix(), "000a");
    assert_eq!(ctx.cat.max_version(&stem).await.expect("max"), Some(39));
    let listed = ctx.cat.artifacts(&ArtifactQuery::new().stem(stem.clone()).order(Order::Version)).await.expect("list");
    assert_eq!(listed.iter().map(|a| a.version_index()).collect::<Vec<_>>(), (0..40).collect::<Vec<u32>>());
    let head = ctx.cat.family_head_by_key(ctx.storage, &key("many.csv")).await.expect("head").expect("some");
    assert_eq!(head.version_index(), 39);
    assert_heads(ctx.dyn_cat(), &stem).await;
    Ok(Outcome::Passed)
}

/// `revises` must be the current head of the key's family.
pub async fn stale_revises_is_refused(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("k.csv", 2).await;
    let mut stale = ctx.next_version(&v[1], "third").await;
    stale.revises = Some(v[0].uid.clone());
    let err = ctx.cat.create_artifact(&stale).await.expect_err("stale revises");
    assert_eq!(err.kind(), ErrorKind::StaleRevises, "{err:?}");

    let fresh = ctx.family(Some("k.csv"), "another family");
    let err = ctx.cat.create_artifact(&fresh).await.expect_err("a second family for a taken key");
    assert_eq!(err.kind(), ErrorKind::StaleRevises, "{err:?}");

    let mut dangling = ctx.family(Some("other.csv"), "x");
    dangling.revises = Some(v[1].uid.clone());
    let err = ctx.cat.create_artifact(&dangling).await.expect_err("revises for a key without family");
    assert_eq!(err.kind(), ErrorKind::StaleRevises, "{err:?}");

    assert_eq!(ctx.cat.count_artifacts(&ArtifactQuery::new()).await.expect("count"), 2, "nothing was inserted");
    stale.revises = Some(v[1].uid.clone());
    let third = ctx.cat.create_artifact(&stale).await.expect("the refused create left its reservation usable");
    assert!(third.is_latest);
    assert_heads(ctx.dyn_cat(), &v[0].stem()).await;
    Ok(Outcome::Passed)
}

/// Wrong version indexes, reused uids and duplicate tags are conflicts.
pub async fn version_conflicts_are_refused(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v = ctx.versions("c.csv", 2).await;
    let stem = v[0].stem();
    let good = ctx.next_version(&v[1], "v2").await;

    let skip = NewArtifact { uid: stem.uid(3).expect("uid"), ..good.clone() };
    assert_eq!(ctx.cat.create_artifact(&skip).await.expect_err("skipped index").kind(), ErrorKind::Conflict);
    let reuse = NewArtifact { uid: stem.uid(1).expect("uid"), ..good.clone() };
    assert_eq!(ctx.cat.create_artifact(&reuse).await.expect_err("reused index").kind(), ErrorKind::Conflict);
    let other = NewArtifact { uid: Stem::random().uid(2).expect("uid"), ..good.clone() };
    assert_eq!(ctx.cat.create_artifact(&other).await.expect_err("other stem").kind(), ErrorKind::Conflict);

    let tagged = ctx
        .cat
        .update_artifact(&v[0].uid, &ArtifactUpdate { version_tag: Some(Some("first".into())), ..Default::default() })
        .await
        .expect("tag v0");
    assert_eq!(tagged.version_tag.as_deref(), Some("first"));
    let dup_tag = NewArtifact { version_tag: Some("first".into()), ..good.clone() };
    assert_eq!(ctx.cat.create_artifact(&dup_tag).await.expect_err("duplicate tag").kind(), ErrorKind::Conflict);

    let mut same_stem = ctx.family(None, "no key");
    same_stem.uid = stem.uid(0).expect("uid");
    assert_eq!(
        ctx.cat.create_artifact(&same_stem).await.expect_err("existing uid as a new family").kind(),
        ErrorKind::Conflict
    );
    let mut old_stem_new_index = ctx.family(None, "no key 2");
    old_stem_new_index.uid = stem.uid(9).expect("uid");
    assert_eq!(
        ctx.cat.create_artifact(&old_stem_new_index).await.expect_err("existing stem as a new family").kind(),
        ErrorKind::Conflict
    );

    let rows = ctx.cat.count_artifacts(&ArtifactQuery::new().stem(stem.clone())).await.expect("count");
    assert_eq!(rows, 2, "no failed create left a row");
    let ok = ctx.cat.create_artifact(&good).await.expect("the reserved next version still works");
    assert!(ok.is_latest);
    assert_heads(ctx.dyn_cat(), &stem).await;
    Ok(Outcome::Passed)
}

/// De-duplication looks everywhere but the trash.
pub async fn dedup_lookup_by_hash_excludes_trash(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("a.csv"), "same").await;
    let b = ctx.create(Some("b.csv"), "same").await;
    let c = ctx.create(Some("c.csv"), "same").await;
    let other = ctx.create(Some("d.csv"), "different").await;
    ctx.apply(&[&b.uid], Operation::Archive).await;
    ctx.apply(&[&c.uid], Operation::Trash).await;
    let hash = a.hash.clone();
    let dedup = ArtifactQuery { branch: BranchSelection::All, exclude_trash: true, ..ArtifactQuery::new().hash(&hash) };
    assert_eq!(sorted(ctx.uids(&dedup).await), sorted(vec![a.uid.clone(), b.uid.clone()]));
    assert_eq!(ctx.uids(&ArtifactQuery::new().hash(&hash)).await, vec![a.uid.clone()], "default: main only");
    let trash = ArtifactQuery::new().hash(&hash).branch(BranchSelection::Only(BranchId::TRASH));
    assert_eq!(ctx.uids(&trash).await, vec![c.uid.clone()]);
    assert_eq!(ctx.cat.count_artifacts(&dedup).await.expect("count"), 2);
    assert!(!ctx.uids(&dedup).await.contains(&other.uid));
    Ok(Outcome::Passed)
}

/// `(storage, key, hash)` is unique among rows saved with de-duplication (a concurrent
/// identical save under one key cannot create a second row), while a row saved without it
/// (`dedup_exempt`: a deliberate duplicate, empty content) may repeat it as the next version.
pub async fn same_key_same_content_is_unique_unless_exempt(cat: Arc<dyn Catalog>) -> CheckResult {
    let ctx = setup(cat).await;
    let v0 = ctx.create(Some("dup.csv"), "same").await;
    let again = NewArtifact { content: v0_content(&v0), ..ctx.next_version(&v0, "same").await };
    let err = ctx.cat.create_artifact(&again).await.expect_err("a second identical row under one key");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let rows = ctx.cat.count_artifacts(&ArtifactQuery::new().stem(v0.stem())).await.expect("count");
    assert_eq!(rows, 1, "nothing was written");
    let exempt = NewArtifact { dedup_exempt: true, ..again };
    let v1 = ctx.cat.create_artifact(&exempt).await.expect("a deliberate duplicate is the next version");
    assert_eq!((v1.version_index(), v1.hash.clone(), v1.is_latest), (1, v0.hash.clone(), true));
    assert_heads(ctx.cat.as_ref(), &v0.stem()).await;
    Ok(Outcome::Passed)
}

fn v0_content(a: &Artifact) -> ContentHash {
    ContentHash { hash: a.hash.clone(), hash_type: a.hash_type.clone(), size: a.size }
}
