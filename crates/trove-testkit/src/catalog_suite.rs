//! The catalog conformance suite: every guarantee documented on
//! [`trove_domain::ports::Catalog`], checked against any implementation.
//!
//! Each check is a public `async fn(Arc<dyn Catalog>) -> CheckResult` that fails (returns an
//! `Err` or panics) with a message naming the broken guarantee, on a fresh, empty catalog; the
//! results read as the object-store suite's do ([`crate::check`]).
//! [`catalog_suite!`](crate::catalog_suite!) turns them into one `#[tokio::test]` each, so every
//! failing check is reported on its own:
//!
//! ```text
//! async fn sqlite() -> (Arc<dyn Catalog>, tempfile::TempDir) { ... }
//! trove_testkit::catalog_suite!(sqlite);
//! // or, for a backend that may be absent (the setup returns `Option<_>`, `None` skips with a
//! // note on stderr):
//! trove_testkit::catalog_suite!(optional postgres);
//! ```
//!
//! [`run_all`] runs every check, each on a fresh catalog from a factory, and returns a
//! [`SuiteReport`]. The concurrency checks ([`concurrent_new_versions`],
//! [`concurrent_new_families`], [`concurrent_trash_restore`], [`concurrent_collect_and_purge`])
//! take several catalog handles on one database and are called directly.
//!
//! The checks live by subject in the submodules (`records`, `moves`, `queries`,
//! `byte_protocols`, `collections`, `concurrent`) and are all re-exported here.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use trove_domain::hash::hash_bytes;
use trove_domain::lifecycle::{NoOpReason, Transition};
use trove_domain::ports::Catalog;
use trove_domain::{
    Artifact, ArtifactQuery, ArtifactUpdate, BranchId, BranchSelection, ContentHash, ContentUpdate, ErrorKind,
    HashType, InstanceInit, Key, NewArtifact, NewStorage, Operation, Order, Pending, Placement, Stem, StorageId,
    StoragePolicy, Uid, UserId,
};

pub use crate::check::{CheckResult, Outcome, SuiteReport};

mod bulk;
mod byte_protocols;
mod collections;
mod concurrent;
mod moves;
mod queries;
mod records;

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
pub use concurrent::{concurrent_new_families, concurrent_new_versions, concurrent_trash_restore};
pub use moves::{
    abort_purge_restores_visibility, archive_and_restore, bulk_transitions, finish_purge_deletes_marked_rows_only,
    heads_recomputed_after_purge, invalid_batch_changes_nothing, purging_rows_are_hidden,
    restore_returns_to_origin_branch, save_identical_restores_from_trash, trash_and_restore_single,
};
pub use queries::{
    branch_changed_before_filter, default_query_shows_main_only, family_head_by_key_prefers_main,
    key_prefix_is_literal, ordering_limit_and_offset, pending_artifacts_are_listed, uid_filter_spans_branches,
    update_artifact_changes_fields,
};
pub use records::{
    create_and_read_back, dedup_lookup_by_hash_excludes_trash, init_instance_storages_users,
    same_key_same_content_is_unique_unless_exempt, stale_revises_is_refused, version_conflicts_are_refused,
    version_numbering_is_numeric, versions_move_the_head,
};

/// A check: an async function of a fresh, empty catalog.
pub type CheckFn = fn(Arc<dyn Catalog>) -> Pin<Box<dyn Future<Output = CheckResult> + Send>>;

/// What a test setup yields: a fresh, empty catalog, possibly with guards (a temporary
/// directory, a database to drop) that must live as long as the test; a guard is dropped
/// after the catalog.
pub trait CatalogFixture: Send {
    /// The catalog under test.
    fn catalog(&self) -> Arc<dyn Catalog>;
}

impl CatalogFixture for Arc<dyn Catalog> {
    fn catalog(&self) -> Arc<dyn Catalog> {
        Arc::clone(self)
    }
}

impl<G: Send> CatalogFixture for (Arc<dyn Catalog>, G) {
    fn catalog(&self) -> Arc<dyn Catalog> {
        Arc::clone(&self.0)
    }
}

/// Run every check, each on a fresh catalog from `make`, one after another.
pub async fn run_all<F: CatalogFixture>(make: impl AsyncFn() -> F) -> SuiteReport {
    let mut results = Vec::new();
    for (name, check) in CHECKS {
        let fixture = make().await;
        results.push((*name, crate::check::caught(check(fixture.catalog())).await));
    }
    SuiteReport { suite: "catalog", results }
}

/// Run the check called `name` on `catalog` (which must be fresh and empty); a panic in the
/// check is an `Err`; `Err` too if there is no such check.
pub async fn run_check(name: &str, catalog: Arc<dyn Catalog>) -> CheckResult {
    match CHECKS.iter().find(|(n, _)| *n == name) {
        Some((_, check)) => crate::check::caught(check(catalog)).await,
        None => Err(format!("no catalog check is called '{name}'")),
    }
}

/// Run the check `name` on the fixture's catalog and [`conclude`](crate::check::conclude)
/// (what each generated test does).
pub async fn run_named<F: CatalogFixture>(name: &str, fixture: &F) {
    let catalog = fixture.catalog();
    let backend = catalog.backend();
    crate::check::conclude("catalog", name, backend, run_check(name, catalog).await);
}

/// The one list of checks: calls `$callback! { [args] check, check, ... }`.
#[doc(hidden)]
#[macro_export]
macro_rules! __catalog_checks {
    ($callback:ident [$($args:tt)*]) => {
        $crate::$callback! { [$($args)*]
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
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __catalog_define_checks {
    ([] $($name:ident),* $(,)?) => {
        /// Every check, by name, in the order [`run_all`] runs them.
        pub const CHECKS: &[(&str, CheckFn)] = &[
            $((stringify!($name), |c| Box::pin($name(c))),)*
        ];
    };
}

__catalog_checks!(__catalog_define_checks []);

/// Generate one `#[tokio::test]` per check of the catalog suite.
///
/// The argument names an `async fn` returning a [`CatalogFixture`] (for example
/// `(Arc<dyn Catalog>, TempDir)`) holding a fresh, empty catalog; each test gets its own. With
/// `optional`, the function returns `Option<_>` and `None` skips the backend with a printed
/// note. The calling crate needs `tokio` with `macros` and `rt-multi-thread`.
#[macro_export]
macro_rules! catalog_suite {
    (optional $make:path) => {
        $crate::__catalog_checks!(__catalog_suite_tests [optional $make]);
    };
    ($make:path) => {
        $crate::__catalog_checks!(__catalog_suite_tests [required $make]);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __catalog_suite_tests {
    ([required $make:path] $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let fixture = $make().await;
                $crate::catalog_suite::run_named(stringify!($check), &fixture).await;
            }
        )*
    };
    ([optional $make:path] $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                match $make().await {
                    Some(fixture) => $crate::catalog_suite::run_named(stringify!($check), &fixture).await,
                    None => eprintln!(
                        "catalog check {} skipped: backend not available ({})",
                        stringify!($check),
                        stringify!($make)
                    ),
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
