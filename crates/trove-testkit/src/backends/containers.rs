//! Provider `containers`: PostgreSQL 15, garage and fake-gcs-server as containers, started with
//! testcontainers from locally built images.
//!
//! All three start from one image, `trove-test-servers:1` (`cargo xtask test-images` builds it),
//! each with its own command. `TROVE_TEST_SERVERS_IMAGE` renames that image;
//! `TROVE_TEST_PG_IMAGE`, `TROVE_TEST_S3_IMAGE` and `TROVE_TEST_GCS_IMAGE` name one per server.
//! A PostgreSQL image other than the servers image is run as the official `postgres` image
//! (its entrypoint, `POSTGRES_HOST_AUTH_METHOD=trust`); garage runs as `/garage` and the emulator
//! as `/bin/fake-gcs-server`, as in the official `dxflrs/garage` and `fsouza/fake-gcs-server`
//! images, so those work too where images can be pulled.
//!
//! Containers carry the session labels (see `session`), and are removed by the reaper, never by
//! testcontainers' drop (the containers outlive the runtime that started them).

use std::os::unix::net::UnixStream;
use std::time::Duration;

use testcontainers::core::{IntoContainerPort as _, Mount};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, ImageExt as _};

use super::servers::{
    self, DEFAULT_IMAGE, GcsServer, PgServer, S3Server, Servers, garage_config, garage_secrets, garage_server_args,
};
use super::session::{OWNER_LABEL, SESSION_LABEL, Session};
use super::{Provider, http};

/// How long a server may take to answer after its container started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The servers image: `TROVE_TEST_SERVERS_IMAGE`, else [`DEFAULT_IMAGE`].
pub fn servers_image() -> String {
    std::env::var("TROVE_TEST_SERVERS_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.to_string())
}

fn image_for(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| servers_image())
}

/// The Docker engine's Unix socket, from `DOCKER_HOST` or the default.
fn docker_socket() -> Option<String> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) => host.strip_prefix("unix://").map(String::from),
        Err(_) => Some("/var/run/docker.sock".to_string()),
    }
}

fn docker_get(path: &str) -> Result<http::Response, String> {
    let socket = docker_socket().ok_or("DOCKER_HOST is not a unix:// socket")?;
    let mut stream = UnixStream::connect(&socket).map_err(|e| format!("connecting to {socket}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| format!("configuring {socket}: {e}"))?;
    http::request_on(&mut stream, "docker", "GET", path, &[], b"")
}

/// Whether a Docker engine answers (`GET /_ping`). A `DOCKER_HOST` that is not a Unix socket
/// is trusted to answer.
pub fn docker_answers() -> bool {
    if std::env::var("DOCKER_HOST").is_ok_and(|h| !h.starts_with("unix://")) {
        return true;
    }
    docker_get("/_ping").is_ok_and(|r| r.status == 200)
}

/// Whether the engine has an image locally.
pub fn image_present(image: &str) -> bool {
    docker_get(&format!("/images/{image}/json")).is_ok_and(|r| r.status == 200)
}

/// Every image the provider needs that the engine does not have.
pub fn missing_images() -> Vec<String> {
    let mut images =
        vec![image_for("TROVE_TEST_PG_IMAGE"), image_for("TROVE_TEST_S3_IMAGE"), image_for("TROVE_TEST_GCS_IMAGE")];
    images.sort();
    images.dedup();
    images.retain(|i| !image_present(i));
    images
}

fn generic(image: &str) -> GenericImage {
    // "registry:5000/name:tag": the tag follows the last ':' after the last '/'.
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(colon) => GenericImage::new(&image[..slash + colon], &image[slash + colon + 1..]),
        None => GenericImage::new(image, "latest"),
    }
}

fn labelled(request: ContainerRequest<GenericImage>, session: &Session) -> ContainerRequest<GenericImage> {
    request
        .with_label(SESSION_LABEL, session.id.clone())
        .with_label(OWNER_LABEL, session.owner_pid.to_string())
        .with_startup_timeout(Duration::from_secs(120))
}

/// A world-writable tmpfs: the servers' data is disposable, and memory makes `CREATE DATABASE`
/// about three times faster than the container's overlay filesystem (50 ms instead of 150 ms).
fn tmpfs(path: &str) -> Mount {
    Mount::tmpfs_mount(path).with_mode(0o1777)
}

fn host_of(host: impl std::fmt::Display) -> String {
    match host.to_string().as_str() {
        "localhost" => "127.0.0.1".to_string(),
        other => other.to_string(),
    }
}

async fn logs(container: &ContainerAsync<GenericImage>) -> String {
    let out = container.stdout_to_vec().await.unwrap_or_default();
    let err = container.stderr_to_vec().await.unwrap_or_default();
    let text = format!("{}{}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn start_error(what: &str, image: &str, e: impl std::fmt::Display) -> String {
    format!(
        "starting the {what} container from image {image}: {e}\n\
         (no image registry here: build the local image with `cargo xtask test-images`)"
    )
}

async fn start_postgres(session: &Session) -> Result<(PgServer, ContainerAsync<GenericImage>), String> {
    let image = image_for("TROVE_TEST_PG_IMAGE");
    let settings = [
        "-c",
        "listen_addresses=*",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=300",
    ];
    let request = if image == servers_image() {
        let script = format!(
            "initdb -D /pg/data -U postgres -A trust -E UTF8 --no-locale --no-sync >/dev/null \
             && echo 'host all all all trust' >> /pg/data/pg_hba.conf \
             && exec postgres -D /pg/data -k /pg {}",
            settings.join(" ")
        );
        generic(&image)
            .with_exposed_port(5432.tcp())
            .with_entrypoint("sh")
            .with_cmd(["-c".to_string(), script])
            .with_user("postgres")
            .with_mount(tmpfs("/pg"))
    } else {
        let mut cmd = vec!["postgres"];
        cmd.extend(settings);
        generic(&image).with_exposed_port(5432.tcp()).with_env_var("POSTGRES_HOST_AUTH_METHOD", "trust").with_cmd(cmd)
    };
    let container = labelled(request, session).start().await.map_err(|e| start_error("PostgreSQL", &image, e))?;
    let host = host_of(container.get_host().await.map_err(|e| e.to_string())?);
    let port = container.get_host_port_ipv4(5432.tcp()).await.map_err(|e| e.to_string())?;
    let (h, p) = (host.clone(), port);
    let waited = tokio::task::spawn_blocking(move || servers::wait_postgres(&h, p, READY_TIMEOUT))
        .await
        .map_err(|e| e.to_string())?;
    let version = match waited {
        Ok(v) => v,
        Err(e) => return Err(format!("{e}\ncontainer log:\n{}", logs(&container).await)),
    };
    Ok((PgServer { host, port, user: "postgres".into(), version }, container))
}

async fn start_garage(session: &Session) -> Result<(S3Server, ContainerAsync<GenericImage>), String> {
    let image = image_for("TROVE_TEST_S3_IMAGE");
    let (admin_token, key_id, secret) = garage_secrets();
    let config = garage_config("/var/lib/garage", "0.0.0.0", (3900, 3901, 3903), &admin_token);
    let request = generic(&image)
        .with_exposed_port(3900.tcp())
        .with_exposed_port(3903.tcp())
        .with_entrypoint("/garage")
        .with_cmd(garage_server_args("/etc/garage.toml"))
        .with_env_var("GARAGE_DEFAULT_ACCESS_KEY", key_id.clone())
        .with_env_var("GARAGE_DEFAULT_SECRET_KEY", secret.clone())
        .with_copy_to("/etc/garage.toml", config.into_bytes())
        .with_mount(tmpfs("/var/lib/garage"));
    let container = labelled(request, session).start().await.map_err(|e| start_error("garage", &image, e))?;
    let host = host_of(container.get_host().await.map_err(|e| e.to_string())?);
    let s3_port = container.get_host_port_ipv4(3900.tcp()).await.map_err(|e| e.to_string())?;
    let admin_port = container.get_host_port_ipv4(3903.tcp()).await.map_err(|e| e.to_string())?;
    let server = S3Server {
        endpoint: format!("http://{host}:{s3_port}"),
        admin_addr: format!("{host}:{admin_port}"),
        admin_token,
        access_key_id: key_id,
        secret_access_key: secret,
    };
    let probe = server.clone();
    let waited = tokio::task::spawn_blocking(move || servers::wait_garage(&probe, READY_TIMEOUT))
        .await
        .map_err(|e| e.to_string())?;
    if let Err(e) = waited {
        return Err(format!("{e}\ncontainer log:\n{}", logs(&container).await));
    }
    Ok((server, container))
}

async fn start_gcs(session: &Session) -> Result<(GcsServer, ContainerAsync<GenericImage>), String> {
    let image = image_for("TROVE_TEST_GCS_IMAGE");
    // The emulator writes its own address into upload URLs: map a host port chosen up front.
    let port = servers::free_port()?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let request = generic(&image)
        .with_entrypoint("/bin/fake-gcs-server")
        .with_cmd([
            "-scheme",
            "http",
            "-host",
            "0.0.0.0",
            "-port",
            "4443",
            "-backend",
            "memory",
            "-log-level",
            "warn",
            "-external-url",
            &endpoint,
            "-public-host",
            servers::host_port(&endpoint),
        ])
        .with_mapped_port(port, 4443.tcp());
    let container = labelled(request, session).start().await.map_err(|e| start_error("fake-gcs-server", &image, e))?;
    let server = GcsServer { endpoint };
    let probe = server.clone();
    let waited = tokio::task::spawn_blocking(move || servers::wait_gcs(&probe, READY_TIMEOUT))
        .await
        .map_err(|e| e.to_string())?;
    if let Err(e) = waited {
        return Err(format!("{e}\ncontainer log:\n{}", logs(&container).await));
    }
    Ok((server, container))
}

/// Starts the three containers concurrently and waits until each answers.
pub fn start(session: &Session) -> Result<Servers, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("building a runtime: {e}"))?;
                runtime.block_on(async {
                    let (pg, s3, gcs) =
                        tokio::join!(start_postgres(session), start_garage(session), start_gcs(session));
                    let ((pg, c1), (s3, c2), (gcs, c3)) = (pg?, s3?, gcs?);
                    // The reaper removes the containers (by label) when the session ends;
                    // testcontainers' drop would remove them at the end of this function.
                    std::mem::forget((c1, c2, c3));
                    Ok(Servers { provider: Provider::Containers, postgres: Some(pg), s3: Some(s3), gcs: Some(gcs) })
                })
            })
            .join()
            .map_err(|_| "the container start-up thread panicked".to_string())?
    })
}
