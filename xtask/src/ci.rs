//! `cargo xtask ci`: what CI runs, and what a developer runs before pushing: formatting,
//! clippy with warnings denied, the test images (for the `containers` provider), and every
//! test in the workspace, then the Python package's pytest suite (`cargo xtask python`).
//! Prints how long each phase took.

use std::process::Command;
use std::time::Instant;

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn phase(name: &str, mut cmd: Command, timings: &mut Vec<(String, f64)>) -> Result<(), String> {
    eprintln!("\n==> {name}");
    let start = Instant::now();
    let status = cmd.status().map_err(|e| format!("{name}: cannot start: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    timings.push((name.to_owned(), secs));
    if status.success() { Ok(()) } else { Err(format!("{name} failed ({status}) after {secs:.0} s")) }
}

/// Run the phases; `--skip-lint` runs only the images and tests.
pub fn run(args: &[String]) -> Result<(), String> {
    let skip_lint = args.iter().any(|a| a == "--skip-lint");
    let mut timings = Vec::new();
    let result = (|| {
        if !skip_lint {
            let mut fmt = cargo();
            fmt.args(["fmt", "--all", "--", "--check"]);
            phase("cargo fmt --check", fmt, &mut timings)?;
            let mut clippy = cargo();
            clippy.args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]);
            phase("cargo clippy -D warnings", clippy, &mut timings)?;
        }
        let provider = std::env::var("TROVE_TEST_BACKENDS").unwrap_or_default();
        if provider != "embedded" {
            let mut images = cargo();
            images.args(["xtask", "test-images"]);
            phase("cargo xtask test-images", images, &mut timings)?;
        }
        let mut test = cargo();
        test.args(["test", "--workspace", "--locked"]);
        phase("cargo test --workspace", test, &mut timings)?;
        let mut python = cargo();
        python.args(["xtask", "python"]);
        phase("python tests (pytest)", python, &mut timings)
    })();
    eprintln!("\nphase timings:");
    for (name, secs) in &timings {
        eprintln!("  {name:<28} {secs:>7.1} s");
    }
    result
}
