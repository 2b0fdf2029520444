//! Trove's developer and CI tasks, run as `cargo xtask <task> [args]`.
//!
//! `main` only dispatches: each task lives in its own module and exposes
//! `pub fn run(args: &[String]) -> Result<(), String>`; add a task by adding a module and a
//! line to [`TASKS`] and to the `match` in `main`.

mod bench;
mod ci;
mod python;
mod test_images;
mod tidy;

use std::process::ExitCode;

/// Every task: its name and a one-line summary, for the usage text.
const TASKS: &[(&str, &str)] = &[
    ("bench", "run the benchmark workloads in release mode; JSON in target/bench/bench.json"),
    ("ci", "fmt check, clippy -D warnings, test images, every test; phase timings (--skip-lint)"),
    ("python", "build the Python package into target/pyvenv (maturin) and run its pytest suite"),
    ("tidy", "check the invariants of docs/ARCHITECTURE.md: crate graph, sources, module cycles"),
    ("test-images", "build the local test-server image and binaries when missing (--force rebuilds)"),
];

fn usage() -> String {
    let mut text = String::from("usage: cargo xtask <task> [args]\n\ntasks:\n");
    for (name, summary) in TASKS {
        text.push_str(&format!("  {name:<14} {summary}\n"));
    }
    text.push_str("\n`cargo xtask <task> --help` describes a task's arguments.\n");
    text
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprint!("{}", usage());
        return ExitCode::from(2);
    };
    let result = match task.as_str() {
        "bench" => bench::run(rest),
        "ci" => ci::run(rest),
        "python" => python::run(rest),
        "tidy" => tidy::run(rest),
        "test-images" => test_images::run(rest),
        "-h" | "--help" | "help" => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        other => {
            eprint!("unknown task `{other}`\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask {task}: error: {message}");
            ExitCode::FAILURE
        }
    }
}
