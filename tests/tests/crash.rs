//! `trove` killed with SIGKILL at random moments (issue 9, "crash tests with real processes"),
//! on SQLite + local disk and on PostgreSQL + S3.
//!
//! Each kill point prepares a command (with ordinary, uninterrupted commands), starts it, and
//! kills it after a delay drawn from a seeded RNG (printed, with the seed, so a failure can be
//! replayed with `TROVE_E2E_SEED`). The commands: large saves (16 to 200 MiB), replaces of a
//! large artifact (sometimes with a new suffix), saves of folders with hundreds of files
//! (virtual and real keys), saves of a new version under a real key, and bulk permanent
//! deletions of many artifacts with each storage policy. After every kill, `trove fsck
//! --repair` then `trove gc --grace 0s --yes` must restore every invariant of
//! `trove_e2e::check`: `fsck --verify` clean, every record's bytes hashing to its hash, no stray
//! bytes anywhere in the storage root (hidden temporary files and unfinished multipart uploads
//! included), every content committed before the kill still there, and the killed command's
//! effect either absent or complete. Before the repair, a plain `fsck` that reports anything
//! must not exit 0.
//!
//! The first command of each kind runs to the end (it measures how long such a command takes,
//! so that the kill delays spread over its whole run) and is not counted as a kill point.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::Value;
use trove_e2e::check::{self, Expect, field};
use trove_e2e::hash::Hashed;
use trove_e2e::instance::{Instance, Run, finish};
use trove_e2e::{content, hash, say, scale, seed};

/// Kill points per backend (times `TROVE_E2E_SCALE`).
const KILLS: usize = 25;
const MIB: u64 = 1 << 20;

#[test]
fn crash_sqlite_fs() {
    Crash::new(&Instance::sqlite_fs()).run();
}

#[test]
fn crash_postgres_s3() {
    if let Some(inst) = Instance::postgres_s3() {
        Crash::new(&inst).run();
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    LargeSave,
    Replace,
    FolderSave,
    RealKeyVersion,
    BulkPurge,
}

const KINDS: [Kind; 5] = [Kind::LargeSave, Kind::Replace, Kind::FolderSave, Kind::RealKeyVersion, Kind::BulkPurge];

/// An artifact the test committed and may purge later.
#[derive(Clone, Debug)]
struct Owned {
    uid: String,
    hash: String,
    storage_key: String,
    real_key: bool,
    /// For a folder: each file's path relative to the folder and its hash.
    files: Option<Vec<(String, String)>>,
}

impl Owned {
    fn from_record(a: &Value, files: Option<Vec<(String, String)>>) -> Owned {
        Owned {
            uid: field(a, "uid").to_owned(),
            hash: field(a, "hash").to_owned(),
            storage_key: field(a, "storage_key").to_owned(),
            real_key: a["real_key"] == true,
            files,
        }
    }

    /// The keys its bytes occupy, with their hashes.
    fn objects(&self) -> Vec<(String, String)> {
        match &self.files {
            Some(files) => files.iter().map(|(rel, h)| (format!("{}/{rel}", self.storage_key), h.clone())).collect(),
            None => vec![(self.storage_key.clone(), self.hash.clone())],
        }
    }
}

/// The command about to be killed, and what its completion would look like.
enum Plan {
    /// A save under `key` (new artifact, or a new version) of content `want`.
    Save { key: String, want: Hashed, files: Option<Vec<(String, String)>>, large: bool },
    /// A replace of `uid` (content `old`) with content `new`.
    Replace { uid: String, old: String, new: Hashed },
    /// A permanent deletion of `victims` with a storage policy.
    Purge { victims: Vec<Owned>, policy: &'static str },
}

#[derive(Default)]
struct Stats {
    /// Per kind: kill points tried, kills that landed while the command ran.
    tried: BTreeMap<Kind, (usize, usize)>,
    calibrations: usize,
    fsck_findings: usize,
    violations: Vec<String>,
}

struct Crash<'a> {
    inst: &'a Instance,
    seed: u64,
    rng: StdRng,
    expect: Expect,
    dir: PathBuf,
    /// Per kind: seconds per unit of work (MiB, files, artifacts), measured by the first
    /// uninterrupted run of that kind.
    rate: BTreeMap<Kind, f64>,
    stats: Stats,
    replace_target: Owned,
    real_versions: Vec<String>,
    purgeable: Vec<Owned>,
    serial: u64,
    /// Seconds `trove` takes to start and open the instance (the quickest `trove ls`).
    startup: f64,
    /// Violations already reported.
    reported: std::collections::BTreeSet<String>,
}

const REAL_KEY: &str = "crash/real.bin";

impl<'a> Crash<'a> {
    fn new(inst: &'a Instance) -> Crash<'a> {
        let seed = seed();
        let dir = inst.scratch("inputs");
        let mut c = Crash {
            inst,
            seed,
            rng: StdRng::seed_from_u64(seed),
            expect: Expect::default(),
            dir,
            rate: BTreeMap::new(),
            stats: Stats::default(),
            replace_target: Owned {
                uid: String::new(),
                hash: String::new(),
                storage_key: String::new(),
                real_key: false,
                files: None,
            },
            real_versions: Vec::new(),
            purgeable: Vec::new(),
            serial: 0,
            reported: Default::default(),
            startup: 0.0,
        };
        c.startup = (0..3)
            .map(|_| {
                let t = Instant::now();
                let r = inst.run("setup", &["ls", "--limit", "1"]);
                assert!(r.ok(), "{}: {}", inst.name, r.describe());
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min);
        let target = c.input_file(32 * MIB);
        c.replace_target = c.commit(&target.0, &["--key", "crash/target.bin"], &target.1, None);
        let real = c.input_file(24 * MIB);
        let v0 = c.commit(&real.0, &["--key", REAL_KEY, "--real-key"], &real.1, None);
        c.real_versions.push(v0.uid);
        c
    }

    fn fresh_seed(&mut self) -> u64 {
        self.serial += 1;
        self.seed.wrapping_add(self.serial.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn input_file(&mut self, size: u64) -> (PathBuf, Hashed) {
        let s = self.fresh_seed();
        let path = self.dir.join(format!("in-{}.bin", self.serial));
        let h = content::write_file(&path, s, size);
        (path, h)
    }

    fn input_folder(&mut self, files: usize, max_file: u64) -> (PathBuf, Hashed, Vec<(String, String)>) {
        let s = self.fresh_seed();
        let path = self.dir.join(format!("dir-{}", self.serial));
        let h = content::write_folder(&path, s, files, max_file);
        let per_file = trove_e2e::raw::walk(&path)
            .expect("listing the input folder")
            .into_iter()
            .map(|rel| {
                let fh = hash::of_path(&path.join(&rel)).expect("hashing an input file").hash;
                (rel, fh)
            })
            .collect();
        (path, h, per_file)
    }

    /// An uninterrupted save that must succeed; the content is then expected to stay.
    fn commit(
        &mut self,
        path: &std::path::Path,
        args: &[&str],
        want: &Hashed,
        files: Option<Vec<(String, String)>>,
    ) -> Owned {
        let p = path.display().to_string();
        let mut a = vec!["save", p.as_str(), "--json"];
        a.extend_from_slice(args);
        let rec = self.inst.run("setup", &a).first().unwrap_or_else(|e| panic!("{}: {e}", self.inst.name));
        assert_eq!(field(&rec, "hash"), want.hash, "{}: trove save {a:?} reported another hash", self.inst.name);
        self.expect.records.insert(field(&rec, "uid").to_owned(), want.hash.clone());
        Owned::from_record(&rec, files)
    }

    fn run(mut self) {
        let kills = KILLS * scale();
        say(format!(
            "crash on {}: {kills} kill points, seed {} (TROVE_E2E_SEED), start-up {:.0} ms",
            self.inst.name,
            self.seed,
            self.startup * 1000.0
        ));
        let started = Instant::now();
        let mut done = 0;
        let mut i = 0;
        while done < kills {
            let kind = KINDS[i % KINDS.len()];
            i += 1;
            let t0 = Instant::now();
            let (args, plan, units) = self.prepare(kind);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let calibrating = !self.rate.contains_key(&kind);
            let delay = if calibrating {
                None
            } else {
                // From half the start-up time (opening the instance) to a little past the
                // command's expected end.
                let span = (self.rate[&kind] * units * 1.15).max(self.startup);
                Some(Duration::from_secs_f64(self.rng.random_range(self.startup / 2.0..=span)))
            };
            let what = format!("{kind:?} #{i}: trove {}", short(&args));
            let t1 = Instant::now();
            let (run, took, killed) = self.attempt(&args, delay);
            let outcome = match delay {
                None => {
                    self.stats.calibrations += 1;
                    format!("ran to the end in {} ms (calibration)", took.as_millis())
                }
                Some(d) => {
                    done += 1;
                    let e = self.stats.tried.entry(kind).or_default();
                    e.0 += 1;
                    e.1 += usize::from(killed);
                    if killed {
                        format!("SIGKILL after {} ms", d.as_millis())
                    } else {
                        format!("SIGKILL after {} ms, but it had ended in {} ms", d.as_millis(), took.as_millis())
                    }
                }
            };
            if calibrating && !run.ok() {
                self.stats.violations.push(format!("uninterrupted: {}", run.describe()));
            }
            if !killed {
                // The latest run that ended by itself sets the span the next delays spread over.
                self.rate.insert(kind, (took.as_secs_f64() / units.max(1.0)).max(0.0001));
            }
            let t2 = Instant::now();
            let found = self.recover_and_check(&run, plan);
            // Inputs are hashed when written; dropping them keeps the disk use of a run small.
            std::fs::remove_dir_all(&self.dir)
                .and_then(|()| std::fs::create_dir_all(&self.dir))
                .expect("clearing inputs");
            say(format!(
                "  [{}] {what}: {outcome} (set-up {:.1}s, repair and checks {:.1}s)",
                self.inst.name,
                (t1 - t0).as_secs_f64(),
                t2.elapsed().as_secs_f64()
            ));
            // A broken invariant stays broken: report each one once, at the kill point that
            // broke it.
            let new: Vec<String> = found.into_iter().filter(|f| self.reported.insert(f.clone())).collect();
            if !new.is_empty() {
                say(format!("    [{}] -> {} new violation(s): {}", self.inst.name, new.len(), new.join(" | ")));
            }
            self.stats.violations.extend(new.into_iter().map(|f| format!("{what}: {f}")));
        }
        let elapsed = started.elapsed();
        let landed: usize = self.stats.tried.values().map(|t| t.1).sum();
        let per_kind: Vec<String> =
            self.stats.tried.iter().map(|(k, (t, l))| format!("{k:?} {t} ({l} mid-command)")).collect();
        say(format!(
            "crash on {}: {done} kill points ({landed} landed mid-command; {}), {} calibration runs, \
             {} fsck findings repaired, {:.0}s; invariant violations: {}",
            self.inst.name,
            per_kind.join(", "),
            self.stats.calibrations,
            self.stats.fsck_findings,
            elapsed.as_secs_f64(),
            self.stats.violations.len()
        ));
        assert!(
            self.stats.violations.is_empty(),
            "{} violation(s) on {} (replay with TROVE_E2E_SEED={}):\n  {}",
            self.stats.violations.len(),
            self.inst.name,
            self.seed,
            self.stats.violations.join("\n  ")
        );
    }

    /// Start `args`; kill it after `delay` unless it exited first. Returns what it printed, how
    /// long it ran, and whether it was killed.
    fn attempt(&mut self, args: &[&str], delay: Option<Duration>) -> (Run, Duration, bool) {
        let start = Instant::now();
        let mut child = self.inst.spawn("victim", args);
        let mut killed = false;
        if let Some(d) = delay {
            while start.elapsed() < d && child.try_wait().expect("polling trove").is_none() {
                std::thread::sleep(Duration::from_millis(2).min(d.saturating_sub(start.elapsed())));
            }
            if child.try_wait().expect("polling trove").is_none() {
                child.kill().expect("SIGKILL");
                killed = true;
            }
        }
        let run = finish("victim", args, child);
        (run, start.elapsed(), killed)
    }

    /// Set up a command of `kind` with ordinary commands; returns its arguments, its plan
    /// and its amount of work (for the kill delay).
    fn prepare(&mut self, kind: Kind) -> (Vec<String>, Plan, f64) {
        match kind {
            Kind::LargeSave => {
                let size = (16.0 * 2f64.powf(self.rng.random_range(0.0..3.64))) as u64 * MIB;
                let (path, want) = self.input_file(size);
                let key = format!("crash/big-{}.bin", self.serial);
                let args = strings(&["save", &path.display().to_string(), "--key", &key, "--json"]);
                (args, Plan::Save { key, want, files: None, large: true }, (size / MIB) as f64)
            }
            Kind::Replace => {
                let size = self.rng.random_range(8..=96) * MIB;
                let (mut path, new) = self.input_file(size);
                if self.serial.is_multiple_of(3) {
                    // A new suffix: the key (and object) is renamed with the content.
                    let other = if self.replace_target.storage_key.ends_with(".dat") { "bin" } else { "dat" };
                    let renamed = path.with_extension(other);
                    std::fs::rename(&path, &renamed).expect("renaming the input");
                    path = renamed;
                }
                let uid = self.replace_target.uid.clone();
                let args = strings(&["replace", &uid, &path.display().to_string(), "--json"]);
                let old = self.replace_target.hash.clone();
                (args, Plan::Replace { uid, old, new }, (size / MIB) as f64)
            }
            Kind::FolderSave => {
                let n = self.rng.random_range(150..=600);
                // Small files: what makes a folder slow to save (and to interrupt) is their
                // number. (Reads of objects over ~2 KiB from garage stall ~40 ms each, which
                // would make every check of the folder cost seconds.)
                let (path, want, files) = self.input_folder(n, 2 << 10);
                let key = format!("crash/dir-{}", self.serial);
                let mut args = strings(&["save", &path.display().to_string(), "--key", &key, "--json"]);
                if self.serial.is_multiple_of(2) {
                    args.push("--real-key".into());
                }
                (args, Plan::Save { key, want, files: Some(files), large: false }, n as f64)
            }
            Kind::RealKeyVersion => {
                // Keep the two newest versions (the one at the key and the one before it).
                let keep = self.real_versions.len().saturating_sub(2);
                let old: Vec<String> = self.real_versions.drain(..keep).collect();
                if !old.is_empty() {
                    let mut args = vec!["delete"];
                    args.extend(old.iter().map(String::as_str));
                    args.extend(["--permanent", "--yes", "--json"]);
                    let r = self.inst.run("setup", &args);
                    assert!(r.ok(), "{}: {}", self.inst.name, r.describe());
                    for uid in &old {
                        self.expect.records.remove(uid);
                    }
                }
                let size = self.rng.random_range(8..=64) * MIB;
                let (path, want) = self.input_file(size);
                let args = strings(&["save", &path.display().to_string(), "--key", REAL_KEY, "--real-key", "--json"]);
                (args, Plan::Save { key: REAL_KEY.into(), want, files: None, large: false }, (size / MIB) as f64)
            }
            Kind::BulkPurge => {
                self.top_up_purgeable(24);
                let victims: Vec<Owned> = std::mem::take(&mut self.purgeable);
                let policy = ["auto", "delete", "keep"][self.rng.random_range(0..3)];
                let mut args = strings(&["delete"]);
                args.extend(victims.iter().map(|v| v.uid.clone()));
                args.extend(strings(&["--permanent", "--storage", policy, "--yes", "--json"]));
                let n = victims.len() as f64;
                (args, Plan::Purge { victims, policy }, n)
            }
        }
    }

    /// Commit artifacts until `n` are waiting to be purged: small files and folders at virtual
    /// and real keys, and one folder of a few hundred files (its deletion, file by file, keeps
    /// the purge running long enough to be interrupted halfway).
    fn top_up_purgeable(&mut self, n: usize) {
        if !self.purgeable.iter().any(|o| o.files.as_ref().is_some_and(|f| f.len() >= 200)) {
            let key = format!("crash/many/m{}", self.serial);
            let real = if self.serial.is_multiple_of(2) { &["--real-key"][..] } else { &[][..] };
            let (path, want, files) = self.input_folder(300, 2 << 10);
            let mut args = vec!["--key", key.as_str()];
            args.extend_from_slice(real);
            let owned = self.commit(&path, &args, &want, Some(files));
            self.purgeable.push(owned);
        }
        while self.purgeable.len() < n {
            let k = self.serial;
            let real = if k.is_multiple_of(2) { &["--real-key"][..] } else { &[][..] };
            let key = format!("crash/small/s{k}");
            let owned = if k.is_multiple_of(3) {
                let (path, want, files) = self.input_folder(4, 4 << 10);
                let mut args = vec!["--key", key.as_str()];
                args.extend_from_slice(real);
                self.commit(&path, &args, &want, Some(files))
            } else {
                let key = format!("{key}.bin");
                let size = self.rng.random_range(1..64 << 10);
                let (path, want) = self.input_file(size);
                let mut args = vec!["--key", key.as_str()];
                args.extend_from_slice(real);
                self.commit(&path, &args, &want, None)
            };
            self.purgeable.push(owned);
        }
    }

    /// After the kill: the plain fsck's exit code, then `fsck --repair` and `gc`, then every
    /// invariant, with the killed command's effect either absent or complete.
    fn recover_and_check(&mut self, run: &Run, plan: Plan) -> Vec<String> {
        let inst = self.inst;
        let mut found = Vec::new();
        let v = &mut found;
        let report = inst.run("admin", &["fsck", "--json"]);
        match serde_json::from_str::<Value>(&report.stdout) {
            Ok(Value::Array(f)) => {
                self.stats.fsck_findings += f.len();
                if report.ok() && !f.is_empty() {
                    let first: Vec<String> =
                        f.iter().take(3).map(|f| format!("{} {}", field(f, "uid"), field(f, "problem"))).collect();
                    v.push(format!("fsck exited 0 although it found {} problem(s): {}", f.len(), first.join("; ")));
                }
            }
            _ => v.push(format!("fsck printed no findings list: {}", report.describe())),
        }
        let repair = inst.run("admin", &["fsck", "--repair", "--json"]);
        if serde_json::from_str::<Value>(&repair.stdout).is_err() {
            v.push(format!("fsck --repair: {}", repair.describe()));
        }
        // Their exit codes say whether they found something; what they leave is checked below.
        let gc = inst.run("admin", &inst.gc_args(&["--yes", "--json"]));
        if serde_json::from_str::<Value>(&gc.stdout).is_err() {
            v.push(format!("gc: {}", gc.describe()));
        }
        let records = match inst.json("admin", &["ls", "--branch", "all", "--all-versions"]) {
            Ok(Value::Array(r)) => r,
            other => {
                v.push(format!("cannot list the records: {other:?}"));
                return found;
            }
        };
        let find = |uid: &str| records.iter().find(|r| field(r, "uid") == uid);
        let finished = run.ok();
        match plan {
            Plan::Save { key, want, files, large } => {
                let new: Vec<&Value> = records
                    .iter()
                    .filter(|r| field(r, "key") == key && !self.expect.records.contains_key(field(r, "uid")))
                    .collect();
                match new.as_slice() {
                    [] if finished => v.push(format!("exited 0, but no new record under {key}")),
                    [] => {}
                    [r] if field(r, "hash") == want.hash => {
                        self.expect.records.insert(field(r, "uid").to_owned(), want.hash.clone());
                        let owned = Owned::from_record(r, files);
                        if key == REAL_KEY {
                            self.real_versions.push(owned.uid);
                        } else if large || owned.files.is_some() {
                            self.purgeable.push(owned);
                        }
                    }
                    [r] => v.push(format!(
                        "the new record {} holds {}, the content saved is {}",
                        field(r, "uid"),
                        field(r, "hash"),
                        want.hash
                    )),
                    many => v.push(format!("{} new records under {key} from one save", many.len())),
                }
            }
            Plan::Replace { uid, old, new } => match find(&uid) {
                None => v.push(format!("the replaced artifact {uid} is gone")),
                Some(r) if field(r, "hash") == new.hash => {
                    self.expect.records.insert(uid.clone(), new.hash.clone());
                    self.replace_target = Owned::from_record(r, None);
                }
                Some(_) if finished => v.push(format!("exited 0, but {uid} does not hold the new content")),
                Some(r) if field(r, "hash") == old => self.replace_target = Owned::from_record(r, None),
                Some(r) => {
                    v.push(format!("{uid} holds {}, neither the old {old} nor the new {}", field(r, "hash"), new.hash))
                }
            },
            Plan::Purge { victims, policy } => {
                for victim in victims {
                    if find(&victim.uid).is_some() {
                        if finished {
                            v.push(format!("exited 0, but {} is still there", victim.uid));
                        }
                        // Rolled back: still committed, and purgeable again later.
                        self.purgeable.push(victim);
                        continue;
                    }
                    self.expect.records.remove(&victim.uid);
                    // Bytes in the managed area are garbage once their record is gone, whatever
                    // the policy (gc removes them); bytes at a real key stay unless deleted.
                    if policy == "keep" || (policy == "auto" && victim.real_key) {
                        self.expect
                            .kept
                            .extend(victim.objects().into_iter().filter(|(k, _)| !k.starts_with(".trove/")));
                    }
                }
            }
        }
        for r in &records {
            if !self.expect.records.contains_key(field(r, "uid")) {
                v.push(format!("record {} ({}) that nothing committed", field(r, "uid"), field(r, "key")));
            }
        }
        let seen = check::verify(inst, "admin", &self.expect);
        found.extend(seen.violations);
        // Each leftover is reported once, by the kill point that left it; the next starts clean.
        for o in &seen.strays {
            inst.raw.delete(&o.key);
        }
        self.expect.unfinished_uploads = seen.unfinished_uploads;
        // The user takes the bytes they asked to keep; they are not Trove's any more.
        for (key, _) in std::mem::take(&mut self.expect.kept) {
            inst.raw.delete(&key);
        }
        found
    }
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// The arguments, with long uid lists shortened, for progress lines.
fn short(args: &[&str]) -> String {
    if args.len() <= 8 {
        return args.join(" ");
    }
    format!("{} ... ({} arguments) {}", args[..3].join(" "), args.len(), args[args.len() - 4..].join(" "))
}
