//! The branch state machine of spec 1, checked by `proptest-state-machine` against real
//! backends: SQLite + local disk, PostgreSQL + S3 (garage), PostgreSQL + GCS (fake-gcs-server).
//!
//! The reference is `trove_testkit::model::Model`. Each case starts a fresh instance and runs
//! 1-30 operations (saves with and without keys, virtual and real; identical and changed
//! content; trash, restore, archive, single `delete`, permanent deletion with each storage
//! policy, bulk forms, `empty_trash`; `replace` from a local file with the same or another
//! suffix, identical or new content, on any branch; collections over 1-2 artifacts, created,
//! trashed, restored and deleted permanently, so that members are protected from permanent
//! deletion), aimed also at records and collections that are gone or in the wrong state.
//! Every answer is compared with the model's prediction (outcome, records, typed error), and
//! after every step:
//! * the catalog against the model, and the default views of spec 1 section 5;
//! * the storage listing against the model (bytes kept or removed as the policy says);
//! * the bytes: every record's (all branches) read and hashed to its recorded size, hash and
//!   hash type, with spec 1 section 4's row invariants (`trove_testkit::invariants`);
//! * every content the model holds read back, byte for byte: each record's through the façade
//!   (`load_bytes`), bytes kept after permanent deletion through the store.
//!
//! With several writers (`*_concurrent`, SQLite + local disk and PostgreSQL + S3): each step is
//! a round of concurrent operations from separate clients, aimed at conflicts, and the model
//! checks the merged history; see `state_machine/concurrent.rs`.
//!
//! Modelled as the façade does it (the spec is silent): a replace is refused before it compares
//! content (a new suffix whose path is taken, or whose key another family uses on any branch:
//! `PathOccupied`, as the commit answers when another writer takes the key meanwhile), so identical content with a new suffix is `Unchanged` only when
//! the rename would be allowed; `empty_trash` with a collection member in the trash fails as a
//! whole with `Protected`.
//!
//! `PROPTEST_CASES` raises the number of cases of every test here (a soak run); without it each
//! backend runs a bounded number. Failures shrink to a minimal sequence and are saved in
//! `state_machine.proptest-regressions` (and `state_machine/concurrent.proptest-regressions`)
//! (commit those), replayed first on every run. Each backend prints the cases and steps it ran,
//! how many byte checks and read-backs it made, how often each operation kind ran, and how often
//! each kind of answer came up.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use trove::domain::hash::{hash_bytes, md5_digest};
use trove::domain::key::managed_storage_key;
use trove::domain::ports::{ObjectMeta, ObjectStore};
use trove::{
    ArtifactQuery, BranchId, BranchSelection, CollectionOptions, CollectionOutcome, CollectionQuery, ErrorKind,
    InitOptions, Order, PurgeReport, ReplaceOutcome, SaveOptions, SaveOutcome, Source, Stem, StoragePolicy, Trove, Uid,
};
use trove_testkit::backends::{Provider, TestBackends, backends_blocking};
use trove_testkit::invariants::{self, Checked, Stores};
use trove_testkit::model::{
    CollectionExpect, Expect, Location, Model, Op, PurgeExpect, ReplaceExpect, SaveExpect, SaveRequest, TrashCutoff,
    key_with_suffix,
};

/// Contents: a few bytes from a small alphabet, so identical content (dedup, restore from the
/// trash) happens often; the empty one skips de-duplication.
const CONTENTS: [&[u8]; 4] = [b"a", b"b", b"ab", b""];
/// Keys (all `.txt`); `None` saves with a description only.
const KEYS: [&str; 3] = ["a.txt", "b.txt", "d/c.txt"];
/// Suffixes of replace sources (`""`: a file name without one).
const SUFFIXES: [&str; 3] = [".txt", ".csv", ""];
/// Collection keys; `None` creates with a description only.
const COLLECTION_KEYS: [&str; 2] = ["c1", "c2"];
/// Operations per case (1 is the floor shrinking may reach; generated cases average ~15).
const STEPS: std::ops::Range<usize> = 1..31;

// ---------------------------------------------------------------------------------------------
// The reference state machine

struct Lifecycle;

fn save_strategy() -> BoxedStrategy<Op> {
    (
        0..CONTENTS.len(),
        prop::option::weighted(0.85, 0..KEYS.len()),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(c, k, real, allow_duplicate)| {
            Op::Save(SaveRequest {
                content: CONTENTS[c].to_vec(),
                key: k.map(|k| KEYS[k].to_owned()),
                real: real && k.is_some(),
                allow_duplicate,
            })
        })
        .boxed()
}

fn empty_trash_strategy() -> BoxedStrategy<Op> {
    (prop::bool::weighted(0.85), prop::bool::weighted(0.25))
        .prop_map(|(all, dry_run)| Op::EmptyTrash {
            cutoff: if all { TrashCutoff::Everything } else { TrashCutoff::LongAgo },
            dry_run,
        })
        .boxed()
}

fn replace_strategy(n: usize) -> BoxedStrategy<Op> {
    (0..n, 0..CONTENTS.len(), prop::sample::select(vec![0usize, 0, 0, 1, 1, 2]))
        .prop_map(|(slot, c, x)| Op::Replace { slot, content: CONTENTS[c].to_vec(), suffix: SUFFIXES[x].to_owned() })
        .boxed()
}

fn create_collection_strategy(n: usize) -> BoxedStrategy<Op> {
    (prop::collection::vec(0..n, 1..=2), prop::option::weighted(0.6, 0..COLLECTION_KEYS.len()))
        .prop_map(|(members, k)| Op::CreateCollection { members, key: k.map(|k| COLLECTION_KEYS[k].to_owned()) })
        .boxed()
}

impl ReferenceStateMachine for Lifecycle {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::new()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        let n = state.records.len();
        if n == 0 {
            return prop_oneof![8 => save_strategy(), 1 => empty_trash_strategy()].boxed();
        }
        let some = move || prop::collection::vec(0..n, 1..=3);
        let policy = prop_oneof![Just(StoragePolicy::Auto), Just(StoragePolicy::Keep), Just(StoragePolicy::Delete)];
        let records = prop_oneof![
            6 => save_strategy(),
            1 => (0..n).prop_map(Op::Delete),
            2 => some().prop_map(Op::Trash),
            2 => some().prop_map(Op::Restore),
            1 => some().prop_map(Op::Archive),
            2 => (some(), policy).prop_map(|(s, p)| Op::DeletePermanently(s, p)),
            1 => empty_trash_strategy(),
            3 => replace_strategy(n),
            2 => create_collection_strategy(n),
        ];
        let c = state.collections.len();
        if c == 0 {
            return records.boxed();
        }
        let cols = move || prop::collection::vec(0..c, 1..=2);
        prop_oneof![
            20 => records,
            1 => cols().prop_map(Op::TrashCollections),
            1 => cols().prop_map(Op::RestoreCollections),
            2 => cols().prop_map(Op::DeleteCollectionsPermanently),
        ]
        .boxed()
    }

    fn apply(mut state: Model, op: &Op) -> Model {
        state.apply(op);
        state
    }

    fn preconditions(state: &Model, op: &Op) -> bool {
        // Shrinking may remove the save that created a slot; and the model must be able to tell
        // which record the system will pick.
        if !op.record_slots().iter().all(|s| *s < state.records.len()) {
            return false;
        }
        if !op.collection_slots().iter().all(|c| *c < state.collections.len()) {
            return false;
        }
        // Not generated: saves whose answer depends on uid order.
        !matches!(state.clone().apply(op), Expect::Saved(SaveExpect::Undetermined))
    }
}

// ---------------------------------------------------------------------------------------------
// Backends

/// Cases and steps run on one backend (shrinking included), and what the checks looked at.
struct Stats {
    cases: AtomicUsize,
    /// Steps of the sequential machine; operations of the concurrent one.
    steps: AtomicUsize,
    /// Rounds of concurrent operations (the concurrent machine only).
    rounds: AtomicUsize,
    /// Rounds whose accepted order was not the first one tried (the concurrent machine only).
    reordered: AtomicUsize,
    /// Records whose bytes were read and hashed after a step, summed over steps.
    bytes_checked: AtomicUsize,
    /// Contents read back through the façade (records) or the store (kept bytes), summed.
    retrieved: AtomicUsize,
    /// How often each kind of expected answer came up (coverage).
    outcomes: Mutex<BTreeMap<String, usize>>,
    /// How often each kind of operation ran (coverage).
    ops: Mutex<BTreeMap<&'static str, usize>>,
    /// Answers accepted only as a lost race, by kind (the concurrent machine only).
    relaxed: Mutex<BTreeMap<&'static str, usize>>,
    /// Operations left out of a round because they would run a known race (the concurrent
    /// machine only).
    left_out: Mutex<BTreeMap<&'static str, usize>>,
}

impl Stats {
    const fn new() -> Self {
        Stats {
            cases: AtomicUsize::new(0),
            steps: AtomicUsize::new(0),
            rounds: AtomicUsize::new(0),
            reordered: AtomicUsize::new(0),
            bytes_checked: AtomicUsize::new(0),
            retrieved: AtomicUsize::new(0),
            outcomes: Mutex::new(BTreeMap::new()),
            ops: Mutex::new(BTreeMap::new()),
            relaxed: Mutex::new(BTreeMap::new()),
            left_out: Mutex::new(BTreeMap::new()),
        }
    }

    fn count(&self, model: &Model, op: &Op, expect: &Expect) {
        let kind = match op {
            Op::Save(_) => "save",
            Op::Delete(_) => "delete",
            Op::Trash(_) => "trash",
            Op::Restore(_) => "restore",
            Op::Archive(_) => "archive",
            Op::DeletePermanently(v, _) if v.iter().any(|s| model.is_protected(*s)) => "purge(member)",
            Op::DeletePermanently(_, StoragePolicy::Auto) => "purge(auto)",
            Op::DeletePermanently(_, StoragePolicy::Keep) => "purge(keep)",
            Op::DeletePermanently(_, StoragePolicy::Delete) => "purge(delete)",
            Op::EmptyTrash { .. } => "empty_trash",
            Op::Replace { slot, suffix, .. } => match model.record(*slot) {
                Some(r) if r.exists() && r.suffix != *suffix => "replace(new suffix)",
                Some(r) if r.exists() => "replace(same suffix)",
                _ => "replace(gone)",
            },
            Op::CreateCollection { .. } => "collection create",
            Op::TrashCollections(_) => "collection trash",
            Op::RestoreCollections(_) => "collection restore",
            Op::DeleteCollectionsPermanently(_) => "collection purge",
        };
        let mut ops = self.ops.lock().unwrap();
        *ops.entry(kind).or_default() += 1;
        if let Op::Replace { slot, .. } = op
            && model.record(*slot).is_some_and(|r| r.exists() && r.branch != Some(BranchId::MAIN))
        {
            *ops.entry("replace(of those: trashed or archived)").or_default() += 1;
        }
        drop(ops);
        let answer = match expect {
            Expect::Saved(SaveExpect::Created { .. }) => "created".to_owned(),
            Expect::Saved(SaveExpect::NewVersion { .. }) => "new_version".to_owned(),
            Expect::Saved(SaveExpect::Existing { .. }) => "existing".to_owned(),
            Expect::Saved(SaveExpect::RestoredFromTrash { .. }) => "restored_from_trash".to_owned(),
            Expect::Saved(SaveExpect::Undetermined) => "undetermined".to_owned(),
            Expect::Moved(m) if m.iter().all(|(_, t)| matches!(t, trove::Transition::NoOp { .. })) => {
                "no-op".to_owned()
            }
            Expect::Moved(_) => "moved".to_owned(),
            Expect::Purged(p) if p.iter().any(|p| p.kept.is_some()) => "some bytes kept".to_owned(),
            Expect::Purged(_) => "bytes removed".to_owned(),
            Expect::EmptiedTrash { doomed, purged } => {
                if doomed.is_empty() {
                    "nothing".to_owned()
                } else if purged.is_empty() {
                    "listed".to_owned()
                } else {
                    "purged".to_owned()
                }
            }
            Expect::Replaced(ReplaceExpect::Replaced { moved: Some(_), .. }) => "replaced, bytes moved".to_owned(),
            Expect::Replaced(ReplaceExpect::Replaced { .. }) => "replaced in place".to_owned(),
            Expect::Replaced(ReplaceExpect::Unchanged { .. }) => "unchanged".to_owned(),
            Expect::Collection(CollectionExpect::Created { .. }) => "created".to_owned(),
            Expect::Collection(CollectionExpect::NewVersion { .. }) => "new_version".to_owned(),
            Expect::Collection(CollectionExpect::Existing { .. }) => "existing".to_owned(),
            Expect::CollectionsMoved(m) if m.iter().all(|(_, t)| matches!(t, trove::Transition::NoOp { .. })) => {
                "no-op".to_owned()
            }
            Expect::CollectionsMoved(_) => "moved".to_owned(),
            Expect::CollectionsPurged(_) => "deleted".to_owned(),
            Expect::Failed(k) => format!("error {k}"),
        };
        *self.outcomes.lock().unwrap().entry(format!("{kind} -> {answer}")).or_default() += 1;
    }

    fn checked(&self, c: &StepChecked) {
        self.bytes_checked.fetch_add(c.bytes.records_with_bytes, Ordering::Relaxed);
        self.retrieved.fetch_add(c.retrieved, Ordering::Relaxed);
    }

    /// Print what ran, for the lead's figures.
    fn print(&self, name: &str, elapsed: Duration, asked: u32, describe: &str) {
        let rounds = self.rounds.load(Ordering::Relaxed);
        let what = if rounds > 0 {
            format!(
                "{} rounds of concurrent operations, {} operations ({} rounds accepted in an order other than the \
                 first tried)",
                rounds,
                self.steps.load(Ordering::Relaxed),
                self.reordered.load(Ordering::Relaxed)
            )
        } else {
            format!("{} steps", self.steps.load(Ordering::Relaxed))
        };
        note(&format!(
            "state_machine {name}: {} cases, {what} in {:.1} s ({asked} cases asked for; {describe})",
            self.cases.load(Ordering::Relaxed),
            elapsed.as_secs_f64(),
        ));
        note(&format!(
            "state_machine {name}: after every step: {} record byte checks (read and hashed), {} saved contents read \
             back",
            self.bytes_checked.load(Ordering::Relaxed),
            self.retrieved.load(Ordering::Relaxed)
        ));
        note(&format!("state_machine {name}: operations: {}", join(&self.ops.lock().unwrap())));
        note(&format!("state_machine {name}: answers: {}", join(&self.outcomes.lock().unwrap())));
        if rounds > 0 {
            note(&format!(
                "state_machine {name}: answers accepted as a lost race: {}",
                join(&self.relaxed.lock().unwrap())
            ));
            note(&format!(
                "state_machine {name}: operations left out (known races, see RACES): {}",
                join(&self.left_out.lock().unwrap())
            ));
        }
    }
}

fn join<K: std::fmt::Display>(m: &BTreeMap<K, usize>) -> String {
    m.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
}

/// Opens another handle on an open instance, as a second client does (its own catalog
/// connection and store), on the given runtime.
type Connect = Arc<dyn Fn(&tokio::runtime::Runtime) -> Trove + Send + Sync>;

/// A fresh instance on some backend, and what must live as long as it.
struct Opened {
    trove: Trove,
    /// The default storage location's store, to read the listing through the port.
    store: Arc<dyn ObjectStore>,
    /// Another client of the same instance.
    connect: Connect,
    guard: Box<dyn Any>,
}

trait Backend: 'static {
    const NAME: &'static str;
    /// Cases per run unless `PROPTEST_CASES` says otherwise.
    const DEFAULT_CASES: u32;
    /// Cases of the concurrent machine unless `PROPTEST_CASES` says otherwise.
    const DEFAULT_CONCURRENT_CASES: u32 = 16;
    fn available(b: &TestBackends) -> bool;
    fn open(b: &TestBackends, rt: &tokio::runtime::Runtime) -> Opened;
    fn stats() -> &'static Stats;
    fn concurrent_stats() -> &'static Stats;
}

struct SqliteFs;
impl Backend for SqliteFs {
    const NAME: &'static str = "sqlite_fs";
    const DEFAULT_CASES: u32 = 192;
    const DEFAULT_CONCURRENT_CASES: u32 = 96;
    fn available(_: &TestBackends) -> bool {
        true
    }
    fn open(b: &TestBackends, rt: &tokio::runtime::Runtime) -> Opened {
        let dir = b.local_dir();
        let root = dir.path().join("data");
        let trove = rt.block_on(Trove::init(InitOptions::local(&root))).expect("init sqlite+fs");
        let store = rt.block_on(trove::open_store(&trove.default_storage().root)).expect("open fs store");
        let location = root.to_str().expect("a UTF-8 temporary path").to_owned();
        let connect: Connect = Arc::new(move |rt| {
            rt.block_on(Trove::builder().location(location.clone()).user("writer").open()).expect("open sqlite+fs")
        });
        Opened { trove, store, connect, guard: Box::new(dir) }
    }
    fn stats() -> &'static Stats {
        static S: Stats = Stats::new();
        &S
    }
    fn concurrent_stats() -> &'static Stats {
        static S: Stats = Stats::new();
        &S
    }
}

fn init_shared(rt: &tokio::runtime::Runtime, url: &str, store: Arc<dyn ObjectStore>) -> Trove {
    rt.block_on(async {
        let catalog = trove::connect_catalog(url).await.expect("connect PostgreSQL");
        Trove::builder()
            .catalog(catalog)
            .store(store.clone())
            .init(InitOptions {
                storage: store.root().to_owned(),
                db: Some(url.to_owned()),
                name: None,
                keys_virtual: true,
                user: Some("state-machine".into()),
                single_writer: false,
            })
            .await
            .expect("init PostgreSQL + cloud storage")
    })
}

/// Another client of a PostgreSQL instance: its own connection and its own store.
fn connect_shared(url: String, store: impl Fn() -> Arc<dyn ObjectStore> + Send + Sync + 'static) -> Connect {
    Arc::new(move |rt| {
        let store = {
            let _rt = rt.enter();
            store()
        };
        rt.block_on(async {
            let catalog = trove::connect_catalog(&url).await.expect("connect PostgreSQL");
            Trove::builder().catalog(catalog).store(store).user("writer").open().await.expect("open the instance")
        })
    })
}

struct PostgresS3;
impl Backend for PostgresS3 {
    const NAME: &'static str = "postgres_s3";
    const DEFAULT_CASES: u32 = 64;
    const DEFAULT_CONCURRENT_CASES: u32 = 24;
    fn available(b: &TestBackends) -> bool {
        b.provider() != Provider::Embedded
    }
    fn open(b: &TestBackends, rt: &tokio::runtime::Runtime) -> Opened {
        let db = b.postgres_db_blocking().expect("a PostgreSQL database");
        let bucket = b.s3_bucket_blocking().expect("an S3 bucket");
        let cfg = trove_storage::S3Config {
            endpoint: Some(bucket.endpoint.clone()),
            region: bucket.region.clone(),
            access_key_id: Some(bucket.access_key_id.clone()),
            secret_access_key: Some(bucket.secret_access_key.clone()),
            ..trove_storage::S3Config::new(bucket.bucket.clone(), "")
        };
        let make = move || -> Arc<dyn ObjectStore> {
            Arc::new(trove_storage::OpendalStore::s3(cfg.clone()).expect("S3 store"))
        };
        let store = {
            let _rt = rt.enter();
            make()
        };
        let trove = init_shared(rt, &db.url, store.clone());
        let connect = connect_shared(db.url.clone(), make);
        Opened { trove, store, connect, guard: Box::new(db) }
    }
    fn stats() -> &'static Stats {
        static S: Stats = Stats::new();
        &S
    }
    fn concurrent_stats() -> &'static Stats {
        static S: Stats = Stats::new();
        &S
    }
}

struct PostgresGcs;
impl Backend for PostgresGcs {
    const NAME: &'static str = "postgres_gcs";
    const DEFAULT_CASES: u32 = 48;
    fn available(b: &TestBackends) -> bool {
        b.provider() != Provider::Embedded
    }
    fn open(b: &TestBackends, rt: &tokio::runtime::Runtime) -> Opened {
        let db = b.postgres_db_blocking().expect("a PostgreSQL database");
        let bucket = b.gcs_bucket_blocking().expect("a GCS bucket");
        let cfg = trove_storage::GcsConfig {
            endpoint: Some(bucket.endpoint.clone()),
            token: Some("fake-token".into()),
            emulator: true,
            ..trove_storage::GcsConfig::new(bucket.bucket.clone(), "")
        };
        let make = move || -> Arc<dyn ObjectStore> {
            Arc::new(trove_storage::OpendalStore::gcs(cfg.clone()).expect("GCS store"))
        };
        let store = {
            let _rt = rt.enter();
            make()
        };
        let trove = init_shared(rt, &db.url, store.clone());
        let connect = connect_shared(db.url.clone(), make);
        Opened { trove, store, connect, guard: Box::new(db) }
    }
    fn stats() -> &'static Stats {
        static S: Stats = Stats::new();
        &S
    }
    fn concurrent_stats() -> &'static Stats {
        static S: Stats = Stats::new();
        &S
    }
}

/// An instance in a bucket (spec 3): the SQLite catalog at `.trove/trove.db` in the bucket,
/// with no database server; the second client has its own cache folder (its own working
/// copies), as another machine would.
fn open_in_bucket(
    bucket: trove_testkit::backends::S3Bucket,
    single_writer: bool,
    rt: &tokio::runtime::Runtime,
) -> Opened {
    let cfg = trove_storage::S3Config {
        endpoint: Some(bucket.endpoint.clone()),
        region: bucket.region.clone(),
        access_key_id: Some(bucket.access_key_id.clone()),
        secret_access_key: Some(bucket.secret_access_key.clone()),
        ..trove_storage::S3Config::new(bucket.bucket.clone(), "inst")
    };
    let make =
        move || -> Arc<dyn ObjectStore> { Arc::new(trove_storage::OpendalStore::s3(cfg.clone()).expect("S3 store")) };
    let store = {
        let _rt = rt.enter();
        make()
    };
    let caches = tempfile::tempdir().expect("cache folders");
    let first_cache = caches.path().join("first");
    let trove = rt
        .block_on(Trove::builder().store(store.clone()).cache_dir(&first_cache).init(InitOptions {
            user: Some("state-machine".into()),
            single_writer,
            ..InitOptions::local(store.root())
        }))
        .expect("init an instance in the bucket");
    assert_eq!(trove.catalog_backend(), "sqlite-in-bucket");
    let root = store.root().to_owned();
    let second_cache = caches.path().join("second");
    let connect: Connect = Arc::new(move |rt| {
        let store = {
            let _rt = rt.enter();
            make()
        };
        rt.block_on(Trove::builder().store(store).location(root.clone()).cache_dir(&second_cache).user("writer").open())
            .expect("open the instance in the bucket")
    });
    Opened { trove, store, connect, guard: Box::new(caches) }
}

/// On garage, which ignores conditional writes: single-writer mode (sequential only).
struct BucketS3;
impl Backend for BucketS3 {
    const NAME: &'static str = "bucket_s3";
    const DEFAULT_CASES: u32 = 24;
    fn available(b: &TestBackends) -> bool {
        b.provider() != Provider::Embedded
    }
    fn open(b: &TestBackends, rt: &tokio::runtime::Runtime) -> Opened {
        open_in_bucket(b.s3_bucket_blocking().expect("an S3 bucket"), true, rt)
    }
    fn stats() -> &'static Stats {
        static S: Stats = Stats::new();
        &S
    }
    fn concurrent_stats() -> &'static Stats {
        static S: Stats = Stats::new();
        &S
    }
}

/// On an S3 server that honours conditional writes (moto): many writers, by the lease.
struct BucketConditional;
impl Backend for BucketConditional {
    const NAME: &'static str = "bucket_conditional";
    const DEFAULT_CASES: u32 = 24;
    const DEFAULT_CONCURRENT_CASES: u32 = 12;
    fn available(b: &TestBackends) -> bool {
        static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *FOUND.get_or_init(|| b.conditional_s3_bucket_blocking().is_some())
    }
    fn open(b: &TestBackends, rt: &tokio::runtime::Runtime) -> Opened {
        open_in_bucket(b.conditional_s3_bucket_blocking().expect("an S3 bucket with conditional writes"), false, rt)
    }
    fn stats() -> &'static Stats {
        static S: Stats = Stats::new();
        &S
    }
    fn concurrent_stats() -> &'static Stats {
        static S: Stats = Stats::new();
        &S
    }
}

// ---------------------------------------------------------------------------------------------
// Running operations and checking answers (shared by the sequential and concurrent machines)

/// `Err(message)` unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// `Err(message: left != right)` unless both are equal.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!("{}: {:?} != {:?}", format!($($msg)+), left, right));
        }
    }};
}

/// Slot -> uid, family -> stem and collection slot -> uid, as the system answered.
#[derive(Debug, Clone, Default)]
struct Ids {
    uids: Vec<Uid>,
    stems: Vec<Stem>,
    cuids: Vec<Uid>,
    /// Uids an answer named before the order being tried created them (the concurrent machine
    /// checks that the round created them).
    named_later: Vec<Uid>,
}

impl Ids {
    fn uid(&self, slot: usize) -> Uid {
        self.uids[slot].clone()
    }

    fn cuid(&self, slot: usize) -> Uid {
        self.cuids[slot].clone()
    }

    /// The storage key of a model location.
    fn storage_key(&self, loc: &Location) -> String {
        match loc {
            Location::Real(k) => k.clone(),
            Location::Managed { family, version, suffix } => {
                let uid = self.stems[*family].uid(*version).expect("a valid version");
                managed_storage_key(&uid, suffix)
            }
        }
    }

    fn display(&self, store: &dyn ObjectStore, loc: &Location) -> String {
        store.display_path(&self.storage_key(loc))
    }
}

/// What the system answered to one operation.
#[derive(Debug)]
enum Observed {
    Save(trove::Result<SaveOutcome>),
    Moved(trove::Result<Vec<trove::Moved>>),
    Purged(trove::Result<PurgeReport>),
    EmptiedTrash(trove::Result<(Vec<trove::Artifact>, PurgeReport)>),
    Replaced(trove::Result<ReplaceOutcome>),
    Collection(trove::Result<CollectionOutcome>),
    CollectionsMoved(trove::Result<Vec<trove::MovedCollection>>),
    CollectionsPurged(trove::Result<Vec<trove::Collection>>),
}

impl Observed {
    fn error(&self) -> Option<&trove::Error> {
        match self {
            Observed::Save(Err(e))
            | Observed::Moved(Err(e))
            | Observed::Purged(Err(e))
            | Observed::EmptiedTrash(Err(e))
            | Observed::Replaced(Err(e))
            | Observed::Collection(Err(e))
            | Observed::CollectionsMoved(Err(e))
            | Observed::CollectionsPurged(Err(e)) => Some(e),
            _ => None,
        }
    }

    /// One line, for failure messages.
    fn brief(&self) -> String {
        if let Some(e) = self.error() {
            return format!("error {}: {}", e.kind(), e.message());
        }
        let arts = |v: &mut dyn Iterator<Item = &trove::Artifact>| {
            v.map(|a| format!("{} {} on {}", a.uid, a.hash, a.branch)).collect::<Vec<_>>().join(", ")
        };
        match self {
            Observed::Save(Ok(o)) => {
                let a = o.artifact();
                format!("{} {} (hash {}, on {})", o.name(), a.uid, a.hash, a.branch)
            }
            Observed::Moved(Ok(m)) => {
                m.iter().map(|m| format!("{} {:?}", m.artifact.uid, m.transition)).collect::<Vec<_>>().join(", ")
            }
            Observed::Purged(Ok(r)) => format!("purged {}", arts(&mut r.purged.iter().map(|p| &p.artifact))),
            Observed::EmptiedTrash(Ok((l, r))) => {
                format!("listed [{}], purged {}", arts(&mut l.iter()), r.purged.len())
            }
            Observed::Replaced(Ok(o)) => format!("{} {} (hash {})", o.name(), o.artifact().uid, o.artifact().hash),
            Observed::Collection(Ok(o)) => format!("{o:?}"),
            Observed::CollectionsMoved(Ok(m)) => {
                m.iter().map(|m| format!("{} {:?}", m.collection.uid, m.transition)).collect::<Vec<_>>().join(", ")
            }
            Observed::CollectionsPurged(Ok(c)) => {
                format!("deleted {}", c.iter().map(|c| c.uid.to_string()).collect::<Vec<_>>().join(", "))
            }
            _ => unreachable!("errors are handled above"),
        }
    }
}

/// Run one operation. A replace reads its source from `source` with the suffix appended.
async fn execute(trove: &Trove, ids: &Ids, op: &Op, source: &Path) -> Observed {
    let uids = |slots: &[usize]| -> Vec<Uid> { slots.iter().map(|s| ids.uid(*s)).collect() };
    let cuids = |slots: &[usize]| -> Vec<Uid> { slots.iter().map(|c| ids.cuid(*c)).collect() };
    match op {
        Op::Save(req) => {
            let source = Source::Bytes { data: req.content.clone().into(), suffix: None };
            let mut opts = match &req.key {
                Some(k) => SaveOptions::key(k.clone()),
                None => SaveOptions::description("a keyless artifact"),
            };
            if req.real {
                opts = opts.real_key();
            }
            opts.allow_duplicate = req.allow_duplicate;
            Observed::Save(trove.save(source, opts).await)
        }
        Op::Delete(slot) => Observed::Moved(trove.delete(&ids.uid(*slot)).await.map(|m| vec![m])),
        Op::Trash(slots) => Observed::Moved(trove.trash(&uids(slots)).await),
        Op::Restore(slots) => Observed::Moved(trove.restore(&uids(slots)).await),
        Op::Archive(slots) => Observed::Moved(trove.archive(&uids(slots)).await),
        Op::DeletePermanently(slots, policy) => Observed::Purged(trove.delete_permanently(&uids(slots), *policy).await),
        Op::EmptyTrash { cutoff, dry_run } => {
            let older_than = match cutoff {
                TrashCutoff::Everything => None,
                TrashCutoff::LongAgo => Some(Duration::from_secs(365 * 24 * 3600)),
            };
            let emptied = async {
                let plan = trove.plan_empty_trash(&trove::EmptyTrashOptions { older_than }).await?;
                let report = if *dry_run { Default::default() } else { trove.apply_empty_trash(&plan).await?.purge };
                Ok((plan.items, report))
            };
            Observed::EmptiedTrash(emptied.await)
        }
        Op::Replace { slot, content, suffix } => {
            let mut path = source.as_os_str().to_owned();
            path.push(suffix);
            let path = std::path::PathBuf::from(path);
            std::fs::write(&path, content).expect("write the replace source");
            Observed::Replaced(trove.replace(ids.uid(*slot).as_str(), Source::Path(path)).await)
        }
        Op::CreateCollection { members, key } => {
            let opts = match key {
                Some(k) => CollectionOptions::key(k.clone()),
                None => CollectionOptions { key: None, description: Some("a collection".into()) },
            };
            Observed::Collection(trove.create_collection(&uids(members), opts).await)
        }
        Op::TrashCollections(slots) => Observed::CollectionsMoved(trove.trash_collections(&cuids(slots)).await),
        Op::RestoreCollections(slots) => Observed::CollectionsMoved(trove.restore_collections(&cuids(slots)).await),
        Op::DeleteCollectionsPermanently(slots) => {
            Observed::CollectionsPurged(trove.delete_collections_permanently(&cuids(slots)).await)
        }
    }
}

/// Compare the system's answer to `op` with the model's prediction `expect` (`model` is the
/// state after the operation); on a match, remember the uids of what it created.
fn accept(
    ids: &mut Ids,
    model: &Model,
    op: &Op,
    expect: &Expect,
    got: &Observed,
    store: &dyn ObjectStore,
) -> Result<(), String> {
    if let (Expect::Failed(kind), Some(e)) = (expect, got.error()) {
        ensure_eq!(e.kind(), *kind, "the error: {e}");
        return Ok(());
    }
    match (op, got) {
        (Op::Save(req), Observed::Save(Ok(o))) => accept_save(ids, model, req, expect, o),
        (Op::Delete(s), Observed::Moved(Ok(m))) => accept_moved(ids, model, std::slice::from_ref(s), expect, m),
        (Op::Trash(s) | Op::Restore(s) | Op::Archive(s), Observed::Moved(Ok(m))) => {
            accept_moved(ids, model, s, expect, m)
        }
        (Op::DeletePermanently(..), Observed::Purged(Ok(report))) => {
            let Expect::Purged(want) = expect else { return Err(format!("expected {expect:?}")) };
            accept_purge(ids, want, report, store)
        }
        (Op::EmptyTrash { .. }, Observed::EmptiedTrash(Ok((listed, report)))) => {
            let Expect::EmptiedTrash { doomed, purged } = expect else { return Err(format!("expected {expect:?}")) };
            let want: BTreeSet<String> = doomed.iter().map(|s| ids.uids[*s].to_string()).collect();
            let got: BTreeSet<String> = listed.iter().map(|a| a.uid.to_string()).collect();
            ensure_eq!(got, want, "empty_trash lists exactly the trash");
            accept_purge(ids, purged, report, store)
        }
        (Op::Replace { .. }, Observed::Replaced(Ok(o))) => accept_replace(ids, model, expect, o, store),
        (Op::CreateCollection { .. }, Observed::Collection(Ok(o))) => accept_collection(ids, model, expect, o),
        (Op::TrashCollections(_) | Op::RestoreCollections(_), Observed::CollectionsMoved(Ok(moved))) => {
            let Expect::CollectionsMoved(want) = expect else { return Err(format!("expected {expect:?}")) };
            let got: Vec<(String, trove::Transition)> =
                moved.iter().map(|m| (m.collection.uid.to_string(), m.transition)).collect();
            let want: Vec<(String, trove::Transition)> =
                want.iter().map(|(c, t)| (ids.cuids[*c].to_string(), *t)).collect();
            ensure_eq!(got, want, "collections moved");
            Ok(())
        }
        (Op::DeleteCollectionsPermanently(_), Observed::CollectionsPurged(Ok(gone))) => {
            let Expect::CollectionsPurged(want) = expect else { return Err(format!("expected {expect:?}")) };
            let got: Vec<String> = gone.iter().map(|c| c.uid.to_string()).collect();
            let want: Vec<String> = want.iter().map(|c| ids.cuids[*c].to_string()).collect();
            ensure_eq!(got, want, "collections deleted permanently");
            Ok(())
        }
        _ => Err(format!("expected {expect:?}, got {}", got.brief())),
    }
}

fn accept_save(
    ids: &mut Ids,
    model: &Model,
    req: &SaveRequest,
    expect: &Expect,
    got: &SaveOutcome,
) -> Result<(), String> {
    let a = got.artifact();
    // Whatever the answer, it names a record holding exactly the content asked for.
    ensure_eq!((a.size, &a.hash), (req.content.len() as u64, &hash_bytes(&req.content).hash), "content of {}", a.uid);
    match (expect, got) {
        (Expect::Saved(SaveExpect::Created { slot }), SaveOutcome::Created { artifact }) => {
            ensure_eq!(*slot, ids.uids.len(), "slot of the new record");
            ensure_eq!(model.records[*slot].family, ids.stems.len(), "a new family");
            ensure_eq!(artifact.uid.version_index(), 0, "the first version");
            ensure!(!ids.stems.contains(&artifact.uid.stem()), "{} is a new family, not an old one", artifact.uid);
            ids.stems.push(artifact.uid.stem());
            ids.uids.push(artifact.uid.clone());
            ensure_eq!(artifact.storage_key(), ids.storage_key(&model.records[*slot].location), "where its bytes are");
        }
        (
            Expect::Saved(SaveExpect::NewVersion { slot, previous }),
            SaveOutcome::NewVersion { artifact, previous: prev },
        ) => {
            ensure_eq!(*slot, ids.uids.len(), "slot of the new record");
            ensure_eq!(*prev, ids.uids[*previous], "the version it follows");
            let r = &model.records[*slot];
            ensure_eq!(artifact.uid.stem(), ids.stems[r.family], "same family");
            ensure_eq!(artifact.uid.version_index(), r.version, "next version suffix");
            ensure!(!ids.uids.contains(&artifact.uid), "{} is a new record", artifact.uid);
            ensure_eq!(artifact.storage_key(), ids.storage_key(&r.location), "where its bytes are");
            ids.uids.push(artifact.uid.clone());
        }
        (Expect::Saved(SaveExpect::Existing { candidates }), SaveOutcome::Existing { artifact }) => {
            ensure!(
                candidates.iter().any(|c| ids.uids[*c] == artifact.uid),
                "existing: got {}, expected one of {:?}",
                artifact.uid,
                candidates.iter().map(|c| ids.uids[*c].to_string()).collect::<Vec<_>>()
            );
        }
        (Expect::Saved(SaveExpect::RestoredFromTrash { slot }), SaveOutcome::RestoredFromTrash { artifact }) => {
            ensure_eq!(artifact.uid, ids.uids[*slot], "the record restored");
            ensure_eq!(Some(artifact.branch), model.records[*slot].branch, "its branch");
        }
        (want, got) => return Err(format!("save: expected {want:?}, got {} {}", got.name(), got.artifact().uid)),
    }
    Ok(())
}

fn accept_moved(
    ids: &Ids,
    model: &Model,
    slots: &[usize],
    expect: &Expect,
    moved: &[trove::Moved],
) -> Result<(), String> {
    let Expect::Moved(want) = expect else { return Err(format!("{slots:?}: expected {expect:?}")) };
    let got: Vec<(String, trove::Transition)> =
        moved.iter().map(|m| (m.artifact.uid.to_string(), m.transition)).collect();
    let want: Vec<(String, trove::Transition)> = want.iter().map(|(s, t)| (ids.uids[*s].to_string(), *t)).collect();
    ensure_eq!(got, want, "{slots:?} moved");
    for m in moved {
        let slot = slots.iter().find(|s| ids.uids[**s] == m.artifact.uid).expect("asked for");
        ensure_eq!(Some(m.artifact.branch), model.records[*slot].branch, "branch of {} after the move", m.artifact.uid);
    }
    Ok(())
}

/// Paths a purge report gives for one record: removed, kept (with why), missing.
type ReportedPaths = (Vec<String>, Vec<(String, trove::KeepReason)>, Vec<String>);

fn accept_purge(ids: &Ids, want: &[PurgeExpect], report: &PurgeReport, store: &dyn ObjectStore) -> Result<(), String> {
    let mut got: HashMap<String, ReportedPaths> = HashMap::new();
    for p in &report.purged {
        let kept = p.kept_paths.iter().map(|k| (k.path.clone(), k.reason)).collect();
        let prev = got.insert(p.artifact.uid.to_string(), (p.removed_paths.clone(), kept, p.missing_paths.clone()));
        ensure!(prev.is_none(), "{} reported twice", p.artifact.uid);
    }
    ensure_eq!(got.len(), want.len(), "one entry per record deleted: {report:?}");
    for w in want {
        let uid = ids.uids[w.slot].to_string();
        let Some((removed, kept, missing)) = got.get(&uid) else { return Err(format!("{uid} not reported")) };
        let path = ids.display(store, &w.location);
        match (w.kept, w.missing) {
            (Some(reason), _) => {
                ensure_eq!(kept, &vec![(path, reason)], "{uid} kept");
                ensure!(
                    removed.is_empty() && missing.is_empty(),
                    "{uid}: kept, yet removed {removed:?} or missing {missing:?}"
                );
            }
            (None, false) => {
                ensure_eq!(removed, &vec![path], "{uid} removed");
                ensure!(
                    kept.is_empty() && missing.is_empty(),
                    "{uid}: removed, yet kept {kept:?} or missing {missing:?}"
                );
            }
            (None, true) => {
                ensure_eq!(missing, &vec![path], "{uid} missing");
                ensure!(
                    kept.is_empty() && removed.is_empty(),
                    "{uid}: missing, yet kept {kept:?} or removed {removed:?}"
                );
            }
        }
    }
    Ok(())
}

fn accept_replace(
    ids: &Ids,
    model: &Model,
    expect: &Expect,
    got: &ReplaceOutcome,
    store: &dyn ObjectStore,
) -> Result<(), String> {
    match (expect, got) {
        (Expect::Replaced(ReplaceExpect::Unchanged { slot }), ReplaceOutcome::Unchanged { artifact }) => {
            ensure_eq!(artifact.uid, ids.uids[*slot], "the record");
        }
        (
            Expect::Replaced(ReplaceExpect::Replaced { slot, renamed, moved }),
            ReplaceOutcome::Replaced { artifact, renamed: got_renamed, moved: got_moved, removed_paths, left_behind },
        ) => {
            ensure_eq!(artifact.uid, ids.uids[*slot], "same uid and version");
            let r = &model.records[*slot];
            ensure_eq!(Some(artifact.branch), r.branch, "replace keeps the branch");
            ensure_eq!(artifact.suffix, r.suffix, "suffix");
            ensure_eq!(
                (artifact.size, &artifact.hash),
                (r.content.len() as u64, &hash_bytes(&r.content).hash),
                "new content"
            );
            ensure_eq!(got_renamed.clone().map(|x| (x.from, x.to)), renamed.clone(), "the key's rename");
            let want_moved = moved.as_ref().map(|(a, b)| (ids.display(store, a), ids.display(store, b)));
            ensure_eq!(got_moved.clone().map(|x| (x.from, x.to)), want_moved, "the bytes' move");
            let want_removed: Vec<String> = moved.iter().map(|(a, _)| ids.display(store, a)).collect();
            ensure_eq!(removed_paths, &want_removed, "old bytes removed");
            ensure!(left_behind.is_empty(), "nothing left behind: {left_behind:?}");
        }
        (want, got) => return Err(format!("replace: expected {want:?}, got {} {}", got.name(), got.artifact().uid)),
    }
    Ok(())
}

fn accept_collection(ids: &mut Ids, model: &Model, expect: &Expect, got: &CollectionOutcome) -> Result<(), String> {
    match (expect, got) {
        (Expect::Collection(CollectionExpect::Created { slot }), CollectionOutcome::Created { collection }) => {
            ensure_eq!(*slot, ids.cuids.len(), "slot of the new collection");
            ensure_eq!(collection.version_index(), 0, "the first version");
            ids.cuids.push(collection.uid.clone());
        }
        (
            Expect::Collection(CollectionExpect::NewVersion { slot, previous }),
            CollectionOutcome::NewVersion { collection, previous: prev },
        ) => {
            ensure_eq!(*slot, ids.cuids.len(), "slot of the new collection");
            ensure_eq!(*prev, ids.cuids[*previous], "the version it follows");
            ensure_eq!(collection.uid.stem(), prev.stem(), "same collection family");
            ensure_eq!(collection.version_index(), model.collections[*slot].version, "next collection version");
            ids.cuids.push(collection.uid.clone());
        }
        (Expect::Collection(CollectionExpect::Existing { slot }), CollectionOutcome::Existing { collection }) => {
            ensure_eq!(collection.uid, ids.cuids[*slot], "the collection");
        }
        (want, got) => return Err(format!("create_collection: expected {want:?}, got {got:?}")),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// What the system holds after a step, and the checks on it

/// Every key a lookup is checked for: the keys saves use, with each suffix a replace may give
/// them, and any other key the model holds.
fn lookup_keys(model: &Model) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> =
        KEYS.iter().flat_map(|k| SUFFIXES.iter().map(move |s| key_with_suffix(k, ".txt", s))).collect();
    keys.extend(model.records.iter().filter_map(|r| r.key.clone()));
    keys
}

/// The catalog and the storage listing as the system shows them after a step.
struct Snapshot {
    /// Every record, all branches, pending ones included.
    all: Vec<trove::Artifact>,
    default: BTreeSet<String>,
    default_count: u64,
    branches: Vec<(BranchId, BTreeSet<String>)>,
    /// Lookup by key: the uid found, or the error kind.
    lookups: BTreeMap<String, Result<String, ErrorKind>>,
    collections: Vec<trove::Collection>,
    /// Every object but Trove's own catalog and marker files.
    listing: BTreeMap<String, ObjectMeta>,
}

async fn snapshot(trove: &Trove, store: &dyn ObjectStore, keys: &BTreeSet<String>) -> Snapshot {
    let all = trove
        .list(&ArtifactQuery {
            branch: BranchSelection::All,
            include_pending: true,
            order: Order::Version,
            ..ArtifactQuery::default()
        })
        .await
        .expect("list all");
    let default = set_of(&trove.list(&ArtifactQuery::new()).await.expect("default list"));
    let default_count = trove.count(&ArtifactQuery::new()).await.expect("count");
    let mut branches = Vec::new();
    for b in [BranchId::MAIN, BranchId::ARCHIVE, BranchId::TRASH] {
        let got = trove.list(&ArtifactQuery::new().branch(BranchSelection::Only(b))).await.expect("list a branch");
        branches.push((b, set_of(&got)));
    }
    let mut lookups = BTreeMap::new();
    for key in keys {
        lookups.insert(key.clone(), trove.get(key).await.map(|a| a.uid.to_string()).map_err(|e| e.kind()));
    }
    let collections = trove
        .collections(&CollectionQuery { branch: BranchSelection::All, ..CollectionQuery::default() })
        .await
        .expect("list collections");
    let listing = store
        .list("")
        .await
        .expect("storage listing")
        .into_iter()
        .filter(|o| {
            // The catalog of an instance in a bucket, its lease and its writer mode are Trove's.
            !matches!(o.key.as_str(), ".trove/storage.json" | ".trove/lease" | ".trove/catalog.json")
                && !o.key.starts_with(".trove/trove.db")
        })
        .map(|o| (o.key.clone(), o))
        .collect();
    Snapshot { all, default, default_count, branches, lookups, collections, listing }
}

/// The catalog against the model, and spec 1's default views (section 5).
fn verify_catalog(snap: &Snapshot, model: &Model, ids: &Ids) -> Result<(), String> {
    let all = &snap.all;
    for a in all {
        ensure!(a.pending.is_none(), "no operation left in progress: {a:?}");
    }
    let by_uid: HashMap<String, &trove::Artifact> = all.iter().map(|a| (a.uid.to_string(), a)).collect();
    let live: Vec<usize> = model.existing().collect();
    ensure_eq!(all.len(), live.len(), "records in the catalog: {:?}", uids_of(all));
    for slot in live {
        let r = &model.records[slot];
        let uid = ids.uids[slot].to_string();
        let Some(a) = by_uid.get(&uid) else { return Err(format!("slot {slot} ({uid}) missing from the catalog")) };
        let what = format!("slot {slot} ({uid})");
        ensure_eq!(Some(a.branch), r.branch, "{what}: branch");
        ensure_eq!(a.trashed_from, r.trashed_from, "{what}: trashed_from");
        ensure_eq!(a.is_latest, model.is_latest(slot), "{what}: is_latest");
        ensure_eq!(a.key.as_ref().map(|k| k.as_str().to_owned()), r.key, "{what}: key");
        ensure_eq!(a.stem(), ids.stems[r.family], "{what}: family");
        ensure_eq!(a.version_index(), r.version, "{what}: version");
        let h = hash_bytes(&r.content);
        ensure_eq!((a.size, &a.hash), (h.size, &h.hash), "{what}: size and hash");
        ensure_eq!(a.storage_key(), ids.storage_key(&r.location), "{what}: where its bytes are");
    }

    // Default queries show main only; a named branch shows exactly that branch.
    let uid_set =
        |slots: Vec<usize>| -> BTreeSet<String> { slots.into_iter().map(|s| ids.uids[s].to_string()).collect() };
    ensure_eq!(snap.default, uid_set(model.default_view()), "default view: main only");
    ensure_eq!(snap.default_count, model.default_view().len() as u64, "default count");
    for (b, got) in &snap.branches {
        ensure_eq!(*got, uid_set(model.on_branch(*b)), "branch {b}");
    }
    let mut keys: BTreeSet<String> = KEYS.iter().map(|k| (*k).to_owned()).collect();
    keys.extend(model.records.iter().filter_map(|r| r.key.clone()));
    for key in &keys {
        let Some(got) = snap.lookups.get(key) else { return Err(format!("key {key} was not looked up")) };
        let want = match model.head_on_main_by_key(key) {
            Some(s) => Ok(ids.uids[s].to_string()),
            None => Err(ErrorKind::NotFound),
        };
        ensure_eq!(*got, want, "lookup of key {key}");
    }

    // Collections: every one on any branch, with its members, version, branch and head.
    let cols = &snap.collections;
    let by_cuid: HashMap<String, &trove::Collection> = cols.iter().map(|c| (c.uid.to_string(), c)).collect();
    let live: Vec<usize> = model.existing_collections().collect();
    ensure_eq!(
        cols.len(),
        live.len(),
        "collections in the catalog: {:?}",
        cols.iter().map(|c| format!("{} on {}", c.uid, c.branch)).collect::<Vec<_>>()
    );
    for slot in live {
        let m = &model.collections[slot];
        let uid = ids.cuids[slot].to_string();
        let what = format!("collection {slot} ({uid})");
        let Some(c) = by_cuid.get(&uid) else { return Err(format!("{what} missing from the catalog")) };
        ensure_eq!(Some(c.branch), m.branch, "{what}: branch");
        ensure_eq!(c.trashed_from, m.trashed_from, "{what}: trashed_from");
        ensure_eq!(c.is_latest, model.is_latest_collection(slot), "{what}: is_latest");
        ensure_eq!(c.key, m.key, "{what}: key");
        ensure_eq!(c.version_index(), m.version, "{what}: version");
        let members: Vec<Uid> = m.members.iter().map(|s| ids.uid(*s)).collect();
        ensure_eq!(c.members, members, "{what}: members, in order");
    }
    Ok(())
}

/// Storage holds exactly the objects the model holds (bytes kept or removed as the policy
/// says), with their sizes, and their MD5 where the server reports one.
fn verify_storage(snap: &Snapshot, model: &Model, ids: &Ids) -> Result<(), String> {
    let want: BTreeMap<String, &Vec<u8>> = model.objects.iter().map(|(loc, c)| (ids.storage_key(loc), c)).collect();
    ensure_eq!(
        snap.listing.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "objects in storage (bytes kept or removed as the policy says)"
    );
    for (key, content) in &want {
        let meta = &snap.listing[key];
        ensure_eq!(meta.size, content.len() as u64, "size of {key}");
        if let Some(md5) = meta.content_md5 {
            ensure_eq!(md5, md5_digest(content), "md5 of {key} as the server reports it");
        }
    }
    Ok(())
}

/// What the checks after one step looked at.
struct StepChecked {
    bytes: Checked,
    /// Contents read back and compared with what was saved.
    retrieved: usize,
}

/// After every step, on the snapshot the model was accepted against: storage against the
/// model; every record's bytes read and hashed (spec 1 §4, invariant 1, on the system alone);
/// and every content the model holds read back, byte for byte: a record's through the façade,
/// bytes kept after permanent deletion through the store.
async fn check_bytes(
    trove: &Trove,
    store: &Arc<dyn ObjectStore>,
    snap: &Snapshot,
    model: &Model,
    ids: &Ids,
) -> Result<StepChecked, String> {
    let stores: Stores = [(trove.default_storage().id, store.clone())].into_iter().collect();
    let bytes = invariants::check_records(&snap.all, &stores).await.map_err(|v| v.to_string())?;
    verify_storage(snap, model, ids)?;
    let by_uid: HashMap<String, &trove::Artifact> = snap.all.iter().map(|a| (a.uid.to_string(), a)).collect();
    let mut retrieved = 0;
    let mut held = BTreeSet::new();
    for slot in model.existing() {
        let r = &model.records[slot];
        let a = by_uid[&ids.uids[slot].to_string()];
        let got =
            trove.load_bytes(a).await.map_err(|e| format!("slot {slot} ({}): cannot read it back: {e}", a.uid))?;
        ensure!(
            got[..] == r.content[..],
            "slot {slot} ({}): read back {:?}, but {:?} was saved",
            a.uid,
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&r.content)
        );
        held.insert(&r.location);
        retrieved += 1;
    }
    for (loc, content) in model.objects.iter().filter(|(l, _)| !held.contains(l)) {
        let key = ids.storage_key(loc);
        let got = store.read_all(&key).await.map_err(|e| format!("kept bytes at {key}: {e}"))?;
        ensure!(got[..] == content[..], "kept bytes at {key}: {:?}, but {:?} was kept", got, content);
        retrieved += 1;
    }
    Ok(StepChecked { bytes, retrieved })
}

/// At the end of a case: `fsck` finds nothing, and `gc` (dry run) finds exactly the managed
/// bytes kept after permanent deletion.
async fn final_checks(trove: &Trove, store: &dyn ObjectStore, model: &Model, ids: &Ids) -> Result<(), String> {
    let findings = trove.fsck(&trove::FsckOptions::default().verify_hashes()).await.expect("fsck");
    ensure!(findings.is_empty(), "fsck: {findings:?}");
    let gc = trove.plan_gc(&trove::GcOptions::grace(Duration::ZERO).allow_short_grace()).await.expect("gc");
    let held: BTreeSet<&Location> = model.existing().map(|s| &model.records[s].location).collect();
    let want: BTreeSet<String> = model
        .objects
        .keys()
        .filter(|l| matches!(l, Location::Managed { .. }) && !held.contains(l))
        .map(|l| ids.display(store, l))
        .collect();
    let got: BTreeSet<String> = gc.items.into_iter().map(|i| i.path).collect();
    ensure_eq!(got, want, "gc finds exactly the kept managed bytes");
    Ok(())
}

fn set_of(v: &[trove::Artifact]) -> BTreeSet<String> {
    v.iter().map(|a| a.uid.to_string()).collect()
}

fn uids_of(v: &[trove::Artifact]) -> Vec<String> {
    v.iter().map(|a| format!("{} on {}", a.uid, a.branch)).collect()
}

// ---------------------------------------------------------------------------------------------
// The sequential machine

struct Sut {
    rt: tokio::runtime::Runtime,
    trove: Option<Trove>,
    store: Arc<dyn ObjectStore>,
    guard: Option<Box<dyn Any>>,
    /// The model before the step being applied (the framework hands over the state after it).
    model: Model,
    ids: Ids,
    /// Where replace sources are written (outside every storage location).
    sources: tempfile::TempDir,
    /// What happened so far, for failure messages.
    log: Vec<String>,
}

struct Harness<B>(PhantomData<B>);

impl<B: Backend> StateMachineTest for Harness<B> {
    type SystemUnderTest = Sut;
    type Reference = Lifecycle;

    fn init_test(model: &Model) -> Sut {
        B::stats().cases.fetch_add(1, Ordering::Relaxed);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let opened = B::open(backends_blocking(), &rt);
        Sut {
            rt,
            trove: Some(opened.trove),
            store: opened.store,
            guard: Some(opened.guard),
            model: model.clone(),
            ids: Ids::default(),
            sources: tempfile::tempdir().expect("a directory for replace sources"),
            log: Vec::new(),
        }
    }

    fn apply(mut sut: Sut, after: &Model, op: Op) -> Sut {
        B::stats().steps.fetch_add(1, Ordering::Relaxed);
        B::stats().count(&sut.model, &op, &sut.model.clone().apply(&op));
        let expect = sut.model.apply(&op);
        assert_eq!(&sut.model, after, "the model is deterministic");
        sut.log.push(format!("{op:?} -> expected {expect:?}"));
        let ctx = sut.context();
        let source = sut.sources.path().join(format!("source{}", sut.log.len()));
        let got = sut.rt.block_on(execute(sut.trove(), &sut.ids, &op, &source));
        if let Err(e) = accept(&mut sut.ids, &sut.model, &op, &expect, &got, sut.store.as_ref()) {
            panic!("{e}\n{ctx}");
        }
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        let ctx = sut.context();
        let trove = sut.trove();
        let checked = sut.rt.block_on(async {
            let snap = snapshot(trove, sut.store.as_ref(), &lookup_keys(model)).await;
            verify_catalog(&snap, model, &sut.ids)?;
            check_bytes(trove, &sut.store, &snap, model, &sut.ids).await
        });
        match checked {
            Ok(c) => B::stats().checked(&c),
            Err(e) => panic!("{e}\n{ctx}"),
        }
    }

    fn teardown(mut sut: Sut, model: Model) {
        let ctx = sut.context();
        if let Err(e) = sut.rt.block_on(final_checks(sut.trove(), sut.store.as_ref(), &model, &sut.ids)) {
            panic!("{e}\n{ctx}");
        }
        let trove = sut.trove.take();
        sut.rt.block_on(async move { drop(trove) });
        sut.rt.shutdown_timeout(Duration::from_secs(10));
        drop(sut.guard.take());
    }
}

impl Sut {
    fn trove(&self) -> &Trove {
        self.trove.as_ref().expect("open")
    }

    fn context(&self) -> String {
        format!("steps so far:\n  {}", self.log.join("\n  "))
    }
}

// ---------------------------------------------------------------------------------------------
// Running

fn note(line: &str) {
    // Straight to stderr: the test harness captures eprintln!.
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The proptest configuration: `cases` unless `PROPTEST_CASES` says otherwise, failures
/// persisted next to `source_file` (`<name>.proptest-regressions`).
fn config(cases: u32, source_file: &'static str) -> Config {
    let mut config = Config::default(); // reads PROPTEST_CASES and friends
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config.source_file = Some(source_file);
    config.failure_persistence = Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions")));
    config
}

/// Whether the backend is there; prints why not.
fn available<B: Backend>(what: &str) -> bool {
    let b = backends_blocking();
    if !B::available(b) {
        note(&format!(
            "state_machine {}{what}: SKIPPED: the `{}` provider gives no PostgreSQL, S3 or GCS \
             (TROVE_TEST_BACKENDS=containers or local runs it)",
            B::NAME,
            b.provider()
        ));
    }
    B::available(b)
}

fn run<B: Backend>() {
    if !available::<B>("") {
        return;
    }
    let config = config(B::DEFAULT_CASES, file!());
    let started = Instant::now();
    let mut runner = TestRunner::new(config.clone());
    let result = runner.run(&Lifecycle::sequential_strategy(STEPS), |(initial, transitions, seen)| {
        Harness::<B>::test_sequential(config.clone(), initial, transitions, seen);
        Ok(())
    });
    B::stats().print(B::NAME, started.elapsed(), config.cases, backends_blocking().describe());
    if let Err(e) = result {
        panic!("state_machine {}: {e}", B::NAME);
    }
}

#[test]
fn sqlite_fs() {
    run::<SqliteFs>();
}

#[test]
fn postgres_s3() {
    run::<PostgresS3>();
}

#[test]
fn postgres_gcs() {
    run::<PostgresGcs>();
}

#[test]
fn bucket_s3() {
    run::<BucketS3>();
}

#[test]
fn bucket_conditional() {
    run::<BucketConditional>();
}

#[test]
fn bucket_conditional_concurrent() {
    concurrent::run::<BucketConditional>();
}

#[test]
fn sqlite_fs_concurrent() {
    concurrent::run::<SqliteFs>();
}

#[test]
fn postgres_s3_concurrent() {
    concurrent::run::<PostgresS3>();
}

// After the macros above, which it uses.
#[path = "state_machine/concurrent.rs"]
mod concurrent;
