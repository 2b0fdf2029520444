//! Plugin traits: extend Trove from outside the crate, injected through [`crate::TroveBuilder`]
//! (no global registries).
//!
//! * [`Format`]: turn a user's in-memory type into bytes (+ suffix, otype, row count) and back,
//!   used by [`Trove::save_as`] and [`Trove::load_as`];
//! * [`StorageScheme`]: open an object store for a URI scheme of your own
//!   ([`crate::TroveBuilder::scheme`]), consulted before the built-in ones;
//! * [`LifecycleObserver`]: called after each *committed* save, trash, restore, archive and
//!   permanent deletion, of artifacts, collections and labels ([`crate::TroveBuilder::observer`]),
//!   e.g. for an audit log. Never called before the change is committed, never for a change that
//!   failed or changed nothing.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use trove_domain::ports::ObjectStore;
use trove_domain::{Artifact, BranchId, Error, Result, Uid};

use crate::outcome::SaveOutcome;
use crate::save::SaveOptions;
use crate::source::Source;
use crate::{Moved, Trove};

/// What a [`Format`] produces from a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The content.
    pub bytes: Bytes,
    /// Rows (or observations), recorded as the artifact's `n_observations`, if meaningful.
    pub n_observations: Option<u64>,
}

/// A format: how values of type `T` become an artifact's bytes and come back.
///
/// ```
/// use trove::plugin::{Encoded, Format};
///
/// /// Lines of text, one string per line.
/// struct Lines;
///
/// impl Format<Vec<String>> for Lines {
///     fn suffix(&self) -> &str {
///         ".txt"
///     }
///     fn encode(&self, value: &Vec<String>) -> trove::Result<Encoded> {
///         let text: String = value.iter().map(|l| format!("{l}\n")).collect();
///         Ok(Encoded { bytes: text.into(), n_observations: Some(value.len() as u64) })
///     }
///     fn decode(&self, bytes: &[u8]) -> trove::Result<Vec<String>> {
///         let text = std::str::from_utf8(bytes).map_err(|e| trove::Error::invalid_input(e.to_string()))?;
///         Ok(text.lines().map(str::to_owned).collect())
///     }
/// }
///
/// let enc = Lines.encode(&vec!["a".into(), "b".into()]).unwrap();
/// assert_eq!(enc.n_observations, Some(2));
/// assert_eq!(Lines.decode(&enc.bytes).unwrap(), vec!["a".to_owned(), "b".to_owned()]);
/// // With an instance: trove.save_as(&Lines, &lines, SaveOptions::key("notes/todo.txt")).await?
/// ```
pub trait Format<T>: Send + Sync {
    /// The canonical suffix of the bytes (e.g. `".jsonl"`); a key must end with it.
    fn suffix(&self) -> &str;

    /// The artifact's `otype` (e.g. `"DataFrame"`), if any.
    fn otype(&self) -> Option<&str> {
        None
    }

    /// Encode a value.
    fn encode(&self, value: &T) -> Result<Encoded>;

    /// Decode bytes written by [`Format::encode`].
    fn decode(&self, bytes: &[u8]) -> Result<T>;
}

/// Opens object stores for a URI scheme (`myscheme://...`), registered on the builder with
/// [`crate::TroveBuilder::scheme`]. Any `Fn(&str) -> Result<Arc<dyn ObjectStore>>` is one.
///
/// ```
/// use std::sync::Arc;
/// use trove::domain::ports::ObjectStore;
/// use trove::plugin::StorageScheme;
///
/// // `scratch://NAME`: a named in-memory store, as the built-in `memory://` one.
/// let scheme = |root: &str| -> trove::Result<Arc<dyn ObjectStore>> {
///     let name = root.trim_start_matches("scratch://");
///     Ok(Arc::new(trove_storage::OpendalStore::memory_named(name)))
/// };
/// let store = scheme.open("scratch://a").unwrap();
/// assert!(store.root().ends_with("a"));
/// let builder = trove::Trove::builder().scheme("scratch", Arc::new(scheme));
/// # drop(builder);
/// ```
pub trait StorageScheme: Send + Sync {
    /// Open the store for `root` (the full URI, scheme included). The location keeps `root` as
    /// its name in the catalog, whatever the store's own [`ObjectStore::root`] says.
    fn open(&self, root: &str) -> Result<Arc<dyn ObjectStore>>;
}

impl<F> StorageScheme for F
where
    F: Fn(&str) -> Result<Arc<dyn ObjectStore>> + Send + Sync,
{
    fn open(&self, root: &str) -> Result<Arc<dyn ObjectStore>> {
        self(root)
    }
}

/// The record a [`LifecycleEvent`] is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum RecordRef {
    /// An artifact, by uid.
    Artifact(Uid),
    /// A collection, by uid.
    Collection(Uid),
    /// A label, by name.
    Label(String),
}

/// What happened to the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Created or saved: `outcome` is `created`, `new_version` or `restored_from_trash`.
    Saved {
        /// The save outcome's name.
        outcome: String,
    },
    /// Moved between branches (trash, restore, archive).
    Moved {
        /// Where it was.
        from: BranchId,
        /// Where it is now.
        to: BranchId,
    },
    /// Deleted permanently.
    Purged,
}

/// One committed lifecycle change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifecycleEvent {
    /// The record.
    pub record: RecordRef,
    /// What happened.
    pub change: Change,
    /// The user of the session that made the change.
    pub user: String,
    /// When the façade saw the commit.
    pub at: DateTime<Utc>,
}

/// Called after each committed lifecycle change (see the module docs). Observers run in the
/// caller's task, in registration order, so keep them quick; they cannot veto a change, which
/// is already committed.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use trove::plugin::{LifecycleEvent, LifecycleObserver};
///
/// #[derive(Default)]
/// struct AuditLog(Mutex<Vec<String>>);
///
/// impl LifecycleObserver for AuditLog {
///     fn on_transition(&self, event: &LifecycleEvent) {
///         self.0.lock().unwrap().push(format!("{:?} {:?}", event.record, event.change));
///     }
/// }
///
/// let log = Arc::new(AuditLog::default());
/// let builder = trove::Trove::builder().observer(log.clone());
/// # drop(builder);
/// ```
pub trait LifecycleObserver: Send + Sync {
    /// One committed change.
    fn on_transition(&self, event: &LifecycleEvent);
}

/// Registered plugins (held by the builder and the open instance).
#[derive(Clone, Default)]
pub(crate) struct Plugins {
    schemes: Vec<(String, Arc<dyn StorageScheme>)>,
    observers: Vec<Arc<dyn LifecycleObserver>>,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugins")
            .field("schemes", &self.schemes.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>())
            .field("observers", &self.observers.len())
            .finish()
    }
}

impl Plugins {
    pub(crate) fn add_scheme(&mut self, scheme: String, factory: Arc<dyn StorageScheme>) {
        self.schemes.retain(|(s, _)| *s != scheme);
        self.schemes.push((scheme, factory));
    }

    pub(crate) fn add_observer(&mut self, observer: Arc<dyn LifecycleObserver>) {
        self.observers.push(observer);
    }

    /// Whether `scheme` (`mem` for `mem://...`) is registered.
    pub(crate) fn has_scheme(&self, scheme: &str) -> bool {
        self.schemes.iter().any(|(s, _)| s == scheme)
    }

    /// The registered schemes' names.
    pub(crate) fn scheme_names(&self) -> impl Iterator<Item = &str> {
        self.schemes.iter().map(|(s, _)| s.as_str())
    }

    /// Open `uri` with the factory registered for `scheme` (see [`crate::wiring::resolve`]).
    pub(crate) fn open(&self, scheme: &str, uri: &str) -> Result<Arc<dyn ObjectStore>> {
        match self.schemes.iter().find(|(s, _)| s == scheme) {
            Some((_, factory)) => factory.open(uri),
            None => Err(Error::invalid_input(format!(
                "no storage scheme '{scheme}' is registered for {}",
                trove_domain::secret::redact_url(uri)
            ))),
        }
    }

    pub(crate) fn notify(&self, events: &[LifecycleEvent]) {
        for o in &self.observers {
            for e in events {
                o.on_transition(e);
            }
        }
    }
}

impl Trove {
    /// Tell the observers about committed changes.
    pub(crate) fn notify(&self, events: Vec<(RecordRef, Change)>) {
        if events.is_empty() {
            return;
        }
        let at = self.clock().now();
        let user = self.user().to_owned();
        let events: Vec<LifecycleEvent> = events
            .into_iter()
            .map(|(record, change)| LifecycleEvent { record, change, user: user.clone(), at })
            .collect();
        self.plugins().notify(&events);
    }

    pub(crate) fn notify_saved(&self, outcome: &SaveOutcome) {
        if !matches!(outcome, SaveOutcome::Existing { .. }) {
            let record = RecordRef::Artifact(outcome.artifact().uid.clone());
            self.notify(vec![(record, Change::Saved { outcome: outcome.name().to_owned() })]);
        }
    }

    pub(crate) fn notify_moved(&self, moved: &[Moved]) {
        self.notify(
            moved
                .iter()
                .filter_map(|m| match m.transition {
                    trove_domain::Transition::Move { from, to } => {
                        Some((RecordRef::Artifact(m.artifact.uid.clone()), Change::Moved { from, to }))
                    }
                    _ => None,
                })
                .collect(),
        );
    }

    pub(crate) fn notify_purged(&self, uids: &[Uid]) {
        self.notify(uids.iter().map(|u| (RecordRef::Artifact(u.clone()), Change::Purged)).collect());
    }

    /// Save a value in a [`Format`]: its bytes, suffix, `otype` and `n_observations` (see
    /// [`Trove::save`] for keys, versions and de-duplication).
    pub async fn save_as<T, F: Format<T>>(&self, format: &F, value: &T, opts: SaveOptions) -> Result<SaveOutcome> {
        let encoded = format.encode(value)?;
        let opts =
            SaveOptions { otype: format.otype().map(str::to_owned), n_observations: encoded.n_observations, ..opts };
        let source = Source::Bytes { data: encoded.bytes, suffix: Some(format.suffix().to_owned()) };
        self.save(source, opts).await
    }

    /// Load an artifact's content as a value of a [`Format`]. The artifact's suffix must be the
    /// format's.
    pub async fn load_as<T, F: Format<T>>(&self, format: &F, artifact: &Artifact) -> Result<T> {
        if artifact.suffix != format.suffix() {
            return Err(Error::invalid_input(format!(
                "{} has suffix '{}', not the format's '{}': load it with a format for '{}', or with `load_bytes`",
                artifact.label(),
                artifact.suffix,
                format.suffix(),
                artifact.suffix
            )));
        }
        let bytes = self.load_bytes(artifact).await?;
        format.decode(&bytes)
    }
}
