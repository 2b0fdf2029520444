//! `cargo xtask python [PYTEST ARGS]`: build the Python package (`crates/trove-py`, with
//! maturin) into a virtual environment under `target/pyvenv` and run its pytest suite.
//!
//! The environment is created with `python3 -m venv` when missing and gets `maturin`, `pytest`,
//! `pandas` and `pyarrow` from PyPI (`pip` skips what is installed already); the package is
//! then installed with `pip install ./crates/trove-py`, as a user would. The Python code is then
//! linted (`ruff check`, `ruff format --check`) and type-checked (`mypy`, strict optionals),
//! and the tests run from `crates/trove-py/tests` with `TROVE_TEST_BACKENDS` passed through.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the tests need from PyPI (maturin at the version the package is built with).
const REQUIREMENTS: &[&str] =
    &["maturin>=1.16,<1.17", "pytest", "pandas", "pyarrow", "polars", "ruff>=0.8,<1", "mypy>=1.13,<2"];

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn step(what: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask python: {what}");
    let status = cmd.status().map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status})")) }
}

/// The virtual environment's interpreter, created (with the requirements) when missing.
pub fn venv(root: &Path) -> Result<PathBuf, String> {
    let dir = root.join("target/pyvenv");
    let bin = dir.join("bin/python");
    if !bin.exists() {
        step("create target/pyvenv", Command::new(python()).args(["-m", "venv"]).arg(&dir))?;
    }
    step(
        "install the test requirements",
        Command::new(&bin).args(["-m", "pip", "install", "-q", "--disable-pip-version-check"]).args(REQUIREMENTS),
    )?;
    Ok(bin)
}

/// Build and install the package, then run pytest.
pub fn run(args: &[String]) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf();
    let py = venv(&root)?;
    // The build backend runs the venv's `maturin` executable: its bin folder goes first on PATH.
    let bin = py.parent().expect("the interpreter is in bin/").to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .map_err(|e| format!("cannot build PATH: {e}"))?;
    step(
        "pip install ./crates/trove-py (maturin build)",
        Command::new(&py)
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-build-isolation"])
            .args(["--force-reinstall", "--no-deps", "./crates/trove-py"])
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", root.join("target"))
            // The dev profile: the tests reuse what `cargo test --workspace` built (a user's
            // `pip install` builds the release profile).
            .env("MATURIN_PEP517_ARGS", std::env::var("MATURIN_PEP517_ARGS").unwrap_or_else(|_| "--profile dev".into()))
            .current_dir(&root),
    )?;
    // The linter and the type checker, with the settings in crates/trove-py/pyproject.toml.
    let pkg = root.join("crates/trove-py");
    let ruff = bin.join("ruff");
    step(
        "ruff check (python, tests, bench)",
        Command::new(&ruff).args(["check", "python", "tests", "bench"]).current_dir(&pkg),
    )?;
    step(
        "ruff format --check",
        Command::new(&ruff).args(["format", "--check", "python", "tests", "bench"]).current_dir(&pkg),
    )?;
    step("mypy python/trove", Command::new(&py).args(["-m", "mypy", "python/trove"]).current_dir(&pkg))?;
    step(
        "pytest crates/trove-py/tests",
        Command::new(&py).args(["-m", "pytest", "-q", "crates/trove-py/tests"]).args(args).current_dir(&root),
    )
}
