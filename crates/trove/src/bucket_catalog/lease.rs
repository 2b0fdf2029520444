//! The write lease of an instance in a bucket: the object `<root>/.trove/lease`.
//!
//! Taken with a conditional create (S3 `If-None-Match: *`, GCS `ifGenerationMatch=0`), so
//! exactly one writer holds it; it names its holder (user, host, process) and an expiry, is
//! renewed (a conditional replace of the version this writer wrote) while a command runs, and
//! is deleted at the end. A lease past its expiry is taken over with a conditional replace of
//! the version that was read, so two writers that find the same dead lease cannot both win.
//!
//! The lease keeps writers from wasting work on each other; what makes lost updates impossible
//! is the catalog upload's own precondition (see the module above). Expiry uses the machines'
//! wall clocks: a clock far ahead could take over a live lease early, which that precondition
//! still turns into a clean failure, never a lost update.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trove_domain::ports::{ObjectStore, PutIf, WriteCondition};
use trove_domain::{Error, ErrorKind, Result};

use super::LEASE_KEY;

/// How a writer takes the lease: with conditional writes (the default), or, in single-writer
/// mode on a server that ignores them, with a plain write after looking (advisory only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    Conditional,
    Advisory,
}

/// Who holds a lease, and until when. Stored as JSON in `.trove/lease`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// `user@host pid N`: whom to ask.
    pub holder: String,
    /// The user (`$TROVE_USER`, `$USER`).
    pub user: String,
    /// The host name.
    pub host: String,
    /// The process id on that host.
    pub pid: u32,
    /// A random token telling this lease from every other.
    pub token: String,
    /// When it was taken.
    pub acquired_at: DateTime<Utc>,
    /// When it lapses unless renewed; after that, the next writer may take it over.
    pub expires_at: DateTime<Utc>,
    /// The catalog version (ETag or generation) in the bucket when it was taken, if any.
    pub catalog_version: Option<String>,
}

impl LeaseInfo {
    /// Whether the lease has lapsed at `now`.
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    /// One line for messages: holder, since when, until when.
    pub fn describe(&self) -> String {
        format!(
            "held by {} since {} (expires {})",
            self.holder,
            self.acquired_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.expires_at.format("%H:%M:%S UTC")
        )
    }
}

/// Told once per wait that a writer is waiting for another's lease (the CLI says so).
pub type LeaseWaitHook = Arc<dyn Fn(&LeaseInfo, Duration) + Send + Sync>;

/// How long a lease lasts and how long a writer waits for one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeaseSettings {
    pub(crate) ttl: Duration,
    pub(crate) wait: Duration,
}

/// `TROVE_LEASE_TTL` (seconds a lease lasts unless renewed; default 60).
pub const LEASE_TTL_ENV: &str = "TROVE_LEASE_TTL";
/// `TROVE_LEASE_WAIT` (seconds a writer waits for another's lease; default 30).
pub const LEASE_WAIT_ENV: &str = "TROVE_LEASE_WAIT";

impl LeaseSettings {
    /// From the environment, else 60 s and 30 s.
    pub(crate) fn from_env() -> Result<LeaseSettings> {
        let secs = |name: &str, default: f64| -> Result<Duration> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| Error::invalid_input(format!("{name}={v:?} is not a number of seconds, e.g. 60"))),
                _ => Ok(Duration::from_secs_f64(default)),
            }
        };
        let ttl = secs(LEASE_TTL_ENV, 60.0)?.max(Duration::from_secs(1));
        Ok(LeaseSettings { ttl, wait: secs(LEASE_WAIT_ENV, 30.0)? })
    }
}

/// This machine's name: the kernel's (Linux), else `/etc/hostname`, else `$HOSTNAME`.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|f| std::fs::read_to_string(f).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

fn new_info(user: &str, ttl: Duration, catalog_version: Option<String>) -> LeaseInfo {
    let host = host_name();
    let pid = std::process::id();
    let now = Utc::now();
    LeaseInfo {
        holder: format!("{user}@{host} pid {pid}"),
        user: user.to_owned(),
        host,
        pid,
        token: trove_domain::ids::random_base62(16),
        acquired_at: now,
        expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60)),
        catalog_version,
    }
}

fn body(info: &LeaseInfo) -> Bytes {
    Bytes::from(serde_json::to_vec_pretty(info).expect("lease serialises"))
}

/// The lease in the bucket now, with its version; `None` if nobody holds one. A lease object
/// that cannot be read as one counts as expired (whoever wrote it is no Trove writer).
pub(crate) async fn current(store: &dyn ObjectStore) -> Result<Option<(LeaseInfo, String)>> {
    Ok(store.read_versioned(LEASE_KEY).await?.map(|(bytes, version)| {
        let info = serde_json::from_slice(&bytes).unwrap_or_else(|_| LeaseInfo {
            holder: "an unreadable lease object".into(),
            user: String::new(),
            host: String::new(),
            pid: 0,
            token: String::new(),
            acquired_at: DateTime::<Utc>::MIN_UTC,
            expires_at: DateTime::<Utc>::MIN_UTC,
            catalog_version: None,
        });
        (info, version)
    }))
}

/// A held lease: renewed in the background until [`Held::release`] (or drop).
pub(crate) struct Held {
    store: Arc<dyn ObjectStore>,
    info: LeaseInfo,
    lost: Arc<AtomicBool>,
    renewal: Option<tokio::task::JoinHandle<()>>,
    released: bool,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").field("info", &self.info).finish()
    }
}

/// Take the lease, waiting up to `settings.wait` for a live one to go.
pub(crate) async fn acquire(
    store: &Arc<dyn ObjectStore>,
    settings: LeaseSettings,
    claim: Claim,
    user: &str,
    catalog_version: Option<String>,
    on_wait: Option<&LeaseWaitHook>,
) -> Result<Held> {
    let started = tokio::time::Instant::now();
    let deadline = started + settings.wait;
    let mut told = false;
    let mut pause = Duration::from_millis(50);
    let mut last_seen: Option<LeaseInfo> = None;
    loop {
        let info = new_info(user, settings.ttl, catalog_version.clone());
        let created = match claim {
            Claim::Conditional => store.put_if(LEASE_KEY, body(&info), &WriteCondition::Absent).await?,
            Claim::Advisory => match current(store.as_ref()).await? {
                Some((held, _)) if !held.expired_at(Utc::now()) => PutIf::PreconditionFailed,
                _ => store.put_if(LEASE_KEY, body(&info), &WriteCondition::Always).await?,
            },
        };
        if let PutIf::Written { version } = created {
            return Ok(Held::start(store.clone(), info, version, settings, claim));
        }
        match current(store.as_ref()).await? {
            // Released meanwhile: try again at once.
            None => continue,
            Some((held, version)) if held.expired_at(Utc::now()) => {
                let taken = match claim {
                    Claim::Conditional => {
                        store.put_if(LEASE_KEY, body(&info), &WriteCondition::Version(version)).await?
                    }
                    Claim::Advisory => store.put_if(LEASE_KEY, body(&info), &WriteCondition::Always).await?,
                };
                if let PutIf::Written { version } = taken {
                    return Ok(Held::start(store.clone(), info, version, settings, claim));
                }
            }
            Some((held, _)) => {
                // Said once, and only when the wait is noticeable (not for a unit of work's turn).
                if !told
                    && started.elapsed() >= Duration::from_secs(1)
                    && let Some(hook) = on_wait
                {
                    told = true;
                    hook(&held, settings.wait);
                }
                last_seen = Some(held);
            }
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let who = last_seen.map(|h| h.describe()).unwrap_or_else(|| "held by another writer".into());
            return Err(Error::new(
                ErrorKind::Locked,
                format!(
                    "the instance at {} is being written: its lease is {who}; waited {:.0} s. Try again \
                     later; if that process is gone, its lease lapses by itself at its expiry, or break it \
                     now with `trove instance unlock`",
                    store.root(),
                    settings.wait.as_secs_f64()
                ),
            ));
        }
        let jitter = Duration::from_millis(u64::from(rand::random::<u8>()) % 50);
        tokio::time::sleep((pause + jitter).min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

impl Held {
    fn start(
        store: Arc<dyn ObjectStore>,
        info: LeaseInfo,
        version: String,
        settings: LeaseSettings,
        claim: Claim,
    ) -> Held {
        let lost = Arc::new(AtomicBool::new(false));
        let renewal = tokio::spawn(renew(store.clone(), info.clone(), version, settings.ttl, claim, lost.clone()));
        Held { store, info, lost, renewal: Some(renewal), released: false }
    }

    /// Whether someone broke or took over this lease while it was held.
    pub(crate) fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stop renewing and delete the lease (unless it was lost to someone else).
    pub(crate) async fn release(mut self) -> Result<()> {
        self.released = true;
        if let Some(task) = self.renewal.take() {
            task.abort();
            let _ = task.await;
        }
        if self.lost() {
            return Ok(());
        }
        // A plain delete: only a lapsed lease can have been taken over, and a renewal would
        // have noticed; the catalog's own precondition guards the rest.
        self.store.delete(LEASE_KEY).await.map(|_| ())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Some(task) = self.renewal.take() {
            task.abort();
        }
        // Dropped on an error path or a cancelled future: release in the background if a
        // runtime is still there; otherwise the lease lapses at its expiry.
        if !self.lost()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let store = self.store.clone();
            let token = self.info.token.clone();
            handle.spawn(async move {
                if let Ok(Some((held, _))) = current(store.as_ref()).await
                    && held.token == token
                {
                    let _ = store.delete(LEASE_KEY).await;
                }
            });
        }
    }
}

/// Renew every third of the lease's life, each time a conditional replace of the version last
/// written; a refused renewal means the lease was broken: stop, and say so through `lost`.
async fn renew(
    store: Arc<dyn ObjectStore>,
    mut info: LeaseInfo,
    mut version: String,
    ttl: Duration,
    claim: Claim,
    lost: Arc<AtomicBool>,
) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        info.expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60));
        let condition = match claim {
            Claim::Conditional => WriteCondition::Version(version.clone()),
            Claim::Advisory => WriteCondition::Always,
        };
        match store.put_if(LEASE_KEY, body(&info), &condition).await {
            Ok(PutIf::Written { version: v }) => version = v,
            Ok(PutIf::PreconditionFailed) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // A failed request: try again at the next tick (the lease lasts three of them).
            Err(_) => {}
        }
    }
}

/// Break the lease `seen` (as shown to the user): deleted only if it is still that lease.
/// Returns whether it was deleted.
pub(crate) async fn break_lease(store: &dyn ObjectStore, seen: &LeaseInfo) -> Result<bool> {
    match current(store).await? {
        Some((held, _)) if held.token == seen.token => store.delete(LEASE_KEY).await,
        _ => Ok(false),
    }
}
