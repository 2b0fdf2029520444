//! The catalog conformance suite: every guarantee documented on
//! [`trove_domain::ports::Catalog`], checked against any implementation.
//!
//! Each check is a public `async fn(Arc<dyn Catalog>)` that panics with a message naming the
//! broken guarantee. [`catalog_conformance!`](crate::catalog_conformance) turns them into one
//! `#[tokio::test]` each, so every failing check is reported on its own:
//!
//! ```text
//! async fn sqlite() -> Option<trove_testkit::catalog_suite::Fixture> {
//!     Some(Fixture::new(Arc::new(MyCatalog::connect("sqlite::memory:").await.unwrap())))
//! }
//! trove_testkit::catalog_conformance!(sqlite);
//! ```
//!
//! A factory returns `None` when its backend is not available (the test then passes with a
//! note on stderr). The concurrency checks ([`concurrent_new_versions`],
//! [`concurrent_new_families`], [`concurrent_trash_restore`]) take several catalog handles on
//! one database and are called directly.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use trove_domain::hash::hash_bytes;
use trove_domain::lifecycle::{NoOpReason, Transition};
use trove_domain::ports::Catalog;
mod bulk;
mod byte_protocols;
mod collections;
pub use bulk::{create_artifacts_all_or_nothing, keyset_pages_cover_everything_once, many_keys_and_hashes};
pub use byte_protocols::{
    abort_replace_keeps_the_old_content, conditional_updates, one_placement_per_key,
    purge_marks_record_policy_and_respect_other_marks, purge_on_a_branch_skips_what_left_it,
    replace_commits_the_marked_content, replace_marks_are_exclusive, replaced_content_may_repeat_a_key,
    reservations_are_exclusive,
};
pub use collections::{
    collection_create_and_read_back, collection_lifecycle_leaves_members, collection_members_are_protected,
    concurrent_collect_and_purge, labels_attach_filter_and_protect, version_suffixes_never_reused,
};

use trove_domain::{
    Artifact, ArtifactQuery, ArtifactUpdate, BranchId, BranchSelection, ContentHash, ContentUpdate, ErrorKind,
    HashType, InstanceInit, Key, NewArtifact, NewStorage, Operation, Order, Pending, Placement, Stem, StorageId,
    StoragePolicy, Uid, UserId,
};

/// A fresh, empty catalog for one check, plus whatever must live as long as it (a temporary
/// directory, a database to drop).
pub struct Fixture {
    catalog: Arc<dyn Catalog>,
    _guard: Option<Box<dyn Any + Send>>,
}

impl Fixture {
    /// A fixture that needs no cleanup.
    pub fn new(catalog: Arc<dyn Catalog>) -> Fixture {
        Fixture { catalog, _guard: None }
    }

    /// A fixture that keeps `guard` alive until the check is done (dropped after the catalog).
    pub fn with_guard(catalog: Arc<dyn Catalog>, guard: impl Any + Send) -> Fixture {
        Fixture { catalog, _guard: Some(Box::new(guard)) }
    }

    /// The catalog under test.
    pub fn catalog(&self) -> Arc<dyn Catalog> {
        Arc::clone(&self.catalog)
    }
}

/// Generate one `#[tokio::test]` per conformance check. `$make` is a path to an
/// `async fn() -> Option<Fixture>` giving a fresh, empty catalog (`None`: backend unavailable,
/// the test passes with a note on stderr). The calling crate needs `tokio` with `macros` and
/// `rt-multi-thread`.
#[macro_export]
macro_rules! catalog_conformance {
    ($make:path) => {
        $crate::catalog_conformance!(@each $make;
            init_instance_storages_users,
            create_and_read_back,
            versions_move_the_head,
            version_numbering_is_numeric,
            stale_revises_is_refused,
            version_conflicts_are_refused,
            dedup_lookup_by_hash_excludes_trash,
            same_key_same_content_is_unique_unless_exempt,
            trash_and_restore_single,
            archive_and_restore,
            restore_returns_to_origin_branch,
            save_identical_restores_from_trash,
            bulk_transitions,
            invalid_batch_changes_nothing,
            heads_recomputed_after_purge,
            purging_rows_are_hidden,
            finish_purge_deletes_marked_rows_only,
            abort_purge_restores_visibility,
            update_artifact_changes_fields,
            pending_artifacts_are_listed,
            key_prefix_is_literal,
            ordering_limit_and_offset,
            default_query_shows_main_only,
            family_head_by_key_prefers_main,
            branch_changed_before_filter,
            uid_filter_spans_branches,
            version_suffixes_never_reused,
            collection_create_and_read_back,
            collection_lifecycle_leaves_members,
            collection_members_are_protected,
            labels_attach_filter_and_protect,
            reservations_are_exclusive,
            conditional_updates,
            one_placement_per_key,
            purge_marks_record_policy_and_respect_other_marks,
            replace_commits_the_marked_content,
            abort_replace_keeps_the_old_content,
            replaced_content_may_repeat_a_key,
            replace_marks_are_exclusive,
            purge_on_a_branch_skips_what_left_it,
            create_artifacts_all_or_nothing,
            many_keys_and_hashes,
            keyset_pages_cover_everything_once,
        );
    };
    (@each $make:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                match $make().await {
                    Some(fixture) => {
                        $crate::catalog_suite::$check(fixture.catalog()).await;
                        drop(fixture);
                    }
                    None => eprintln!("skipped {}: backend not available", stringify!($check)),
                }
            }
        )*
    };
}

// ----- helpers -----

/// Check the head invariant for one family: on every branch holding any of its (visible)
/// versions, exactly one is `is_latest`, and it is the highest version index there.
pub async fn assert_heads(cat: &dyn Catalog, stem: &Stem) {
    let q = ArtifactQuery {
        branch: BranchSelection::All,
        stem: Some(stem.clone()),
        include_pending: true,
        ..ArtifactQuery::default()
    };
    let rows = cat.artifacts(&q).await.expect("list a family");
    let mut by_branch: BTreeMap<BranchId, Vec<&Artifact>> = BTreeMap::new();
    for a in &rows {
        by_branch.entry(a.branch).or_default().push(a);
    }
    for (branch, rows) in by_branch {
        let heads: Vec<String> = rows.iter().filter(|a| a.is_latest).map(|a| a.uid.to_string()).collect();
        let newest = rows.iter().max_by_key(|a| a.version_index()).expect("non-empty");
        assert_eq!(
            heads,
            vec![newest.uid.to_string()],
            "family {stem} on {branch}: exactly one head, the newest version, expected"
        );
    }
}

struct Ctx {
    cat: Arc<dyn Catalog>,
    storage: StorageId,
    storage2: StorageId,
    user: UserId,
    seq: AtomicI64,
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).single().expect("valid time")
}

fn new_storage(uid: &str, root: &str) -> NewStorage {
    NewStorage {
        uid: uid.into(),
        root: root.into(),
        region: None,
        instance_uid: "inst00000001".into(),
        settings: serde_json::json!({}),
        created_at: t0(),
    }
}

fn init(name: &str) -> InstanceInit {
    InstanceInit {
        uid: "inst00000001".into(),
        name: name.into(),
        keys_virtual: true,
        storage: new_storage("stor00000001", "/data/one"),
        user_handle: "alice".into(),
        created_at: t0(),
    }
}

fn key(k: &str) -> Key {
    Key::parse(k).expect("valid key")
}

async fn setup(cat: Arc<dyn Catalog>) -> Ctx {
    let inst = cat.init_instance(&init("suite")).await.expect("init_instance");
    let storage = inst.default_storage.expect("init makes the first storage the default");
    let storage2 = cat.add_storage(&new_storage("stor00000002", "/data/two")).await.expect("add_storage").id;
    let user = cat.ensure_user("alice").await.expect("ensure_user").id;
    Ctx { cat, storage, storage2, user, seq: AtomicI64::new(0) }
}

impl Ctx {
    fn dyn_cat(&self) -> &dyn Catalog {
        &*self.cat
    }

    /// Strictly increasing creation times, whole seconds (exact on every backend).
    fn time(&self) -> DateTime<Utc> {
        t0() + Duration::seconds(self.seq.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn family(&self, k: Option<&str>, content: &str) -> NewArtifact {
        NewArtifact {
            uid: Uid::new_family(),
            key: k.map(key),
            description: if k.is_none() { Some(format!("about {content}")) } else { None },
            suffix: k.map(|k| key(k).suffix()).unwrap_or_default(),
            kind: None,
            otype: None,
            content: hash_bytes(content.as_bytes()),
            n_files: None,
            n_observations: None,
            version_tag: None,
            storage: self.storage,
            placement: Placement::Managed,
            created_by: self.user,
            revises: None,
            strict_revises: false,
            pending: None,
            dedup_exempt: false,
            created_at: self.time(),
        }
    }

    /// The next version of `head`'s family, at an index reserved with `reserve_version`.
    async fn next_version(&self, head: &Artifact, content: &str) -> NewArtifact {
        let index = self.cat.reserve_version(&head.stem()).await.expect("reserve_version");
        NewArtifact { uid: head.stem().uid(index).expect("version"), ..self.version_at(head, index, content) }
    }

    /// A version of `head`'s family at `index`, without reserving it.
    fn version_at(&self, head: &Artifact, index: u32, content: &str) -> NewArtifact {
        NewArtifact {
            uid: head.stem().uid(index).expect("version"),
            revises: Some(head.uid.clone()),
            strict_revises: true,
            key: head.key.clone(),
            suffix: head.suffix.clone(),
            description: head.description.clone(),
            ..self.family(None, content)
        }
    }

    async fn create(&self, k: Option<&str>, content: &str) -> Artifact {
        let new = self.family(k, content);
        self.cat.create_artifact(&new).await.unwrap_or_else(|e| panic!("create {:?}: {e:?}", new.key))
    }

    async fn version(&self, head: &Artifact, content: &str) -> Artifact {
        let new = self.next_version(head, content).await;
        self.cat.create_artifact(&new).await.unwrap_or_else(|e| panic!("create version {}: {e:?}", new.uid))
    }

    /// A family of `n` versions under key `k`; returns them oldest first.
    async fn versions(&self, k: &str, n: usize) -> Vec<Artifact> {
        let mut out = vec![self.create(Some(k), &format!("{k} v0")).await];
        for i in 1..n {
            let head = out.last().expect("non-empty").clone();
            out.push(self.version(&head, &format!("{k} v{i}")).await);
        }
        out
    }

    async fn get(&self, uid: &Uid) -> Artifact {
        self.cat.artifact(uid).await.expect("artifact").unwrap_or_else(|| panic!("{uid} should be visible"))
    }

    async fn apply(&self, uids: &[&Uid], op: Operation) -> Vec<(Artifact, Transition)> {
        let uids: Vec<Uid> = uids.iter().map(|u| (*u).clone()).collect();
        self.cat
            .apply_transition(&uids, op)
            .await
            .unwrap_or_else(|e| panic!("{op} {uids:?}: {e:?}"))
            .into_iter()
            .map(|r| (r.artifact, r.transition))
            .collect()
    }

    async fn all(&self) -> Vec<Artifact> {
        let q = ArtifactQuery { branch: BranchSelection::All, include_pending: true, ..ArtifactQuery::default() };
        self.cat.artifacts(&q).await.expect("list all")
    }

    async fn uids(&self, q: &ArtifactQuery) -> Vec<Uid> {
        self.cat.artifacts(q).await.expect("artifacts").into_iter().map(|a| a.uid).collect()
    }
}

fn sorted(mut v: Vec<Uid>) -> Vec<Uid> {
    v.sort();
    v
}

fn uids_of(v: &[&Artifact]) -> Vec<Uid> {
    v.iter().map(|a| a.uid.clone()).collect()
}

// ----- checks -----

/// `init_instance`, `instance`, `add_storage`, `storages`, `ensure_user`.
pub async fn init_instance_storages_users(cat: Arc<dyn Catalog>) {
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
}

/// A created record reads back with every field, on main, as the head.
pub async fn create_and_read_back(cat: Arc<dyn Catalog>) {
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
}

/// New versions take the next index and the head moves to them.
pub async fn versions_move_the_head(cat: Arc<dyn Catalog>) {
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
}

/// Version numbering uses the numeric index across the base62 case boundary (`000Z` < `000a`).
pub async fn version_numbering_is_numeric(cat: Arc<dyn Catalog>) {
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
}

/// `revises` must be the current head of the key's family.
pub async fn stale_revises_is_refused(cat: Arc<dyn Catalog>) {
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
}

/// Wrong version indexes, reused uids and duplicate tags are conflicts.
pub async fn version_conflicts_are_refused(cat: Arc<dyn Catalog>) {
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
}

/// De-duplication looks everywhere but the trash.
pub async fn dedup_lookup_by_hash_excludes_trash(cat: Arc<dyn Catalog>) {
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
}

/// `(storage, key, hash)` is unique among rows saved with de-duplication (a concurrent
/// identical save under one key cannot create a second row), while a row saved without it
/// (`dedup_exempt`: a deliberate duplicate, empty content) may repeat it as the next version.
pub async fn same_key_same_content_is_unique_unless_exempt(cat: Arc<dyn Catalog>) {
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
}

fn v0_content(a: &Artifact) -> ContentHash {
    ContentHash { hash: a.hash.clone(), hash_type: a.hash_type.clone(), size: a.size }
}

/// Trash and restore of one record, with the head moving both ways.
pub async fn trash_and_restore_single(cat: Arc<dyn Catalog>) {
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
}

/// Archive, restore from archive, and heads on both branches.
pub async fn archive_and_restore(cat: Arc<dyn Catalog>) {
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
}

/// A record trashed from the archive is restored to the archive.
pub async fn restore_returns_to_origin_branch(cat: Arc<dyn Catalog>) {
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
}

/// Saving identical content restores a trashed record; on a live one it is a no-op.
pub async fn save_identical_restores_from_trash(cat: Arc<dyn Catalog>) {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("s.csv"), "s").await;
    let r = ctx.apply(&[&a.uid], Operation::SaveIdentical).await;
    assert_eq!(r[0].1, Transition::NoOp { reason: NoOpReason::AlreadyExists });
    ctx.apply(&[&a.uid], Operation::Trash).await;
    let r = ctx.apply(&[&a.uid], Operation::SaveIdentical).await;
    assert_eq!(r[0].1, Transition::Move { from: BranchId::TRASH, to: BranchId::MAIN });
    assert_eq!(r[0].0.branch, BranchId::MAIN);
    assert!(r[0].0.is_latest);
}

/// Bulk trash and restore over several families, results in input order.
pub async fn bulk_transitions(cat: Arc<dyn Catalog>) {
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
}

/// A batch with any invalid record (missing, already trashed, not archivable) changes nothing.
pub async fn invalid_batch_changes_nothing(cat: Arc<dyn Catalog>) {
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
}

/// Heads are recomputed when versions are purged, on main and in the trash.
pub async fn heads_recomputed_after_purge(cat: Arc<dyn Catalog>) {
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
}

/// Purging rows are invisible to every query but count for `max_version`.
pub async fn purging_rows_are_hidden(cat: Arc<dyn Catalog>) {
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
}

/// `finish_purge` deletes only rows marked purging and says how many.
pub async fn finish_purge_deletes_marked_rows_only(cat: Arc<dyn Catalog>) {
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
}

/// `abort_purge` brings the records back and recomputes heads.
pub async fn abort_purge_restores_visibility(cat: Arc<dyn Catalog>) {
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
}

/// `update_artifact` changes exactly the fields given.
pub async fn update_artifact_changes_fields(cat: Arc<dyn Catalog>) {
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
}

/// Records with a pending marker are listed for `fsck`, hidden from default listings.
pub async fn pending_artifacts_are_listed(cat: Arc<dyn Catalog>) {
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
}

/// Key prefixes are literal: `%`, `_` and `!` match themselves; matching is case-sensitive.
pub async fn key_prefix_is_literal(cat: Arc<dyn Catalog>) {
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
}

/// Orders, limit and offset; counts ignore limit and offset.
pub async fn ordering_limit_and_offset(cat: Arc<dyn Catalog>) {
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
}

/// The default query shows main only; a named branch shows exactly that; `All` shows all.
pub async fn default_query_shows_main_only(cat: Arc<dyn Catalog>) {
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
}

/// `family_head_by_key` ignores the trash and prefers main over the archive.
pub async fn family_head_by_key_prefers_main(cat: Arc<dyn Catalog>) {
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
}

/// `branch_changed_before` selects records that changed branch before a time.
pub async fn branch_changed_before_filter(cat: Arc<dyn Catalog>) {
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
}

/// A uid filter finds records on any branch it is combined with.
pub async fn uid_filter_spans_branches(cat: Arc<dyn Catalog>) {
    let ctx = setup(cat).await;
    let a = ctx.create(Some("x.csv"), "x").await;
    let b = ctx.create(Some("y.csv"), "y").await;
    ctx.apply(&[&b.uid], Operation::Trash).await;
    let q = ArtifactQuery::new().uids(vec![a.uid.clone(), b.uid.clone()]).branch(BranchSelection::All);
    assert_eq!(sorted(ctx.uids(&q).await), sorted(vec![a.uid.clone(), b.uid.clone()]));
    assert_eq!(ctx.uids(&ArtifactQuery::new().uids(vec![a.uid.clone(), b.uid.clone()])).await, vec![a.uid.clone()]);
    assert!(ctx.uids(&ArtifactQuery::new().uids(vec![]).branch(BranchSelection::All)).await.is_empty());
    assert_eq!(ctx.cat.count_artifacts(&ArtifactQuery::new().uids(vec![])).await.expect("count"), 0);
}

// ----- concurrency (several handles on one database) -----

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
pub async fn concurrent_new_versions(cats: &[Arc<dyn Catalog>], writers: usize) {
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
}

/// Two writers creating the same brand-new key concurrently make one family, not two.
pub async fn concurrent_new_families(cats: &[Arc<dyn Catalog>], rounds: usize) {
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
}

/// Concurrent trash/restore of versions of one family converge to a valid state: one head per
/// branch, the newest there.
pub async fn concurrent_trash_restore(cats: &[Arc<dyn Catalog>], workers: usize, steps: usize) {
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
}
