//! Finding the `trove` binary that the tests drive.
//!
//! Cargo builds a package's own binaries for its integration tests (`CARGO_BIN_EXE_<name>`),
//! but not another package's. Under `cargo test --workspace` the binary is built anyway (the
//! CLI crate's own tests need it) and lands in the profile folder next to this test's
//! `deps/`; under `cargo test -p trove-e2e` it may be missing or stale, so it is built once
//! here with `cargo build -p trove-cli --bin trove`. Cargo releases its build lock before it
//! runs test executables, so the nested build does not wait on the outer one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// The crates linked into the binary, whose sources decide whether it is stale.
const BINARY_CRATES: &[&str] = &["trove-domain", "trove-persistence", "trove-storage", "trove", "trove-cli"];

/// The `trove` binary: `TROVE_E2E_BIN` if set, else `<target>/<profile>/trove`, built first
/// when it is missing or older than the sources. Panics with the reason if it cannot be built.
pub fn trove_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TROVE_E2E_BIN").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("the test executable's path");
        // <target>/<profile>/deps/<test>-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("trove-e2e: unexpected test executable path {}", exe.display()))
            .to_path_buf();
        let bin = profile_dir.join(format!("trove{}", std::env::consts::EXE_SUFFIX));
        if !is_fresh(&bin) {
            build(&profile_dir, &bin);
        }
        bin
    })
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The newest modification time among the files under `dir`.
fn newest_under(dir: &Path) -> Option<SystemTime> {
    let entries = trove_testkit::files::walk(dir).ok()?;
    entries.into_iter().filter(|e| !e.is_dir).filter_map(|e| mtime(&e.path)).max()
}

fn is_fresh(bin: &Path) -> bool {
    let Some(built) = mtime(bin) else { return false };
    let root = workspace_root();
    let mut sources = vec![mtime(&root.join("Cargo.toml")), mtime(&root.join("Cargo.lock"))];
    for krate in BINARY_CRATES {
        let dir = root.join("crates").join(krate);
        sources.push(mtime(&dir.join("Cargo.toml")));
        sources.push(newest_under(&dir.join("src")));
    }
    sources.into_iter().flatten().all(|t| t <= built)
}

fn build(profile_dir: &Path, bin: &Path) {
    let target_dir = profile_dir.parent().expect("the profile folder is inside the target folder");
    let profile = profile_dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["build", "-p", "trove-cli", "--bin", "trove"])
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", target_dir);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    eprintln!(
        "trove-e2e: {} is missing or older than the sources; building it: cargo build -p trove-cli --bin trove",
        bin.display()
    );
    let status = cmd.status().unwrap_or_else(|e| panic!("trove-e2e: cannot run cargo to build the binary: {e}"));
    assert!(
        status.success() && bin.is_file(),
        "trove-e2e: `cargo build -p trove-cli --bin trove` failed ({status}); build it by hand, or point \
         TROVE_E2E_BIN at a trove binary"
    );
}
