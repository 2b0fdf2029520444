//! Many `trove` processes at once on one instance (issue 9, "multi-process tests through the
//! CLI"), on SQLite + local disk and on PostgreSQL + S3.
//!
//! `PROCS` writer processes run `ROUNDS` rounds each, starting every round together: each saves
//! a new version of the same virtual key, of the same real key and of the same folder key, a
//! file under a key of its own, replaces its previous own file, trashes, restores and purges
//! some of what it saved. Every command prints JSON, so the test knows what each process was
//! told (uid, hash, outcome). Meanwhile a reader lists and shows in a loop. Afterwards every
//! invariant of `trove_e2e::check` must hold, every content a process was told was saved (and
//! that no process purged) must come back with its exact bytes through `trove cache`, and the
//! shared keys' versions must be distinct with one latest per branch.
//!
//! A second test holds a write transaction open on the catalog (longer than SQLite's busy
//! timeout) and runs the read commands meanwhile: they must neither fail nor wait for it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng as _, SeedableRng as _};
use serde_json::Value;
use trove_e2e::check::{self, Expect, field};
use trove_e2e::instance::{Instance, finish};
use trove_e2e::{content, say, scale, seed};

const PROCS: usize = 5;
const ROUNDS: usize = 6;
const SHARED: &str = "shared/data.bin";
const SHARED_REAL: &str = "shared/real.bin";
const SHARED_DIR: &str = "shared/dir";
const PINNED: &str = "pinned/readme.txt";

#[test]
fn concurrent_processes_sqlite_fs() {
    concurrent_processes(&Instance::sqlite_fs());
}

#[test]
fn concurrent_processes_postgres_s3() {
    if let Some(inst) = Instance::postgres_s3() {
        concurrent_processes(&inst);
    }
}

#[test]
fn reads_never_wait_for_a_writer_sqlite_fs() {
    reads_never_wait_for_a_writer(&Instance::sqlite_fs());
}

#[test]
fn reads_never_wait_for_a_writer_postgres_s3() {
    if let Some(inst) = Instance::postgres_s3() {
        reads_never_wait_for_a_writer(&inst);
    }
}

/// What the processes were told, merged.
#[derive(Default)]
struct Ledger {
    /// uid -> (what, hash of the content it must hold now).
    live: BTreeMap<String, (String, String)>,
    /// uids purged on purpose.
    purged: BTreeSet<String>,
    /// Saves per shared key, and purges of versions of each.
    saves: BTreeMap<&'static str, usize>,
    purges: BTreeMap<&'static str, usize>,
    kept: BTreeMap<String, String>,
    violations: Vec<String>,
    commands: usize,
}

/// One writer process's view of an artifact it saved.
#[derive(Clone)]
struct Mine {
    uid: String,
    shared: Option<&'static str>,
}

struct Writer<'a> {
    inst: &'a Instance,
    actor: String,
    ledger: &'a Mutex<Ledger>,
}

impl Writer<'_> {
    fn fail(&self, msg: String) {
        self.ledger.lock().unwrap().violations.push(msg);
    }

    fn counted(&self) {
        self.ledger.lock().unwrap().commands += 1;
    }

    /// `trove save PATH --key KEY [extra]`; checks the outcome and the reported hash.
    fn save(
        &self,
        path: &std::path::Path,
        key: &str,
        extra: &[&str],
        want: &trove_e2e::hash::Hashed,
    ) -> Option<String> {
        let p = path.display().to_string();
        let mut args = vec!["save", p.as_str(), "--key", key, "--json"];
        args.extend_from_slice(extra);
        let run = self.inst.run(&self.actor, &args);
        self.counted();
        let a = match run.first() {
            Ok(a) => a,
            Err(e) => {
                self.fail(e);
                return None;
            }
        };
        let uid = field(&a, "uid").to_owned();
        if !matches!(field(&a, "outcome"), "created" | "new_version") {
            self.fail(format!("[{}] save {key}: distinct content gave outcome {} ({uid})", self.actor, a["outcome"]));
        }
        if field(&a, "hash") != want.hash || a["size"].as_u64() != Some(want.size) {
            self.fail(format!(
                "[{}] save {key}: told hash {} size {}, the content is {} size {}",
                self.actor, a["hash"], a["size"], want.hash, want.size
            ));
        }
        self.ledger.lock().unwrap().live.insert(uid.clone(), (format!("{} {key}", self.actor), want.hash.clone()));
        Some(uid)
    }

    fn replace(&self, uid: &str, path: &std::path::Path, want: &trove_e2e::hash::Hashed) {
        let p = path.display().to_string();
        let run = self.inst.run(&self.actor, &["replace", uid, &p, "--json"]);
        self.counted();
        match run.first() {
            Ok(a) if field(&a, "outcome") == "replaced" && field(&a, "hash") == want.hash => {
                self.ledger.lock().unwrap().live.get_mut(uid).expect("replacing a live artifact").1 = want.hash.clone();
            }
            Ok(a) => self.fail(format!("[{}] replace {uid}: told {a}, the content is {}", self.actor, want.hash)),
            Err(e) => self.fail(e),
        }
    }

    /// `trove delete|restore UID`, expecting the record on `branch` afterwards.
    fn move_to(&self, verb: &str, uid: &str, branch: &str) {
        let run = self.inst.run(&self.actor, &[verb, uid, "--json"]);
        self.counted();
        match run.first() {
            Ok(a) if field(&a, "branch") == branch => {}
            Ok(a) => self.fail(format!("[{}] {verb} {uid}: now on {}, expected {branch}", self.actor, a["branch"])),
            Err(e) => self.fail(e),
        }
    }

    fn purge(&self, mine: &Mine) {
        let run = self.inst.run(&self.actor, &["delete", &mine.uid, "--permanent", "--yes", "--json"]);
        self.counted();
        match run.first() {
            Ok(a) if field(&a, "uid") == mine.uid => {
                let mut l = self.ledger.lock().unwrap();
                let (_, hash) = l.live.remove(&mine.uid).expect("purging a live artifact");
                l.purged.insert(mine.uid.clone());
                if let Some(key) = mine.shared {
                    *l.purges.entry(key).or_default() += 1;
                }
                // Bytes at a real key are kept by the default policy; they must stay.
                for kept in a["kept_paths"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    let rel = kept.strip_prefix(&format!("{}/", self.inst.root)).unwrap_or(kept).to_owned();
                    l.kept.insert(rel, hash.clone());
                }
            }
            Ok(a) => self.fail(format!("[{}] delete --permanent {}: told {a}", self.actor, mine.uid)),
            Err(e) => self.fail(e),
        }
    }

    /// Count a save of a shared key (a failed one is already a violation).
    fn shared_saved(&self, key: &'static str, saved: bool) {
        *self.ledger.lock().unwrap().saves.entry(key).or_default() += usize::from(saved);
    }
}

fn writer(inst: &Instance, p: usize, rounds: usize, seed: u64, barrier: &Barrier, ledger: &Mutex<Ledger>) {
    let w = Writer { inst, actor: format!("w{p}"), ledger };
    let dir = inst.scratch(&w.actor);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (p as u64) << 32);
    let mut own: Vec<Option<Mine>> = Vec::new();
    let mut real: Vec<Option<Mine>> = Vec::new();
    let mut trashed: Option<Mine> = None;
    let content_seed = |r: usize, what: u64| seed.wrapping_add(((p * 1000 + r) as u64) << 8 | what);
    for r in 0..rounds {
        barrier.wait();
        // New versions of the same keys, all processes at once. Sizes up to a few MiB keep
        // every save's write window open long enough to overlap the others'.
        let f = dir.join(format!("s{r}.bin"));
        let h = content::write_file(&f, content_seed(r, 1), rng.random_range(256 << 10..3 << 20));
        let shared = w.save(&f, SHARED, &[], &h).map(|uid| Mine { uid, shared: Some(SHARED) });
        w.shared_saved(SHARED, shared.is_some());
        let f = dir.join(format!("r{r}.bin"));
        let h = content::write_file(&f, content_seed(r, 2), rng.random_range(64 << 10..2 << 20));
        real.push(w.save(&f, SHARED_REAL, &["--real-key"], &h).map(|uid| Mine { uid, shared: Some(SHARED_REAL) }));
        w.shared_saved(SHARED_REAL, real[r].is_some());
        let d = dir.join(format!("d{r}"));
        let h = content::write_folder(&d, content_seed(r, 3), rng.random_range(3..12), 256 << 10);
        let saved = w.save(&d, SHARED_DIR, &[], &h);
        w.shared_saved(SHARED_DIR, saved.is_some());
        let f = dir.join(format!("o{r}.bin"));
        let h = content::write_file(&f, content_seed(r, 4), rng.random_range(1..1 << 20));
        own.push(w.save(&f, &format!("{}/own-{r}.bin", w.actor), &[], &h).map(|uid| Mine { uid, shared: None }));

        // Replace the previous round's own file (round 2 changes its suffix: a rename).
        if let Some(Some(prev)) = r.checked_sub(1).map(|i| own[i].clone()) {
            let f = dir.join(if r == 2 { format!("x{r}.dat") } else { format!("x{r}.bin") });
            let h = content::write_file(&f, content_seed(r, 5), rng.random_range(1..1 << 20));
            w.replace(&prev.uid, &f, &h);
        }
        // Last round's trashed version: purged from the trash, or restored.
        if let Some(t) = trashed.take() {
            if (p + r).is_multiple_of(3) {
                w.purge(&t);
            } else {
                w.move_to("restore", &t.uid, "main");
            }
        }
        if let Some(s) = shared.filter(|_| (p + r).is_multiple_of(2)) {
            w.move_to("delete", &s.uid, "trash");
            trashed = Some(s);
        }
        if let Some(Some(old)) = r.checked_sub(2).map(|i| own[i].clone()) {
            w.purge(&old);
        }
        // An older version of the shared real key (this process's newer one is at the key).
        if let Some(Some(old)) = r.checked_sub(1).map(|i| real[i].clone()).filter(|_| (p + r) % 3 == 1) {
            w.purge(&old);
        }
    }
}

fn concurrent_processes(inst: &Instance) {
    let seed = seed();
    let rounds = ROUNDS * scale();
    say(format!("multi-process on {}: {PROCS} processes x {rounds} rounds, seed {seed} (TROVE_E2E_SEED)", inst.name));
    let pinned = inst.scratch("admin").join("readme.txt");
    let pinned_hash = content::write_file(&pinned, seed, 1000);
    let p = pinned.display().to_string();
    inst.json("admin", &["save", &p, "--key", PINNED]).expect("the pinned artifact");

    let ledger = Mutex::new(Ledger::default());
    let barrier = Barrier::new(PROCS);
    let writing = AtomicBool::new(true);
    let mut reads = (0usize, Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..PROCS)
            .map(|p| {
                let (ledger, barrier) = (&ledger, &barrier);
                s.spawn(move || writer(inst, p, rounds, seed, barrier, ledger))
            })
            .collect();
        let reader = s.spawn(|| {
            let (mut n, mut failures) = (0usize, Vec::new());
            while writing.load(Ordering::Relaxed) {
                for args in [&["ls", "--json"][..], &["show", PINNED, "--json"][..]] {
                    let run = inst.run("reader", args);
                    n += 1;
                    if !run.ok() {
                        failures.push(run.describe());
                    }
                }
            }
            (n, failures)
        });
        for w in writers {
            w.join().expect("a writer thread panicked");
        }
        writing.store(false, Ordering::Relaxed);
        reads = reader.join().expect("the reader thread panicked");
    });
    let elapsed = started.elapsed();
    let mut ledger = ledger.into_inner().unwrap();
    for f in &reads.1 {
        ledger.violations.push(format!("reader: {f}"));
    }

    let mut expect = Expect {
        records: ledger.live.iter().map(|(u, (_, h))| (u.clone(), h.clone())).collect(),
        kept: ledger.kept.clone(),
        ..Expect::default()
    };
    let pinned_uid = field(&inst.json("admin", &["show", PINNED]).expect("show")[0], "uid").to_owned();
    expect.records.insert(pinned_uid, pinned_hash.hash);
    let seen = check::verify(inst, "admin", &expect);
    let mut violations = ledger.violations;
    violations.extend(seen.violations.iter().cloned());

    // Purged records are gone.
    for uid in &ledger.purged {
        if seen.record(uid).is_some() {
            violations.push(format!("{uid} was purged, but its record is still listed"));
        }
    }
    // Every version of a shared key is distinct, one latest per branch, none lost.
    for key in [SHARED, SHARED_REAL, SHARED_DIR] {
        let versions: Vec<&Value> = seen.records.iter().filter(|r| field(r, "key") == key).collect();
        let want = ledger.saves.get(key).copied().unwrap_or(0) - ledger.purges.get(key).copied().unwrap_or(0);
        if versions.len() != want {
            violations.push(format!("{key}: {} versions listed, {want} saved and not purged", versions.len()));
        }
        let suffixes: BTreeSet<&str> = versions.iter().map(|r| field(r, "version")).collect();
        if suffixes.len() != versions.len() {
            violations.push(format!("{key}: {} versions share {} version suffixes", versions.len(), suffixes.len()));
        }
        let branches: BTreeSet<&str> = versions.iter().map(|r| field(r, "branch")).collect();
        for b in branches {
            let latest = versions.iter().filter(|r| field(r, "branch") == b && r["is_latest"] == true).count();
            if latest != 1 {
                violations.push(format!("{key}: {latest} latest versions on {b}, expected exactly 1"));
            }
        }
    }
    // Every surviving content comes back, byte for byte, as a user gets it.
    let mut retrieved = 0;
    for (uid, hash) in &expect.records {
        match check::retrieve(inst, "fetcher", uid) {
            Ok(h) if &h.hash == hash => retrieved += 1,
            Ok(h) => violations.push(format!("{uid}: `trove cache` gives content {}, expected {hash}", h.hash)),
            Err(e) => violations.push(format!("{uid}: cannot retrieve it: {e}")),
        }
    }
    say(format!(
        "multi-process on {}: {PROCS} processes x {rounds} rounds, {} commands in {:.1}s, {} reads alongside, \
         {} records, {retrieved} contents retrieved; invariant violations: {}",
        inst.name,
        ledger.commands,
        elapsed.as_secs_f64(),
        reads.0,
        seen.records.len(),
        violations.len()
    ));
    assert!(
        violations.is_empty(),
        "{} violation(s) on {} (seed {seed}):\n  {}",
        violations.len(),
        inst.name,
        violations.join("\n  ")
    );
}

/// Holds a write transaction on the catalog, as a long writer would (SQLite: `BEGIN
/// IMMEDIATE`; PostgreSQL: every table locked against writes), for longer than SQLite's busy
/// timeout (5 s), while the read commands run: each must succeed, and before the transaction
/// ends (it is released only once they are done, or after `CAP`).
fn reads_never_wait_for_a_writer(inst: &Instance) {
    use sea_orm::{ConnectionTrait as _, Database, TransactionOptions, TransactionTrait as _};
    const CAP: Duration = Duration::from_secs(20);
    const HOLD_AT_LEAST: Duration = Duration::from_secs(7);

    let f = inst.scratch("admin").join("a.txt");
    content::write_file(&f, 7, 100);
    let p = f.display().to_string();
    inst.json("admin", &["save", &p, "--key", PINNED]).expect("save");
    inst.json("reader", &["ls"]).expect("a first read");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = rt.block_on(Database::connect(&inst.catalog_url)).expect("connecting to the catalog");
    let sqlite = inst.catalog_url.starts_with("sqlite:");
    let txn = rt
        .block_on(async {
            if sqlite {
                let opts = TransactionOptions {
                    sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                    ..Default::default()
                };
                db.begin_with_options(opts).await
            } else {
                let txn = db.begin().await?;
                let tables = txn
                    .query_all_raw(sea_orm::Statement::from_string(
                        db.get_database_backend(),
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
                    ))
                    .await?;
                let names: Vec<String> = tables
                    .iter()
                    .map(|row| format!("\"{}\"", row.try_get::<String>("", "tablename").unwrap()))
                    .collect();
                txn.execute_unprepared(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", names.join(", "))).await?;
                Ok(txn)
            }
        })
        .expect("holding a write transaction");

    let held = Instant::now();
    let mut violations = Vec::new();
    let mut runs = 0;
    while held.elapsed() < HOLD_AT_LEAST {
        // A user who has used the instance before, and one who never has (a new colleague's
        // first `trove ls`).
        let newcomer = format!("newcomer{runs}");
        for (actor, args) in [
            ("reader", &["ls", "--json"][..]),
            ("reader", &["ls", "--branch", "all", "--all-versions", "--json"][..]),
            ("reader", &["show", PINNED, "--json"][..]),
            ("reader", &["versions", PINNED, "--json"][..]),
            (newcomer.as_str(), &["ls", "--json"][..]),
        ] {
            let mut child = inst.spawn(actor, args);
            let start = Instant::now();
            while child.try_wait().expect("polling a reader").is_none() && start.elapsed() < CAP {
                std::thread::sleep(Duration::from_millis(20));
            }
            let blocked = child.try_wait().expect("polling a reader").is_none();
            if blocked {
                let _ = child.kill();
            }
            let run = finish(actor, args, child);
            runs += 1;
            if blocked {
                violations.push(format!("[{actor}] trove {} still waits for the writer after {CAP:?}", args.join(" ")));
            } else if !run.ok() {
                violations.push(run.describe());
            }
        }
        if !violations.is_empty() {
            break;
        }
    }
    rt.block_on(txn.rollback()).expect("ending the write transaction");
    say(format!(
        "reads beside a held write transaction on {}: {runs} read commands over {:.1}s; violations: {}",
        inst.name,
        held.elapsed().as_secs_f64(),
        violations.len()
    ));
    assert!(violations.is_empty(), "on {}:\n  {}", inst.name, violations.join("\n  "));
}
