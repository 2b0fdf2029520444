//! The state machine with several writers: each step is a round of 2-4 operations that run at
//! the same moment on one instance, each from its own client (an OS thread with its own tokio
//! runtime and its own `Trove` handle, so its own catalog connections and store, as separate
//! processes have), and the model checks the merged history.
//!
//! Rounds aim at conflicts: most operations of a round hit the round's *focus* (one key for
//! saves, one record for replace, trash, restore, archive and permanent deletion), saves write
//! new content (each writer its own) or the same content (every writer the round's shared
//! content), so racing saves under one key, identical saves, and lifecycle moves of one record
//! are the common case.
//!
//! A round is accepted if some order of its operations, applied to the model one after another,
//! predicts each operation's answer and the catalog the system then shows (every record,
//! branch, head, view, key lookup and collection); the model continues from there. The answers
//! a lost race may give besides (each counted and printed):
//! * a typed `Conflict` or `StaleRevises` error that changed nothing;
//! * a save that found no identical content although an operation of this round created it (or
//!   replaced a record with it): it had not committed when this save looked, so the save is
//!   created as if it were a deliberate duplicate;
//! * versions reserved when a save starts (`Catalog::reserve_version`, 90a262f): a new version
//!   may follow the head it saw rather than the version just below it, may name as the version
//!   it follows a newer version of the round, and may skip versions that saves racing under the
//!   key (in this round or an earlier one) reserved and gave back out of order;
//! * only the newest version of a family takes a real key: a real-key save overtaken by a newer
//!   version of the round keeps its bytes in the managed area; a real-key save that found no
//!   family, then another save's new family at the key, is refused with `PathOccupied`;
//! * a permanent deletion (or `empty_trash`) that also reports a record another deletion of the
//!   round deleted: marking a record being deleted again is accepted (so that an interrupted
//!   deletion can be retried), so both calls report it; its bytes are gone;
//! * a deletion of a real-key record that reports the key's path as kept while a save of a
//!   newer version took the key over (and moved the record's bytes into the managed area, where
//!   the deletion removed them);
//! * a save that brought identical content back from the trash while a replace of the round
//!   changed that record: the answer shows the record as the replace left it;
//! * a new version that names as the version it follows the head a permanent deletion of the
//!   round was removing (it read the head while the deletion had it marked; identical content
//!   in a record being deleted is not de-duplicated against).
//!
//! Races Trove still loses, each a reported defect, are listed in [`RACES`]: while a flag is
//! `false`, rounds leave out the later operation of such a pair (counted and printed).
//!
//! Identical content in the trash under one key in several families (a save the sequential
//! machine avoids, as which comes back depends on uid order) is settled by the answer: the
//! record restored must be one of them. After the order is found, the bytes are checked as in
//! the sequential machine: storage against the model, every record's bytes read and hashed, and
//! every content the model holds read back byte for byte.

use std::sync::mpsc;
use std::sync::{Barrier, Condvar};
use std::thread::JoinHandle;

use proptest::collection::vec as vec_of;

use super::*;

/// Writers (clients) per case: the largest round.
const WRITERS: usize = 4;
/// Operations per round (2 is the floor shrinking may reach).
const ROUND: std::ops::RangeInclusive<usize> = 2..=WRITERS;
/// Rounds per case.
const ROUNDS: std::ops::RangeInclusive<usize> = 1..=10;

/// Which record an operation aims at, resolved when its round runs.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The round's focus: one record that exists, the same for every operation of the round.
    Focus,
    /// Any record ever created (gone ones too), by seed.
    Any(u16),
}

/// Which content a save or replace writes.
#[derive(Debug, Clone, Copy)]
enum Content {
    /// New content (by seed): in practice different from all others.
    Fresh(u32),
    /// The round's shared content: identical for every operation of the round that takes it.
    Shared,
    /// One of the sequential machine's few contents (the empty one included).
    Small(usize),
}

/// Which key a save uses.
#[derive(Debug, Clone, Copy)]
enum KeyPick {
    Focus,
    Other(usize),
    Keyless,
}

/// One operation of a round, before its targets are resolved against the model.
#[derive(Debug, Clone)]
enum Planned {
    Save { content: Content, key: KeyPick, real: bool, allow_duplicate: bool },
    Replace { target: Target, content: Content, suffix: usize },
    Trash(Target),
    Restore(Target),
    Archive(Target),
    Delete(Target),
    Purge(Target, StoragePolicy),
    EmptyTrash,
    Collection(Target, Target),
}

/// One round: its focus and its operations (one per writer).
#[derive(Debug, Clone)]
struct Round {
    focus_record: u16,
    focus_key: usize,
    shared: u32,
    ops: Vec<Planned>,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![4 => Just(Target::Focus), 1 => any::<u16>().prop_map(Target::Any)]
}

fn content() -> impl Strategy<Value = Content> {
    prop_oneof![
        5 => any::<u32>().prop_map(Content::Fresh),
        4 => Just(Content::Shared),
        1 => (0..CONTENTS.len()).prop_map(Content::Small),
    ]
}

fn planned() -> impl Strategy<Value = Planned> {
    let key = prop_oneof![
        8 => Just(KeyPick::Focus),
        1 => (0..KEYS.len()).prop_map(KeyPick::Other),
        1 => Just(KeyPick::Keyless),
    ];
    let policy = prop_oneof![Just(StoragePolicy::Auto), Just(StoragePolicy::Keep), Just(StoragePolicy::Delete)];
    prop_oneof![
        10 => (content(), key, prop::bool::weighted(0.2), prop::bool::weighted(0.1))
            .prop_map(|(content, key, real, allow_duplicate)| Planned::Save { content, key, real, allow_duplicate }),
        4 => (target(), content(), prop::sample::select(vec![0usize, 0, 0, 1, 1, 2]))
            .prop_map(|(target, content, suffix)| Planned::Replace { target, content, suffix }),
        2 => target().prop_map(Planned::Trash),
        2 => target().prop_map(Planned::Restore),
        1 => target().prop_map(Planned::Archive),
        1 => target().prop_map(Planned::Delete),
        3 => (target(), policy).prop_map(|(t, p)| Planned::Purge(t, p)),
        1 => Just(Planned::EmptyTrash),
        1 => (target(), target()).prop_map(|(a, b)| Planned::Collection(a, b)),
    ]
}

fn rounds() -> impl Strategy<Value = Vec<Round>> {
    let round = (any::<u16>(), 0..KEYS.len(), any::<u32>(), vec_of(planned(), ROUND))
        .prop_map(|(focus_record, focus_key, shared, ops)| Round { focus_record, focus_key, shared, ops });
    vec_of(round, ROUNDS)
}

/// The round's operations as model operations, aimed at the records the model holds now. An
/// operation on a record when none exists yet becomes a save under the focus key. An operation
/// that would race an earlier one of the round in a way [`RACES`] leaves out is left out (and
/// named in the second result).
fn resolve(round: &Round, model: &Model) -> (Vec<Op>, Vec<&'static str>) {
    let existing: Vec<usize> = model.existing().collect();
    let focus = (!existing.is_empty()).then(|| existing[round.focus_record as usize % existing.len()]);
    let slot = |t: Target| match t {
        Target::Focus => focus,
        Target::Any(n) if !model.records.is_empty() => Some(n as usize % model.records.len()),
        Target::Any(_) => None,
    };
    let bytes = |c: Content| match c {
        Content::Fresh(n) => format!("fresh {n:08x}").into_bytes(),
        Content::Shared => format!("shared {:08x}", round.shared).into_bytes(),
        Content::Small(i) => CONTENTS[i].to_vec(),
    };
    let focus_key = KEYS[round.focus_key].to_owned();
    let fallback = |n: usize| {
        Op::Save(SaveRequest {
            content: bytes(Content::Fresh(round.shared.wrapping_add(n as u32))),
            key: Some(focus_key.clone()),
            real: false,
            allow_duplicate: false,
        })
    };
    let mut out: Vec<Op> = Vec::with_capacity(round.ops.len());
    let mut left_out = Vec::new();
    for (n, p) in round.ops.iter().enumerate() {
        let op = match *p {
            Planned::Save { content, key, real, allow_duplicate } => {
                let key = match key {
                    KeyPick::Focus => Some(focus_key.clone()),
                    KeyPick::Other(i) => Some(KEYS[i].to_owned()),
                    KeyPick::Keyless => None,
                };
                Some(Op::Save(SaveRequest {
                    content: bytes(content),
                    real: real && key.is_some(),
                    key,
                    allow_duplicate,
                }))
            }
            Planned::Replace { target, content, suffix } => slot(target).map(|slot| Op::Replace {
                slot,
                content: bytes(content),
                suffix: SUFFIXES[suffix].to_owned(),
            }),
            Planned::Trash(t) => slot(t).map(|s| Op::Trash(vec![s])),
            Planned::Restore(t) => slot(t).map(|s| Op::Restore(vec![s])),
            Planned::Archive(t) => slot(t).map(|s| Op::Archive(vec![s])),
            Planned::Delete(t) => slot(t).map(Op::Delete),
            Planned::Purge(t, policy) => slot(t).map(|s| Op::DeletePermanently(vec![s], policy)),
            Planned::EmptyTrash => Some(Op::EmptyTrash { cutoff: TrashCutoff::Everything, dry_run: false }),
            Planned::Collection(a, b) => match (slot(a), slot(b)) {
                (Some(a), Some(b)) if a != b => {
                    Some(Op::CreateCollection { members: vec![a, b], key: Some(COLLECTION_KEYS[0].into()) })
                }
                (Some(a), _) => Some(Op::CreateCollection { members: vec![a], key: Some(COLLECTION_KEYS[0].into()) }),
                _ => None,
            },
        };
        let op = op.unwrap_or_else(|| fallback(n));
        match out.iter().find_map(|earlier| RACES.left_out(earlier, &op, model)) {
            Some(race) => left_out.push(race),
            None => out.push(op),
        }
    }
    (out, left_out)
}

/// Races Trove loses today, each a reported defect: while its flag is `false`, a round leaves
/// out the later operation of such a pair. Set a flag to `true` to hold Trove to it.
struct Races {
    /// Saves under one key (the defect this machine was written for, issue 9: a save chose its
    /// uid, and so its managed object key, before its row committed, so racing writers wrote
    /// to the same object).
    saves_under_one_key: bool,
    /// Two replaces. On main at 2e04668 `replace` marked the row without checking that it was
    /// unmarked, so a second replace of the same record overwrote the first one's mark and both
    /// moved their bytes over the same target (the record could end up describing one content
    /// while holding the other, or the other's bytes stayed behind). Fixed by the conditional
    /// marks of 90a262f: the second replace fails with `Conflict`.
    replace_with_replace: bool,
    /// A replace that renames a key (a new suffix) with a save under the new key. The check
    /// that no other family uses the new key was not in the transaction that commits the
    /// rename, so the save could create a family under that key meanwhile: two families then
    /// held the key on main. Fixed: `commit_replace` takes the new key's lock and refuses
    /// (`PathOccupied`), and the replace rolls back.
    rename_with_save: bool,
    /// A real-key save with a replace or a permanent deletion of the record holding the key.
    /// The save moves that occupant into the managed area before it places its own bytes.
    /// Since the placement retries while the occupant is marked (the save no longer fails),
    /// what remains is not a broken invariant but an answer no order of the model explains:
    /// the save's version is committed before the deletion and placed after it, so the
    /// deletion reports the real key's path (the occupant's bytes were still there) and a copy
    /// of the occupant's bytes stays in the managed area until `gc` removes it. (On main at
    /// 2e04668 the replaced record ended up pointing at a managed object that did not exist.)
    real_key_save_with_occupant_change: bool,
    /// A replace with a permanent deletion of the same record (`delete_permanently` or
    /// `empty_trash`). On main at 2e04668 the replace overwrote the purge mark: the deletion
    /// reported success, and the record came back with the new content. Fixed by the
    /// conditional marks of 90a262f: one of the two fails with `Conflict`.
    replace_with_purge: bool,
    /// `empty_trash` with a restore (`restore`, or a save that brings identical content back
    /// from the trash) or another permanent deletion. `empty_trash` listed the trash and then
    /// deleted those uids: a record restored meanwhile was deleted permanently from main, and a
    /// record another call deleted meanwhile made the whole call fail with `NotFound`. Fixed:
    /// the catalog marks only the records still in the trash (`begin_purge_on`).
    empty_trash_with_restore: bool,
    /// `empty_trash` with another permanent deletion of the same records: both calls mark and
    /// delete them (marking again is accepted so an interrupted deletion can be retried), and
    /// which call finds which bytes already gone ("missing" instead of "removed") depends on
    /// timing, which no order of the model explains. No invariant is at stake: both delete.
    empty_trash_with_purge: bool,
}

/// See [`Races`].
const RACES: Races = Races {
    saves_under_one_key: true,
    replace_with_replace: true,
    rename_with_save: true,
    real_key_save_with_occupant_change: false,
    replace_with_purge: true,
    empty_trash_with_restore: true,
    empty_trash_with_purge: false,
};

impl Races {
    /// Which race, left out, `b` would run with `a` (in either order), if any.
    fn left_out(&self, a: &Op, b: &Op, model: &Model) -> Option<&'static str> {
        let pair = |x: &dyn Fn(&Op) -> bool, y: &dyn Fn(&Op) -> bool| (x(a) && y(b)) || (y(a) && x(b));
        let replace = |o: &Op| matches!(o, Op::Replace { .. });
        let purge = |o: &Op| matches!(o, Op::DeletePermanently(..) | Op::EmptyTrash { .. });
        let empty_trash = |o: &Op| matches!(o, Op::EmptyTrash { .. });
        // A save may bring back from the trash only content some record holds.
        let restore = |o: &Op| match o {
            Op::Restore(_) => true,
            Op::Save(r) => model.records.iter().any(|x| x.content == r.content),
            _ => false,
        };
        let same_key = matches!((a, b), (Op::Save(x), Op::Save(y)) if x.key.is_some() && x.key == y.key);
        // The key a replace renames its record to, if it does.
        let renamed_to = |o: &Op| match o {
            Op::Replace { slot, suffix, .. } => model
                .records
                .get(*slot)
                .filter(|r| r.suffix != *suffix)
                .and_then(|r| r.key.as_deref().map(|k| key_with_suffix(k, &r.suffix, suffix))),
            _ => None,
        };
        // Whether the real-key save `y` displaces a record that `x` replaces or deletes.
        let at_key = |slot: &usize, key: &Option<String>| {
            model
                .records
                .get(*slot)
                .is_some_and(|x| matches!((&x.location, key), (Location::Real(k), Some(rk)) if k == rk))
        };
        let displaces = |x: &Op, y: &Op| match (x, y) {
            (Op::Replace { slot, .. }, Op::Save(r)) if r.real => at_key(slot, &r.key),
            (Op::DeletePermanently(slots, _), Op::Save(r)) if r.real => slots.iter().any(|s| at_key(s, &r.key)),
            (Op::EmptyTrash { .. }, Op::Save(r)) if r.real => {
                model.on_branch(BranchId::TRASH).iter().any(|s| at_key(s, &r.key))
            }
            _ => false,
        };
        let rename_and_save = |x: &Op, y: &Op| matches!((renamed_to(x), y), (Some(k), Op::Save(r)) if r.key.as_deref() == Some(k.as_str()));
        if !self.saves_under_one_key && same_key {
            Some("saves under one key")
        } else if !self.replace_with_replace && replace(a) && replace(b) {
            Some("replace with replace")
        } else if !self.rename_with_save && (rename_and_save(a, b) || rename_and_save(b, a)) {
            Some("replace renaming to a key with a save under it")
        } else if !self.real_key_save_with_occupant_change && (displaces(a, b) || displaces(b, a)) {
            Some("real-key save with a replace or deletion of the key's record")
        } else if !self.replace_with_purge && pair(&replace, &purge) {
            Some("replace with permanent deletion")
        } else if !self.empty_trash_with_restore && pair(&empty_trash, &restore) {
            Some("empty_trash with restore")
        } else if !self.empty_trash_with_purge && pair(&empty_trash, &purge) {
            Some("empty_trash with permanent deletion")
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writers: one OS thread, runtime and client each

/// A round's operation for one writer.
struct Job {
    index: usize,
    op: Op,
    ids: Ids,
    source: std::path::PathBuf,
    /// Every writer of the round starts when all are ready.
    start: Arc<Barrier>,
    reply: mpsc::Sender<(usize, Observed)>,
}

struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Start a writer with its own runtime and its own client of the instance; returns once
    /// the client is open.
    fn start(n: usize, connect: Connect) -> Writer {
        let (jobs, rx) = mpsc::channel::<Job>();
        let ready = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = ready.clone();
        let thread = std::thread::Builder::new()
            .name(format!("writer-{n}"))
            .spawn(move || {
                // A runtime of its own that keeps running between jobs: a catalog transaction a
                // call drops without committing is rolled back (and its locks released) by a task
                // the connection pool spawns, which an idle current-thread runtime would never
                // run, leaving other clients waiting for the lock.
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("runtime");
                let trove = connect(&rt);
                *signal.0.lock().unwrap() = true;
                signal.1.notify_all();
                for job in rx {
                    job.start.wait();
                    let got = rt.block_on(execute(&trove, &job.ids, &job.op, &job.source));
                    let _ = job.reply.send((job.index, got));
                }
                rt.block_on(async move { drop(trove) });
            })
            .expect("spawn a writer");
        let (lock, cvar) = &*ready;
        let mut open = lock.lock().unwrap();
        while !*open && !thread.is_finished() {
            open = cvar.wait_timeout(open, Duration::from_millis(100)).unwrap().0;
        }
        assert!(*open, "writer {n} could not open the instance (see its panic above)");
        Writer { jobs: Some(jobs), thread: Some(thread) }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Run a round: every operation at once, one per writer; the answers in operation order.
fn run_round(writers: &[Writer], ops: &[Op], ids: &Ids, sources: &Path, round: usize) -> Vec<Observed> {
    let start = Arc::new(Barrier::new(ops.len()));
    let (reply, answers) = mpsc::channel();
    for (index, op) in ops.iter().enumerate() {
        let job = Job {
            index,
            op: op.clone(),
            ids: ids.clone(),
            source: sources.join(format!("round{round}-op{index}")),
            start: start.clone(),
            reply: reply.clone(),
        };
        writers[index].jobs.as_ref().expect("running").send(job).expect("the writer is running");
    }
    drop(reply);
    let mut got: Vec<Option<Observed>> = (0..ops.len()).map(|_| None).collect();
    for (index, answer) in answers {
        got[index] = Some(answer);
    }
    got.into_iter()
        .enumerate()
        .map(|(i, o)| o.unwrap_or_else(|| panic!("writer {i} died (see its panic above)")))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Explaining a round by an order of its operations

/// A round explained: the model and ids after it, the order, and per operation (in that
/// order) the model before it, its expected answer, and the lost race it was accepted as.
struct Explained {
    model: Model,
    ids: Ids,
    order: Vec<usize>,
    steps: Vec<(Model, Expect, Vec<&'static str>)>,
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out.sort();
    out
}

/// What stays fixed while the orders of one round are tried.
struct Ran<'a> {
    /// The model and ids before the round.
    model: &'a Model,
    ids: &'a Ids,
    ops: &'a [Op],
    observed: &'a [Observed],
    /// Per key, how many saves raced under it so far (see [`reserved_versions`]).
    reservations: &'a BTreeMap<String, u32>,
    store: &'a dyn ObjectStore,
}

/// Find an order of the round's operations that explains every answer, the catalog and the
/// storage listing (or, failing that, the answers and the catalog).
fn explain(ran: &Ran<'_>, snap: &Snapshot) -> Result<Explained, String> {
    let mut tried = Vec::new();
    // An order that explains the answers and the catalog but not the storage listing is kept
    // in case no order explains all three: the checks of the bytes then say what differs.
    let mut catalog_only = None;
    for order in permutations(ran.ops.len()) {
        match try_order(ran, &order, snap) {
            Ok(e) if verify_storage(snap, &e.model, &e.ids).is_ok() => return Ok(e),
            Ok(e) => {
                catalog_only.get_or_insert(e);
            }
            Err(why) => tried.push(format!("order {order:?}: {why}")),
        }
    }
    catalog_only
        .ok_or_else(|| format!("no order of the round explains what the system did:\n    {}", tried.join("\n    ")))
}

fn try_order(ran: &Ran<'_>, order: &[usize], snap: &Snapshot) -> Result<Explained, String> {
    let mut m = ran.model.clone();
    let mut ids = ran.ids.clone();
    let mut steps = Vec::with_capacity(order.len());
    // The records that were a save key's head at some point of this order: what a save of the
    // round may have seen and followed.
    let keys: BTreeSet<String> = ran
        .ops
        .iter()
        .filter_map(|o| match o {
            Op::Save(r) => r.key.clone(),
            _ => None,
        })
        .collect();
    let mut heads: BTreeSet<usize> = BTreeSet::new();
    for &i in order {
        heads.extend(keys.iter().filter_map(|k| m.family_head_by_key(k)));
        let before = m.clone();
        let (expect, relaxed) = step(&mut m, &mut ids, i, ran, &heads)
            .map_err(|e| format!("op {i} got {}: {e}", ran.observed[i].brief()))?;
        steps.push((before, expect, relaxed));
    }
    for uid in std::mem::take(&mut ids.named_later) {
        let created = ids.uids[ran.model.records.len()..].contains(&uid);
        ensure!(created, "an answer named {uid} as the version it follows, but the round did not create it");
    }
    verify_catalog(snap, &m, &ids)?;
    Ok(Explained { model: m, ids, order: order.to_vec(), steps })
}

/// Apply one operation of an order to the model and accept its answer: as predicted, or as one
/// of the answers a lost race may give (named in the result).
fn step(
    m: &mut Model,
    ids: &mut Ids,
    i: usize,
    ran: &Ran<'_>,
    heads: &BTreeSet<usize>,
) -> Result<(Expect, Vec<&'static str>), String> {
    let (op, got, round_start, round_ops, store) = (&ran.ops[i], &ran.observed[i], ran.model, ran.ops, ran.store);
    let strict = match try_as(m, ids, op, None, op, got, store) {
        Ok((m2, ids2, e)) => {
            (*m, *ids) = (m2, ids2);
            return Ok((e, Vec::new()));
        }
        Err(e) => e,
    };
    if let Some(e) = got.error()
        && matches!(e.kind(), ErrorKind::Conflict | ErrorKind::StaleRevises)
    {
        return Ok((Expect::Failed(e.kind()), vec!["typed conflict, nothing changed"]));
    }
    // A replace that saw the record before another replace of the round renamed it finds its
    // target taken by that replace's bytes: refused, nothing changed.
    if let (Some(e), Op::Replace { slot, .. }) = (got.error(), op)
        && e.kind() == ErrorKind::PathOccupied
        && round_ops.iter().filter(|o| matches!(o, Op::Replace { slot: s, .. } if s == slot)).count() > 1
    {
        return Ok((Expect::Failed(e.kind()), vec!["replace refused: a replace of the round took its target"]));
    }
    if let Some((e, why)) = purged_twice(m, ids, op, got, round_start, store).map_err(|e| format!("{strict}; {e}"))? {
        return Ok((e, vec![why]));
    }
    // A real-key record deleted permanently while a save of a newer version took its key: the
    // deletion marked it at the key and reports the key's path as kept, though the save moved
    // its bytes into the managed area first (and the deletion removed them there).
    if let (Op::DeletePermanently(..), Observed::Purged(Ok(report))) = (op, got) {
        let mut m2 = m.clone();
        if let Expect::Purged(mut want) = m2.apply(op) {
            for w in &mut want {
                let Location::Real(key) = &round_start.records[w.slot].location else { continue };
                let at_key = ids.display(store, &Location::Real(key.clone()));
                let uid = ids.uids[w.slot].to_string();
                let kept = report
                    .purged
                    .iter()
                    .find(|p| p.artifact.uid.as_str() == uid)
                    .and_then(|p| p.kept_paths.iter().find(|k| k.path == at_key).map(|k| k.reason));
                if let (Some(reason), Location::Managed { .. }) = (kept, &w.location) {
                    *w = PurgeExpect {
                        slot: w.slot,
                        location: Location::Real(key.clone()),
                        kept: Some(reason),
                        missing: false,
                    };
                }
            }
            if accept_purge(ids, &want, report, store).is_ok() {
                *m = m2;
                return Ok((
                    Expect::Purged(want),
                    vec!["deleted permanently at a real key a save of the round took over"],
                ));
            }
        }
    }
    let Op::Save(req) = op else { return Err(strict) };
    // A real-key save that found no family under its key, then found another family's bytes
    // at the key, placed by a save of this round: refused, nothing changed.
    if let (Some(e), Some(key)) = (got.error(), &req.key)
        && e.kind() == ErrorKind::PathOccupied
        && req.real
        && m.existing().any(|s| s >= round_start.records.len() && m.records[s].location == Location::Real(key.clone()))
    {
        return Ok((
            Expect::Failed(e.kind()),
            vec!["real-key save refused: a save of the round placed a new family there"],
        ));
    }
    // Identical content brought back from the trash while a replace of the round changed the
    // record: the answer shows the record as the replace left it.
    if let Observed::Save(Ok(SaveOutcome::RestoredFromTrash { artifact })) = got
        && round_ops.iter().any(|o| matches!(o, Op::Replace { slot, .. } if ids.uids.get(*slot) == Some(&artifact.uid)))
    {
        let h = trove::domain::hash::hash_bytes(&req.content);
        let as_saved = trove::Artifact { size: h.size, hash: h.hash, hash_type: h.hash_type, ..artifact.clone() };
        let as_saved = Observed::Save(Ok(SaveOutcome::RestoredFromTrash { artifact: as_saved }));
        if let Ok((m2, ids2, e)) = try_as(m, ids, op, None, op, &as_saved, store) {
            (*m, *ids) = (m2, ids2);
            return Ok((e, vec!["restored from the trash while a replace of the round changed it"]));
        }
    }
    // Which of several trashed families comes back depends on uid order: the answer says.
    if let (Expect::Saved(SaveExpect::Undetermined), Observed::Save(Ok(SaveOutcome::RestoredFromTrash { artifact }))) =
        (m.clone().apply(op), got)
    {
        let Some(slot) = ids.uids.iter().position(|u| *u == artifact.uid) else { return Err(strict) };
        let r = &m.records[slot];
        ensure!(
            r.branch == Some(BranchId::TRASH) && r.key == req.key && r.content == req.content,
            "restored {}, which is not identical content under the key in the trash",
            artifact.uid
        );
        let restored = Some(Expect::Saved(SaveExpect::RestoredFromTrash { slot }));
        let (m2, ids2, e) = try_as(m, ids, &Op::Restore(vec![slot]), restored, op, got, store)?;
        (*m, *ids) = (m2, ids2);
        return Ok((e, vec!["restored one of several trashed families (uid order)"]));
    }
    // A new version that names as the version it follows the key's head that a permanent
    // deletion of the round (earlier in this order) was removing: the save read the head while
    // the deletion had it marked, and the deletion committed after. The new version is the
    // family's head either way; only the name in the answer is of a record now gone.
    if let Observed::Save(Ok(SaveOutcome::NewVersion { artifact, previous: saw })) = got
        && let Some(saw) = ids.uids.iter().position(|u| u == saw)
        && let Expect::Saved(SaveExpect::NewVersion { previous, .. }) = m.clone().apply(op)
        && saw != previous
        && heads.contains(&saw)
        && round_start.records.get(saw).is_some_and(|r| r.exists())
        && !m.records[saw].exists()
        && m.records[saw].family == m.records[previous].family
        && m.records[saw].version > m.records[previous].version
        && round_ops.iter().any(|o| matches!(o, Op::DeletePermanently(..) | Op::EmptyTrash { .. }))
    {
        let as_named = Observed::Save(Ok(SaveOutcome::NewVersion {
            artifact: artifact.clone(),
            previous: ids.uids[previous].clone(),
        }));
        if let Ok((m2, ids2, e)) = try_as(m, ids, op, None, op, &as_named, store) {
            (*m, *ids) = (m2, ids2);
            return Ok((e, vec!["new version following the head a permanent deletion of the round was removing"]));
        }
    }
    // The save as the model may have to see it, given the other saves of the round.
    let rivals = round_ops.iter().filter(|o| matches!(o, Op::Save(r) if r.key.is_some() && r.key == req.key)).count();
    let rivals = rivals.saturating_sub(1) as u32;
    let mut variants: Vec<(Op, Vec<&'static str>)> = vec![(op.clone(), Vec::new())];
    // The identical content was created (or replaced in) by an operation of this round that
    // had not committed when this save looked for it.
    let new_this_round =
        |c: &usize| round_start.records.get(*c).is_none_or(|r| r.content != m.records[*c].content || !r.exists());
    if let Expect::Saved(SaveExpect::Existing { candidates }) = m.clone().apply(op)
        && candidates.iter().all(new_this_round)
    {
        let duplicate = Op::Save(SaveRequest { allow_duplicate: true, ..req.clone() });
        variants.push((duplicate, vec!["identical content saved concurrently, not de-duplicated"]));
    }
    // Only the newest version of a family takes a real key: a real-key save overtaken by a
    // newer version of this round keeps its bytes in the managed area.
    if req.real && rivals > 0 {
        let managed = Op::Save(SaveRequest { real: false, ..req.clone() });
        variants.push((managed, vec!["real-key save overtaken by a newer version: bytes stay managed"]));
    }
    let mut why_not = vec![strict];
    for (model_op, why) in variants {
        let attempt = if model_op == *op {
            Err(String::new())
        } else {
            try_as(m, ids, &model_op, None, op, got, store).map(|(m2, ids2, e)| (m2, ids2, e, why.clone()))
        };
        let attempt = attempt.or_else(|_| {
            let unused = req.key.as_ref().and_then(|k| ran.reservations.get(k)).copied().unwrap_or(0);
            reserved_versions(m, ids, &model_op, op, got, heads, (rivals, unused), store).map(|(m2, ids2, e, v)| {
                let mut why = why.clone();
                why.push(v);
                (m2, ids2, e, why)
            })
        });
        match attempt {
            Ok((m2, ids2, e, why)) => {
                (*m, *ids) = (m2, ids2);
                return Ok((e, why));
            }
            Err(e) => why_not.push(e),
        }
    }
    Err(why_not.join("; or "))
}

/// A new version with versions reserved when saves start (`Catalog::reserve_version`): with
/// other saves of the round under the key (`rivals`), it may follow the head it saw rather than
/// the version just below it; and it may skip versions that saves racing under the key, in this
/// round or an earlier one, reserved and did not use (at most `unused`: a reservation given
/// back while a higher one is held stays a gap, by design).
#[allow(clippy::too_many_arguments, reason = "the state of the order being tried")]
fn reserved_versions(
    m: &Model,
    ids: &Ids,
    model_op: &Op,
    op: &Op,
    got: &Observed,
    heads: &BTreeSet<usize>,
    (rivals, unused): (u32, u32),
    store: &dyn ObjectStore,
) -> Result<(Model, Ids, Expect, &'static str), String> {
    let mut m2 = m.clone();
    let (
        Expect::Saved(SaveExpect::NewVersion { slot, previous }),
        Observed::Save(Ok(SaveOutcome::NewVersion { artifact, previous: saw })),
    ) = (m2.apply(model_op), got)
    else {
        return Err("not a new version".into());
    };
    ensure!(rivals > 0 || unused > 0, "no save raced under the key");
    let (want, version) = (m2.records[slot].version, artifact.version_index());
    let Some(saw) = ids.uids.iter().position(|u| u == saw) else {
        // It names as the version it follows a newer version that a save of the round commits
        // later in this order: checked once the order is applied.
        ensure!(
            rivals > 0 && saw.stem() == artifact.uid.stem() && saw.version_index() > version && version == want,
            "it follows {saw}, which is unknown"
        );
        let mut ids2 = ids.clone();
        ids2.named_later.push(saw.clone());
        let e = Expect::Saved(SaveExpect::NewVersion { slot, previous });
        let renamed =
            Observed::Save(Ok(SaveOutcome::NewVersion { artifact: artifact.clone(), previous: ids.uid(previous) }));
        accept(&mut ids2, &m2, op, &e, &renamed, store)?;
        return Ok((m2, ids2, e, "new version answered with a newer version of the round as the one it follows"));
    };
    let (r, p) = (&m.records[saw], &m.records[previous]);
    ensure!(
        version >= want && version - want <= unused,
        "version {version}, where {want} is next and racing saves under the key reserved at most {unused} versions"
    );
    // The head it saw was the key's head at some point of the round.
    let passed_over = heads.contains(&saw);
    let why = if r.family == p.family && r.version > version && heads.contains(&saw) {
        "new version answered with a newer version of the round as the one it follows"
    } else if saw == previous || (rivals > 0 && r.family == p.family && r.version < version && passed_over) {
        if version > want {
            "new version past versions another save of the round reserved and did not use"
        } else {
            "new version following the head it saw; a save of the round took the version between"
        }
    } else {
        return Err(format!("it follows {}, which no order or lost race explains", ids.uids[saw]));
    };
    renumber(&mut m2, slot, version);
    let e = Expect::Saved(SaveExpect::NewVersion { slot, previous: saw });
    let mut ids2 = ids.clone();
    accept(&mut ids2, &m2, op, &e, got, store)?;
    Ok((m2, ids2, e, why))
}

/// Give the record in `slot` (just created) the version `version` instead: the family's next
/// version was skipped.
fn renumber(m: &mut Model, slot: usize, version: u32) {
    let r = &mut m.records[slot];
    r.version = version;
    if let Location::Managed { family, suffix, .. } = r.location.clone() {
        let moved = Location::Managed { family, version, suffix };
        if let Some(content) = m.objects.remove(&r.location) {
            m.objects.insert(moved.clone(), content);
        }
        r.location = moved;
    }
    let f = &mut m.families[r.family];
    f.max_version_ever = f.max_version_ever.max(version);
}

/// `op_in_model` applied to a copy of the model, and the answer `got` to `op` accepted as
/// `expect` (by default, the model's prediction).
fn try_as(
    m: &Model,
    ids: &Ids,
    op_in_model: &Op,
    expect: Option<Expect>,
    op: &Op,
    got: &Observed,
    store: &dyn ObjectStore,
) -> Result<(Model, Ids, Expect), String> {
    let mut m2 = m.clone();
    let mut ids2 = ids.clone();
    let predicted = m2.apply(op_in_model);
    let expect = expect.unwrap_or(predicted);
    accept(&mut ids2, &m2, op, &expect, got, store)?;
    Ok((m2, ids2, expect))
}

/// Every record and object, one line each, for failure messages.
fn describe(snap: &Snapshot) -> String {
    let records = snap.all.iter().map(|a| {
        format!(
            "{} key {:?} on {}{} at {} ({}, {} bytes)",
            a.uid,
            a.key.as_ref().map(|k| k.as_str()),
            a.branch,
            if a.is_latest { " (head)" } else { "" },
            a.storage_key(),
            a.hash,
            a.size
        )
    });
    let objects = snap.listing.values().map(|o| format!("object {} ({} bytes)", o.key, o.size));
    records.chain(objects).collect::<Vec<_>>().join("\n  ")
}

/// A permanent deletion (or `empty_trash`) that also reports records a deletion earlier in the
/// round has deleted: both calls marked them (marking again is accepted, so that an interrupted
/// deletion can be retried), and both say they deleted them; the bytes are gone. The other
/// records of the call are checked as predicted. `Ok(None)`: the operation is not one of those.
fn purged_twice(
    m: &mut Model,
    ids: &Ids,
    op: &Op,
    got: &Observed,
    round_start: &Model,
    store: &dyn ObjectStore,
) -> Result<Option<(Expect, &'static str)>, String> {
    let gone_this_round =
        |s: &usize| round_start.records.get(*s).is_some_and(|r| r.exists()) && !m.records[*s].exists();
    // `empty_trash` deletes what it listed only if still in the trash when its deletion starts
    // (`begin_purge_on`): a record another operation of the round restored, moved or finished
    // deleting meanwhile is skipped, never deleted from where it went.
    let left_trash = |s: &usize| {
        round_start.records.get(*s).is_some_and(|r| r.branch == Some(BranchId::TRASH))
            && m.records[*s].branch != Some(BranchId::TRASH)
    };
    let (asked, report, listed) = match (op, got) {
        (Op::DeletePermanently(slots, _), Observed::Purged(Ok(report))) => (slots.clone(), report, None),
        (Op::EmptyTrash { .. }, Observed::EmptiedTrash(Ok((listed, report)))) => {
            let Some(slots) =
                listed.iter().map(|a| ids.uids.iter().position(|u| *u == a.uid)).collect::<Option<Vec<_>>>()
            else {
                return Ok(None);
            };
            (slots, report, Some(listed))
        }
        _ => return Ok(None),
    };
    let skippable = |s: &usize| gone_this_round(s) || (listed.is_some() && left_trash(s));
    let (gone, rest): (Vec<usize>, Vec<usize>) = asked.iter().partition(|s| skippable(s));
    if gone.is_empty() {
        return Ok(None);
    }
    let mut m2 = m.clone();
    let expect = match op {
        Op::DeletePermanently(_, policy) if rest.is_empty() => Expect::Purged(Vec::new()),
        Op::DeletePermanently(_, policy) => m2.apply(&Op::DeletePermanently(rest.clone(), *policy)),
        _ => m2.apply(op),
    };
    let gone_uids: BTreeSet<String> = gone.iter().map(|s| ids.uids[*s].to_string()).collect();
    let (twice, others): (Vec<_>, Vec<_>) =
        report.purged.iter().cloned().partition(|p| gone_uids.contains(p.artifact.uid.as_str()));
    let reported: BTreeSet<String> = twice.iter().map(|p| p.artifact.uid.to_string()).collect();
    let dry_run = matches!(op, Op::EmptyTrash { dry_run: true, .. });
    if listed.is_some() {
        // Only records another call was deleting may be reported; restored ones never are.
        let deleted_elsewhere: BTreeSet<String> =
            gone.iter().filter(|s| gone_this_round(s)).map(|s| ids.uids[*s].to_string()).collect();
        ensure!(
            reported.is_subset(&deleted_elsewhere),
            "skipped {gone_uids:?} (they left the trash), but reported {reported:?}"
        );
    } else {
        ensure!(dry_run || reported == gone_uids, "deleted again: {gone_uids:?}, but reported {reported:?}");
    }
    let others = PurgeReport { purged: others };
    match &expect {
        Expect::Purged(want) => accept_purge(ids, want, &others, store)?,
        Expect::EmptiedTrash { doomed, purged } => {
            let listed: BTreeSet<String> = listed.expect("listed").iter().map(|a| a.uid.to_string()).collect();
            let want: BTreeSet<String> = doomed.iter().map(|s| ids.uids[*s].to_string()).chain(gone_uids).collect();
            ensure_eq!(listed, want, "empty_trash lists the trash and what another call was deleting");
            accept_purge(ids, purged, &others, store)?;
        }
        other => return Err(format!("deleting the rest: expected {other:?}")),
    }
    *m = m2;
    Ok(Some((
        expect,
        if listed.is_some() {
            "empty_trash: records that left the trash meanwhile skipped (or deleted by both calls)"
        } else {
            "deleted permanently by two calls at once, reported by both"
        },
    )))
}

// ---------------------------------------------------------------------------------------------
// Running

fn run_case<B: Backend>(rounds: &[Round]) {
    let stats = B::concurrent_stats();
    stats.cases.fetch_add(1, Ordering::Relaxed);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let opened = B::open(backends_blocking(), &rt);
    let sources = tempfile::tempdir().expect("a directory for replace sources");
    let writers: Vec<Writer> = (0..WRITERS).map(|n| Writer::start(n, opened.connect.clone())).collect();
    let (trove, store) = (&opened.trove, &opened.store);
    let mut model = Model::new();
    let mut ids = Ids::default();
    // Per key: how many saves ran under it in rounds with another save under it.
    let mut reservations: BTreeMap<String, u32> = BTreeMap::new();
    let mut log: Vec<String> = Vec::new();
    for (r, round) in rounds.iter().enumerate() {
        let (ops, left_out) = resolve(round, &model);
        for race in left_out {
            *stats.left_out.lock().unwrap().entry(race).or_default() += 1;
        }
        let observed = run_round(&writers, &ops, &ids, sources.path(), r);
        log.push(format!("round {r}:"));
        for (i, (op, got)) in ops.iter().zip(&observed).enumerate() {
            log.push(format!("  op {i}: {op:?} -> {}", got.brief()));
        }
        let ctx = |log: &[String]| format!("rounds so far:\n  {}", log.join("\n  "));
        let mut keys = lookup_keys(&model);
        let snap = rt.block_on(async {
            // Keys a round's records may hold that the model did not know before it.
            let first = snapshot(trove, store.as_ref(), &keys).await;
            let before = keys.len();
            keys.extend(first.all.iter().filter_map(|a| a.key.as_ref().map(|k| k.as_str().to_owned())));
            if keys.len() == before { first } else { snapshot(trove, store.as_ref(), &keys).await }
        });
        // Saves racing under one key reserve versions; those they give back out of order stay
        // gaps (see `reserved_versions`).
        for key in ops.iter().filter_map(|o| match o {
            Op::Save(r) => r.key.clone(),
            _ => None,
        }) {
            let racing = ops.iter().filter(|o| matches!(o, Op::Save(r) if r.key.as_ref() == Some(&key))).count();
            if racing > 1 {
                *reservations.entry(key).or_default() += 1;
            }
        }
        let ran = Ran {
            model: &model,
            ids: &ids,
            ops: &ops,
            observed: &observed,
            reservations: &reservations,
            store: store.as_ref(),
        };
        let explained = match explain(&ran, &snap) {
            Ok(e) => e,
            Err(e) => {
                // Say what the system holds, and whether its bytes still match, to tell a
                // wrong answer from lost or crossed bytes.
                let stores: Stores = [(trove.default_storage().id, store.clone())].into_iter().collect();
                let bytes = match rt.block_on(invariants::check_records(&snap.all, &stores)) {
                    Ok(_) => "every record's bytes match it".to_owned(),
                    Err(v) => v.to_string(),
                };
                panic!("round {r}: {e}\nthe catalog after the round:\n  {}\n{bytes}\n{}", describe(&snap), ctx(&log))
            }
        };
        stats.rounds.fetch_add(1, Ordering::Relaxed);
        stats.steps.fetch_add(ops.len(), Ordering::Relaxed);
        if explained.order != (0..ops.len()).collect::<Vec<_>>() {
            stats.reordered.fetch_add(1, Ordering::Relaxed);
        }
        log.push(format!("  explained in the order {:?}", explained.order));
        for (&i, (before, expect, relaxed)) in explained.order.iter().zip(&explained.steps) {
            stats.count(before, &ops[i], expect);
            for why in relaxed {
                *stats.relaxed.lock().unwrap().entry(why).or_default() += 1;
                log.push(format!("  op {i} accepted as a lost race: {why}"));
            }
        }
        (model, ids) = (explained.model, explained.ids);
        match rt.block_on(check_bytes(trove, store, &snap, &model, &ids)) {
            Ok(c) => stats.checked(&c),
            Err(e) => panic!("round {r}: {e}\n{}", ctx(&log)),
        }
    }
    if let Err(e) = rt.block_on(final_checks(trove, store.as_ref(), &model, &ids)) {
        panic!("at the end: {e}\nrounds:\n  {}", log.join("\n  "));
    }
    drop(writers);
    let Opened { trove, guard, .. } = opened;
    rt.block_on(async move { drop(trove) });
    rt.shutdown_timeout(Duration::from_secs(10));
    drop(guard);
}

pub(super) fn run<B: Backend>() {
    if !available::<B>(" concurrent") {
        return;
    }
    let config = config(B::DEFAULT_CONCURRENT_CASES, file!());
    let started = Instant::now();
    let mut runner = TestRunner::new(config.clone());
    let result = runner.run(&rounds(), |rounds| {
        run_case::<B>(&rounds);
        Ok(())
    });
    let name = format!("{} concurrent ({WRITERS} writers)", B::NAME);
    B::concurrent_stats().print(&name, started.elapsed(), config.cases, backends_blocking().describe());
    if let Err(e) = result {
        panic!("state_machine {name}: {e}");
    }
}
