//! The one edge where locations (paths, `sqlite:`/`postgresql:` URLs, `s3://`/`gs://` roots)
//! become concrete backends. Nothing else in the façade names a backend crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use trove_domain::ids::random_base62;
use trove_domain::key::MANAGED_DIR;
use trove_domain::ports::{Catalog, Clock, ObjectStore};
use trove_domain::secret::redact_url;
use trove_domain::{Error, ErrorKind, InstanceInit, NewStorage, Result};

use crate::{EMBEDDED_DB, InitOptions, STORAGE_MARKER, StorageMarker, normalize_root};

/// Connect to a catalog by URL: `sqlite://PATH` (created if missing) or `postgresql://...`.
/// Migrations run on connect.
pub async fn connect_catalog(url: &str) -> Result<Arc<dyn Catalog>> {
    Ok(Arc::new(trove_persistence::SeaCatalog::connect(url).await?))
}

/// Open the object store for a storage root: an absolute local path, `s3://bucket/prefix` or
/// `gs://bucket/prefix` (configured from the standard environment variables).
pub async fn open_store(root: &str) -> Result<Arc<dyn ObjectStore>> {
    trove_storage::open_root(root)
}

fn is_url(s: &str) -> bool {
    s.starts_with("sqlite:") || s.starts_with("postgres://") || s.starts_with("postgresql://")
}

pub(crate) fn is_cloud(s: &str) -> bool {
    s.starts_with("s3://") || s.starts_with("gs://")
}

/// The region recorded with a new S3 location (`AWS_REGION`/`AWS_DEFAULT_REGION`).
pub(crate) fn region_of(root: &str) -> Option<String> {
    if !root.starts_with("s3://") {
        return None;
    }
    ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().find_map(|v| std::env::var(v).ok().filter(|r| !r.is_empty()))
}

/// Non-secret settings recorded with a new cloud location, so it reopens against the same
/// server: the S3 endpoint (`AWS_ENDPOINT_URL`) or GCS emulator host (`STORAGE_EMULATOR_HOST`).
/// Never credentials: those always come from the environment, so an endpoint that carries
/// some (`http://user:pw@host`) is not recorded.
pub(crate) fn location_settings(root: &str) -> serde_json::Value {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty() && redact_url(v) == *v);
    let mut m = serde_json::Map::new();
    if root.starts_with("s3://")
        && let Some(e) = var("AWS_ENDPOINT_URL")
    {
        m.insert("endpoint".into(), e.into());
    }
    if root.starts_with("gs://")
        && let Some(e) = var("STORAGE_EMULATOR_HOST")
    {
        m.insert("emulator_host".into(), e.into());
    }
    serde_json::Value::Object(m)
}

/// Open a registered location's store: configured from the environment, with the location's
/// recorded endpoint (and region) used where the environment names none.
pub(crate) async fn open_location(loc: &trove_domain::StorageLocation) -> Result<Arc<dyn ObjectStore>> {
    let setting = |name: &str| loc.settings.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(rest) = loc.root.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let mut cfg = trove_storage::S3Config::from_env(bucket, prefix)?;
        if cfg.endpoint.is_none() {
            cfg.endpoint = setting("endpoint");
        }
        if env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).is_none()
            && let Some(r) = &loc.region
        {
            cfg.region = r.clone();
        }
        return Ok(Arc::new(trove_storage::OpendalStore::s3(cfg)?));
    }
    if let Some(rest) = loc.root.strip_prefix("gs://")
        && env("STORAGE_EMULATOR_HOST").is_none()
        && env("GOOGLE_APPLICATION_CREDENTIALS").is_none()
        && let Some(host) = setting("emulator_host")
    {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let cfg = trove_storage::GcsConfig::from_vars(bucket, prefix, |name| {
            (name == "STORAGE_EMULATOR_HOST").then(|| host.clone())
        });
        return Ok(Arc::new(trove_storage::OpendalStore::gcs(cfg)?));
    }
    open_store(&loc.root).await
}

/// The embedded catalog file of a local root.
pub(crate) fn embedded_db_path(root: &Path) -> PathBuf {
    root.join(MANAGED_DIR).join(EMBEDDED_DB)
}

fn sqlite_url(path: &Path, create: bool) -> String {
    format!("sqlite://{}?mode={}", path.display(), if create { "rwc" } else { "rw" })
}

/// The catalog URL of an instance location: a URL as it is, or a root folder's embedded file.
pub(crate) fn catalog_url_for(location: &str) -> Result<String> {
    if location.is_empty() {
        return Err(Error::new(
            ErrorKind::Instance,
            "no instance given: pass --instance DIR, set TROVE_INSTANCE, or create one with `trove init --storage DIR`",
        ));
    }
    if is_url(location) {
        return Ok(location.to_owned());
    }
    if location.contains("://") && !location.starts_with("file://") {
        return Err(Error::invalid_input(format!(
            "unsupported instance URL '{}': give a root folder, sqlite://PATH or postgresql://USER@HOST/DB",
            redact_url(location)
        )));
    }
    let root = normalize_root(Path::new(location.strip_prefix("file://").unwrap_or(location)))?;
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
    Ok(sqlite_url(&db, false))
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
    plugins: &crate::plugin::Plugins,
    clock: &dyn Clock,
) -> Result<Initialized> {
    if let Some(s) = &injected_store {
        return init_resolved(opts, s.root().to_owned(), None, s.clone(), injected_catalog, clock).await;
    }
    // A root of a registered scheme: the location keeps the URI as its root.
    if let Some(store) = plugins.open_store(&opts.storage) {
        let root = opts.storage.trim_end_matches('/').to_owned();
        return init_resolved(opts, root, None, store?, injected_catalog, clock).await;
    }
    // What this init creates: its managed folder, and the outermost folder that was missing.
    let mut created: Option<(PathBuf, PathBuf)> = None;
    let (root, local_root) = if is_cloud(&opts.storage) {
        (opts.storage.trim_end_matches('/').to_owned(), None)
    } else {
        let p = normalize_root(Path::new(opts.storage.strip_prefix("file://").unwrap_or(&opts.storage)))?;
        if p.components().any(|c| c.as_os_str() == MANAGED_DIR) {
            return Err(Error::invalid_input(format!(
                "{} is inside a '{MANAGED_DIR}' folder, Trove's managed area of another root; choose a folder outside it",
                p.display()
            )));
        }
        created = outermost_missing(&p.join(MANAGED_DIR)).map(|outer| (p.join(MANAGED_DIR), outer));
        std::fs::create_dir_all(p.join(MANAGED_DIR))
            .map_err(|e| Error::io(format!("cannot create {}", p.display()), e))?;
        (p.to_string_lossy().into_owned(), Some(p))
    };
    let result = match open_store(&root).await {
        Ok(store) => init_resolved(opts, root, local_root, store, injected_catalog, clock).await,
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

async fn init_resolved(
    opts: InitOptions,
    root: String,
    local_root: Option<PathBuf>,
    store: Arc<dyn ObjectStore>,
    injected_catalog: Option<Arc<dyn Catalog>>,
    clock: &dyn Clock,
) -> Result<Initialized> {
    let marker_key = format!("{MANAGED_DIR}/{STORAGE_MARKER}");
    let existing_marker: Option<StorageMarker> = match store.stat(&marker_key).await? {
        Some(_) => serde_json::from_slice(&store.read_all(&marker_key).await?).ok(),
        None => None,
    };
    let db_url = match (&opts.db, &local_root) {
        _ if injected_catalog.is_some() => opts.db.clone().unwrap_or_else(|| "injected".into()),
        (Some(url), _) => url.clone(),
        (None, Some(p)) => sqlite_url(&embedded_db_path(p), true),
        (None, None) => {
            return Err(Error::invalid_input(format!(
                "{root} is cloud storage, which cannot hold the embedded SQLite catalog: pass --db postgresql://..."
            )));
        }
    };
    let shared = opts.db.is_some() || injected_catalog.is_some();
    let catalog = match injected_catalog {
        Some(c) => c,
        None => connect_catalog(&db_url).await?,
    };
    let location = if opts.db.is_some() { db_url.clone() } else { root.clone() };
    if let Some(instance) = catalog.instance().await? {
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
            region: region_of(&root),
            instance_uid: instance_uid.clone(),
            settings: location_settings(&root),
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
