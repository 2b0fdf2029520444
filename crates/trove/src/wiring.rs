//! The one edge where locations (paths, `sqlite:`/`postgresql:` URLs, `s3://`/`gs://` roots,
//! plugin schemes) become concrete backends. Nothing else in the façade names a backend crate,
//! and nothing else reads a scheme: every location string goes through [`resolve`] (or
//! [`resolve_root`] for a storage root), and every store is opened by [`open`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use trove_domain::ids::random_base62;
use trove_domain::key::MANAGED_DIR;
use trove_domain::ports::{Catalog, Clock, ObjectStore};
use trove_domain::secret::redact_url;
use trove_domain::{Error, ErrorKind, InstanceInit, NewStorage, Result, StorageLocation};

use crate::bucket_catalog::{self, BucketCatalog, LocalCatalog, LocalCatalogs, WriterMode};
use crate::cache::CacheSettings;
use crate::plugin::Plugins;
use crate::{EMBEDDED_DB, InitOptions, STORAGE_MARKER, StorageMarker, normalize_root};

/// Connect to a catalog by URL: `sqlite://PATH` (created if missing) or `postgresql://...`.
/// Migrations run on connect.
pub async fn connect_catalog(url: &str) -> Result<Arc<dyn Catalog>> {
    tracing::debug!(url = %trove_domain::secret::redact_url(url), "connecting to the catalog");
    Ok(Arc::new(trove_persistence::SeaCatalog::connect(url).await?))
}

/// The SQLite files of instances in buckets, opened with the persistence crate.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SqliteFiles;

#[async_trait::async_trait]
impl LocalCatalogs for SqliteFiles {
    async fn open(&self, path: &Path, create: bool) -> Result<Arc<dyn LocalCatalog>> {
        Ok(Arc::new(trove_persistence::SeaCatalog::connect(&sqlite_url(path, create)).await?))
    }
}

#[async_trait::async_trait]
impl LocalCatalog for trove_persistence::SeaCatalog {
    async fn find_user(&self, handle: &str) -> Result<Option<trove_domain::User>> {
        self.user(handle).await
    }

    async fn close(self: Arc<Self>) -> Result<()> {
        match Arc::try_unwrap(self) {
            Ok(catalog) => trove_persistence::SeaCatalog::close(catalog).await,
            Err(_) => Err(Error::new(
                ErrorKind::Catalog,
                "a working copy of the catalog is still in use and cannot be closed; this is a bug in Trove",
            )),
        }
    }
}

/// Open the object store for a storage root: a local path (absolute, or `file:///path`),
/// `s3://bucket/prefix` or `gs://bucket/prefix` (configured from the standard environment
/// variables). Plugin schemes are opened by the instance they are registered with.
pub async fn open_store(root: &str) -> Result<Arc<dyn ObjectStore>> {
    open(&resolve_root(root, &Plugins::default())?, &Plugins::default(), None).await
}

/// What a location string names, as [`resolve`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A local path as given, `file://` taken off: relative or absolute, not normalised (a
    /// save reads what the user named); [`resolve_root`] makes it absolute and normal.
    Local(PathBuf),
    /// `s3://bucket/prefix...`, without trailing slashes.
    S3(String),
    /// `gs://bucket/prefix...`, without trailing slashes.
    Gcs(String),
    /// `memory://name...` (tests), without trailing slashes.
    Memory(String),
    /// A URI of a scheme registered with [`crate::TroveBuilder::scheme`], without trailing
    /// slashes: the plugin registered for `scheme` opens it.
    Plugin {
        /// The scheme's name (`mem` for `mem://...`).
        scheme: String,
        /// The whole URI.
        uri: String,
    },
    /// A catalog URL: `sqlite:...`, `postgres://...`, `postgresql://...`.
    Catalog(String),
}

impl Location {
    /// The location as one string: a local path as it is held, a URI as canonicalised. For a
    /// root from [`resolve_root`], exactly what the catalog records as the root.
    pub(crate) fn as_string(&self) -> String {
        match self {
            Location::Local(p) => p.to_string_lossy().into_owned(),
            Location::S3(u)
            | Location::Gcs(u)
            | Location::Memory(u)
            | Location::Plugin { uri: u, .. }
            | Location::Catalog(u) => u.clone(),
        }
    }

    /// The URI of a location in an object store (not local, not a catalog).
    pub(crate) fn object_uri(&self) -> Option<&str> {
        match self {
            Location::S3(u) | Location::Gcs(u) | Location::Memory(u) | Location::Plugin { uri: u, .. } => Some(u),
            Location::Local(_) | Location::Catalog(_) => None,
        }
    }
}

/// The scheme of `s` if it is a URI (`scheme://...`, with a scheme as RFC 3986 spells one),
/// and the rest after `://`.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then_some((scheme, rest))
}

/// Read a location string: a local path, a URI of a built-in scheme or of one `plugins` knows
/// (registered schemes come first, so a plugin may take over a built-in one), or a catalog
/// URL. URIs lose their trailing slashes; `file://` is taken off a path. A URI of any other
/// scheme is an `invalid_input` error naming the schemes this instance knows.
pub(crate) fn resolve(s: &str, plugins: &Plugins) -> Result<Location> {
    let Some((scheme, rest)) = split_scheme(s) else {
        return Ok(if s.starts_with("sqlite:") { Location::Catalog(s.to_owned()) } else { Location::Local(s.into()) });
    };
    let uri = || format!("{scheme}://{}", rest.trim_end_matches('/'));
    Ok(match scheme {
        _ if plugins.has_scheme(scheme) => Location::Plugin { scheme: scheme.to_owned(), uri: uri() },
        "file" => Location::Local(rest.into()),
        "s3" => Location::S3(uri()),
        "gs" => Location::Gcs(uri()),
        "memory" => Location::Memory(uri()),
        "sqlite" | "postgres" | "postgresql" => Location::Catalog(s.to_owned()),
        _ => {
            let plugged: String = plugins.scheme_names().map(|n| format!(", {n}://...")).collect();
            return Err(Error::invalid_input(format!(
                "'{}' has a scheme Trove does not know here ('{scheme}'): give a local path, file:///path, \
                 s3://bucket/prefix, gs://bucket/prefix{plugged}, or a catalog URL (sqlite://PATH, \
                 postgresql://USER@HOST/DB)",
                redact_url(s)
            )));
        }
    })
}

/// Read a storage root: [`resolve`], then a local root made absolute and normal (`.` and `..`
/// resolved lexically, no trailing slash). A catalog URL is no root, and neither is anything
/// inside a `.trove` folder (another root's managed area).
pub(crate) fn resolve_root(s: &str, plugins: &Plugins) -> Result<Location> {
    let location = match resolve(s, plugins)? {
        Location::Local(p) => Location::Local(normalize_root(&p)?),
        Location::Catalog(url) => {
            return Err(Error::invalid_input(format!(
                "{} is a catalog URL, not a storage root: give a folder, s3://bucket/prefix or gs://bucket/prefix",
                redact_url(&url)
            )));
        }
        other => other,
    };
    let inside_managed = match &location {
        Location::Local(p) => p.components().any(|c| c.as_os_str() == MANAGED_DIR),
        other => other.object_uri().is_some_and(|u| u.split('/').any(|seg| seg == MANAGED_DIR)),
    };
    if inside_managed {
        return Err(Error::invalid_input(format!(
            "{} is inside a '{MANAGED_DIR}' folder, Trove's managed area of another root; choose a folder outside it",
            location.as_string()
        )));
    }
    Ok(location)
}

/// Open the store of a resolved root. A registered location's recorded settings (`recorded`:
/// S3 endpoint and region, GCS emulator host) apply where the environment names none.
pub(crate) async fn open(
    location: &Location,
    plugins: &Plugins,
    recorded: Option<&StorageLocation>,
) -> Result<Arc<dyn ObjectStore>> {
    let setting =
        |name: &str| recorded.and_then(|loc| loc.settings.get(name)).and_then(|v| v.as_str()).map(str::to_owned);
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match location {
        Location::Plugin { scheme, uri } => plugins.open(scheme, uri),
        Location::S3(uri) if recorded.is_some() => {
            let rest = &uri["s3://".len()..];
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let mut cfg = trove_storage::S3Config::from_env(bucket, prefix)?;
            if cfg.endpoint.is_none() {
                cfg.endpoint = setting("endpoint");
            }
            if env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).is_none()
                && let Some(r) = recorded.and_then(|loc| loc.region.clone())
            {
                cfg.region = r;
            }
            Ok(Arc::new(trove_storage::OpendalStore::s3(cfg)?))
        }
        Location::Gcs(uri)
            if env("STORAGE_EMULATOR_HOST").is_none()
                && env("GOOGLE_APPLICATION_CREDENTIALS").is_none()
                && setting("emulator_host").is_some() =>
        {
            let host = setting("emulator_host");
            let rest = &uri["gs://".len()..];
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let cfg = trove_storage::GcsConfig::from_vars(bucket, prefix, |name| {
                (name == "STORAGE_EMULATOR_HOST").then(|| host.clone()).flatten()
            });
            Ok(Arc::new(trove_storage::OpendalStore::gcs(cfg)?))
        }
        Location::Catalog(url) => {
            Err(Error::invalid_input(format!("{} is a catalog URL, not a storage root", redact_url(url))))
        }
        other => trove_storage::open_root(&other.as_string()),
    }
}

/// The region recorded with a new S3 location (`AWS_REGION`/`AWS_DEFAULT_REGION`).
pub(crate) fn region_of(root: Option<&Location>) -> Option<String> {
    if !matches!(root, Some(Location::S3(_))) {
        return None;
    }
    ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().find_map(|v| std::env::var(v).ok().filter(|r| !r.is_empty()))
}

/// Non-secret settings recorded with a new cloud location, so it reopens against the same
/// server: the S3 endpoint (`AWS_ENDPOINT_URL`) or GCS emulator host (`STORAGE_EMULATOR_HOST`).
/// Never credentials: those always come from the environment, so an endpoint that carries
/// some (`http://user:pw@host`) is not recorded.
pub(crate) fn location_settings(root: Option<&Location>) -> serde_json::Value {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty() && redact_url(v) == *v);
    let mut m = serde_json::Map::new();
    let recorded = match root {
        Some(Location::S3(_)) => var("AWS_ENDPOINT_URL").map(|e| ("endpoint", e)),
        Some(Location::Gcs(_)) => var("STORAGE_EMULATOR_HOST").map(|e| ("emulator_host", e)),
        _ => None,
    };
    if let Some((name, value)) = recorded {
        m.insert(name.into(), value.into());
    }
    serde_json::Value::Object(m)
}

/// Open a registered location's store: by its plugin, or configured from the environment,
/// with the location's recorded endpoint (and region) used where the environment names none.
pub(crate) async fn open_location(loc: &StorageLocation, plugins: &Plugins) -> Result<Arc<dyn ObjectStore>> {
    open(&resolve(&loc.root, plugins)?, plugins, Some(loc)).await
}

/// The embedded catalog file of a local root.
pub(crate) fn embedded_db_path(root: &Path) -> PathBuf {
    root.join(MANAGED_DIR).join(EMBEDDED_DB)
}

fn sqlite_url(path: &Path, create: bool) -> String {
    format!("sqlite://{}?mode={}", path.display(), if create { "rwc" } else { "rw" })
}

/// The catalog of an instance location: a catalog URL, a root folder's embedded file (which
/// must exist), or the SQLite catalog in a bucket root (`s3://...`, `gs://...`). Also returns
/// the store opened for a bucket root, for the instance to reuse.
pub(crate) async fn open_catalog(
    location: &str,
    plugins: &Plugins,
    cache: &CacheSettings,
    user: &str,
    injected: &[Arc<dyn ObjectStore>],
    on_wait: Option<&bucket_catalog::LeaseWaitHook>,
) -> Result<(Arc<dyn Catalog>, Option<Arc<dyn ObjectStore>>)> {
    if location.is_empty() {
        return Err(Error::new(
            ErrorKind::Instance,
            "no instance given: pass --instance DIR, set TROVE_INSTANCE, or create one with `trove init --storage DIR`",
        ));
    }
    let root = match resolve(location, plugins)? {
        Location::Catalog(url) => return Ok((connect_catalog(&url).await?, None)),
        Location::Local(p) => normalize_root(&p)?,
        bucket @ (Location::S3(_) | Location::Gcs(_)) => {
            let root = resolve_root(&bucket.as_string(), plugins)?;
            let store = match injected.iter().find(|s| s.root() == root.as_string()) {
                Some(s) => s.clone(),
                None => open(&root, plugins, None).await?,
            };
            let catalog = BucketCatalog::new(
                store.clone(),
                Arc::new(SqliteFiles),
                &cache.root()?,
                user.to_owned(),
                on_wait.cloned(),
            )?;
            // Nothing is read yet: the first read (the instance) says if there is none.
            return Ok((Arc::new(catalog), Some(store)));
        }
        other => {
            return Err(Error::invalid_input(format!(
                "unsupported instance URL '{}': it is a storage root, which holds no catalog; give a root folder, \
                 s3://bucket/prefix or gs://bucket/prefix of an instance in a bucket, sqlite://PATH or \
                 postgresql://USER@HOST/DB",
                redact_url(&other.as_string())
            )));
        }
    };
    let db = embedded_db_path(&root);
    if !db.is_file() {
        return Err(Error::new(
            ErrorKind::Instance,
            format!(
                "no Trove instance at {}: create one with `trove init --storage {}`",
                root.display(),
                root.display()
            ),
        ));
    }
    Ok((connect_catalog(&sqlite_url(&db, false)).await?, None))
}

/// What [`init`] created or attached to, for the builder to open.
pub(crate) struct Initialized {
    pub(crate) catalog: Arc<dyn Catalog>,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) location: String,
    pub(crate) user: Option<String>,
}

/// Create (or, for a shared catalog that already holds this root, attach to) an instance.
/// An injected catalog or store replaces the one `opts` would name.
pub(crate) async fn init(
    opts: InitOptions,
    injected_catalog: Option<Arc<dyn Catalog>>,
    injected_store: Option<Arc<dyn ObjectStore>>,
    plugins: &Plugins,
    clock: &dyn Clock,
    cache: &CacheSettings,
    on_wait: Option<&bucket_catalog::LeaseWaitHook>,
) -> Result<Initialized> {
    let env = Env { clock, cache, on_wait };
    if let Some(s) = &injected_store {
        // The store's own root, whatever its scheme: no settings are recorded for one Trove cannot read.
        let kind = resolve(s.root(), plugins).ok();
        return init_resolved(opts, s.root().to_owned(), kind.as_ref(), None, s.clone(), injected_catalog, env).await;
    }
    let root = resolve_root(&opts.storage, plugins)?;
    // What this init creates: its managed folder, and the outermost folder that was missing.
    let mut created: Option<(PathBuf, PathBuf)> = None;
    let local_root = match &root {
        Location::Local(p) => {
            created = outermost_missing(&p.join(MANAGED_DIR)).map(|outer| (p.join(MANAGED_DIR), outer));
            std::fs::create_dir_all(p.join(MANAGED_DIR))
                .map_err(|e| Error::io(format!("cannot create {}", p.display()), e))?;
            Some(p.clone())
        }
        _ => None,
    };
    let result = match open(&root, plugins, None).await {
        Ok(store) => init_resolved(opts, root.as_string(), Some(&root), local_root, store, injected_catalog, env).await,
        Err(e) => Err(e),
    };
    // A failed init (a catalog that cannot be reached, a refused password...) leaves no trace:
    // the folders it created go, innermost first, while empty. Never recursively: a concurrent
    // init of the same new folder may have put its instance there, which must stay.
    if result.is_err()
        && let Some((managed, outermost)) = created
    {
        for dir in managed.ancestors().take_while(|d| d.starts_with(&outermost)) {
            if std::fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
    result
}

/// The outermost folder on the way to `path` that does not exist yet: what creating `path`
/// adds, and what a failed init removes if still empty.
fn outermost_missing(path: &Path) -> Option<PathBuf> {
    let mut missing = None;
    for dir in path.ancestors() {
        if dir.symlink_metadata().is_ok() {
            break;
        }
        missing = Some(dir.to_path_buf());
    }
    missing
}

/// What `init` needs besides the options: the clock, and the cache folder (working copies of a
/// catalog in a bucket).
#[derive(Clone, Copy)]
pub(crate) struct Env<'a> {
    clock: &'a dyn Clock,
    cache: &'a CacheSettings,
    on_wait: Option<&'a bucket_catalog::LeaseWaitHook>,
}

async fn init_resolved(
    opts: InitOptions,
    root: String,
    kind: Option<&Location>,
    local_root: Option<PathBuf>,
    store: Arc<dyn ObjectStore>,
    injected_catalog: Option<Arc<dyn Catalog>>,
    env: Env<'_>,
) -> Result<Initialized> {
    let clock = env.clock;
    let marker_key = format!("{MANAGED_DIR}/{STORAGE_MARKER}");
    let existing_marker: Option<StorageMarker> = match store.stat(&marker_key).await? {
        Some(_) => serde_json::from_slice(&store.read_all(&marker_key).await?).ok(),
        None => None,
    };
    let in_bucket = opts.db.is_none()
        && injected_catalog.is_none()
        && local_root.is_none()
        && matches!(kind, Some(Location::S3(_) | Location::Gcs(_)));
    let db_url = match (&opts.db, &local_root) {
        _ if injected_catalog.is_some() => opts.db.clone().unwrap_or_else(|| "injected".into()),
        (Some(url), _) => url.clone(),
        (None, Some(p)) => sqlite_url(&embedded_db_path(p), true),
        (None, None) if in_bucket => format!("{root}/{}", bucket_catalog::CATALOG_KEY),
        (None, None) => {
            return Err(Error::invalid_input(format!(
                "{root} cannot hold the embedded SQLite catalog (only a local folder, an s3:// or a gs:// root \
                 can): pass --db postgresql://..."
            )));
        }
    };
    let shared = opts.db.is_some() || injected_catalog.is_some();
    let catalog = match injected_catalog {
        Some(c) => c,
        None if in_bucket => {
            if let Some(m) = &existing_marker {
                return Err(Error::new(
                    ErrorKind::Instance,
                    format!(
                        "{root} is already managed by Trove instance {}: open it with `--instance {root}`, or choose \
                         another folder",
                        m.instance_uid
                    ),
                ));
            }
            let mode = bucket_mode(store.as_ref(), &root, opts.single_writer).await?;
            let user = opts.user.clone().unwrap_or_else(crate::default_user);
            let catalog = BucketCatalog::new(
                store.clone(),
                Arc::new(SqliteFiles),
                &env.cache.root()?,
                user,
                env.on_wait.cloned(),
            )?;
            Arc::new(catalog.create(mode).await?)
        }
        None => connect_catalog(&db_url).await?,
    };
    let location = if opts.db.is_some() { db_url.clone() } else { root.clone() };
    let existing = if in_bucket { None } else { catalog.instance().await? };
    if let Some(instance) = existing {
        // A shared catalog (given with --db): attach if it already manages this root.
        if shared && catalog.storages().await?.iter().any(|s| s.root == root) {
            return Ok(Initialized { catalog, store, location, user: opts.user });
        }
        if !shared {
            return Err(Error::new(
                ErrorKind::Instance,
                format!(
                    "{root} already holds Trove instance '{}' ({}): open it with `--instance {root}`, or choose another folder",
                    instance.name, instance.uid
                ),
            ));
        }
        let shown = redact_url(&location);
        // A redacted URL is no command to copy: name the flag instead.
        let open_it =
            if shown == location { format!("`--instance {location}`") } else { "`--instance` and this URL".to_owned() };
        return Err(Error::new(
            ErrorKind::Instance,
            format!(
                "the catalog at {shown} already holds instance '{}' ({}), which does not use {root}: open it with \
                 {open_it}, or register the root with `trove storage add`",
                instance.name, instance.uid,
            ),
        ));
    }
    if let Some(m) = existing_marker {
        return Err(Error::new(
            ErrorKind::Instance,
            format!(
                "{root} is already managed by Trove instance {}: open it with `--instance {root}`, or choose another folder",
                m.instance_uid
            ),
        ));
    }
    let instance_uid = random_base62(12);
    let storage_uid = random_base62(12);
    let name = opts.name.clone().unwrap_or_else(|| {
        root.trim_end_matches('/').rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or("trove").to_owned()
    });
    let now = clock.now();
    let init = InstanceInit {
        uid: instance_uid.clone(),
        name,
        keys_virtual: opts.keys_virtual,
        storage: NewStorage {
            uid: storage_uid.clone(),
            root: root.clone(),
            region: region_of(kind),
            instance_uid: instance_uid.clone(),
            settings: location_settings(kind),
            created_at: now,
        },
        user_handle: opts.user.clone().unwrap_or_else(crate::default_user),
        created_at: now,
    };
    catalog.init_instance(&init).await?;
    let marker = StorageMarker { storage_uid, instance_uid, catalog: Some(redact_url(&db_url)) };
    store.put(&marker_key, Bytes::from(serde_json::to_vec_pretty(&marker).expect("marker serialises"))).await?;
    Ok(Initialized { catalog, store, location, user: opts.user })
}

/// How the writers of a new instance in the bucket at `root` will coordinate: by conditional
/// writes where the server honours them (tried on the server itself), else in single-writer
/// mode if the user asked for it, else refused, naming what is missing and the choice.
async fn bucket_mode(store: &dyn ObjectStore, root: &str, single_writer: bool) -> Result<WriterMode> {
    let support = bucket_catalog::probe(store).await?;
    if support.full() {
        return Ok(WriterMode::Conditional);
    }
    if single_writer {
        return Ok(WriterMode::SingleWriter);
    }
    let mut missing = Vec::new();
    if !support.create_if_absent {
        missing.push("create-if-absent (S3 If-None-Match: *, GCS ifGenerationMatch=0)");
    }
    if !support.replace_if_version {
        missing.push("replace-if-unchanged (S3 If-Match, GCS ifGenerationMatch)");
    }
    Err(Error::new(
        ErrorKind::Unsupported,
        format!(
            "the server of {root} does not honour the conditional writes that keep two writers from overwriting \
             each other's catalog changes (missing: {}): use a server that supports them (AWS S3, GCS, MinIO, \
             Cloudflare R2...), keep the catalog in PostgreSQL (--db postgresql://...), or, if only one machine \
             will ever write to this instance, pass --single-writer",
            missing.join("; ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugins() -> Plugins {
        let mut p = Plugins::default();
        let refuse = |root: &str| -> Result<Arc<dyn ObjectStore>> { Err(Error::invalid_input(root.to_owned())) };
        p.add_scheme("mem".into(), Arc::new(refuse));
        p.add_scheme("s3".into(), Arc::new(refuse));
        p
    }

    #[test]
    fn locations_resolve_in_one_place() {
        let none = Plugins::default();
        let local = |p: &str| Location::Local(p.into());
        let plugin = |scheme: &str, uri: &str| Location::Plugin { scheme: scheme.into(), uri: uri.into() };
        let cases: &[(&str, &Plugins, Location)] = &[
            ("/data/x.csv", &none, local("/data/x.csv")),
            ("rel/x.csv", &none, local("rel/x.csv")),
            ("file:///data/x/", &none, local("/data/x/")),
            ("a:b//c", &none, local("a:b//c")),
            ("1x://y", &none, local("1x://y")),
            ("s3://b/p//", &none, Location::S3("s3://b/p".into())),
            ("gs://b", &none, Location::Gcs("gs://b".into())),
            ("memory://t/", &none, Location::Memory("memory://t".into())),
            ("mem://bucket/x/", &plugins(), plugin("mem", "mem://bucket/x")),
            ("s3://b/p/", &plugins(), plugin("s3", "s3://b/p")),
            ("sqlite:///x.db?mode=rw", &none, Location::Catalog("sqlite:///x.db?mode=rw".into())),
            ("sqlite::memory:", &none, Location::Catalog("sqlite::memory:".into())),
            ("postgresql://u:pw@h/db", &none, Location::Catalog("postgresql://u:pw@h/db".into())),
            ("postgres://h/db", &none, Location::Catalog("postgres://h/db".into())),
        ];
        for (input, plugins, want) in cases {
            assert_eq!(&resolve(input, plugins).unwrap(), want, "{input}");
        }
        let err = resolve("nope://u:secret@host/x", &plugins()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.message().contains("'nope'") && err.message().contains("mem://..."), "{err}");
        assert!(!err.message().contains("secret"), "{err}");
        assert!(resolve("mem://bucket", &Plugins::default()).is_err(), "a scheme nobody registered");
    }

    #[test]
    fn roots_are_canonical_and_outside_managed_areas() {
        let none = Plugins::default();
        let cwd = std::env::current_dir().unwrap();
        let cases: &[(&str, Location)] = &[
            ("/data/./a/../b/", Location::Local("/data/b".into())),
            ("file:///data/x/", Location::Local("/data/x".into())),
            ("rel", Location::Local(cwd.join("rel"))),
            ("s3://b/p/", Location::S3("s3://b/p".into())),
            ("memory://t", Location::Memory("memory://t".into())),
        ];
        for (input, want) in cases {
            assert_eq!(&resolve_root(input, &none).unwrap(), want, "{input}");
        }
        assert_eq!(resolve_root("/data/b/", &none).unwrap().as_string(), "/data/b");
        for bad in ["/data/.trove/x", "/data/.trove", "s3://b/.trove/x", "postgresql://u:pw@h/db"] {
            let err = resolve_root(bad, &none).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
            assert!(!err.message().contains("pw@"), "{err}");
        }
        assert!(resolve_root("mem://b/.trove/x", &plugins()).is_err(), "plugin roots too");
    }

    #[tokio::test]
    async fn instance_locations_name_a_catalog() {
        let none = Plugins::default();
        let cache = CacheSettings::default();
        let open = |l: String| {
            let (none, cache) = (none.clone(), cache.clone());
            async move { open_catalog(&l, &none, &cache, "me", &[], None).await.map(|_| ()) }
        };
        assert_eq!(open(String::new()).await.unwrap_err().kind(), ErrorKind::Instance);
        let err = open("memory://b/p".into()).await.unwrap_err();
        assert!(err.kind() == ErrorKind::InvalidInput && err.message().contains("holds no catalog"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = open(dir.path().to_str().unwrap().into()).await.unwrap_err();
        assert!(err.kind() == ErrorKind::Instance && err.message().contains("trove init"), "{err}");
    }
}
