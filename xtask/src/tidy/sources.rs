//! The checks that read source text: library code never prints or exits, only the façade's
//! wiring module names backend crates, every lint `allow` says why, and no file is too long to
//! hold in mind.

use std::path::{Path, PathBuf};

use super::lexer::{Keep, blank, find_word, line_of};

/// What library code never calls: it returns values and errors, and the CLI talks.
const TALKING: &[&str] = &["println!", "eprintln!", "print!", "eprint!", "dbg!", "process::exit"];

/// Crates under `crates/` that may print, each with the reason.
pub(super) const MAY_PRINT: &[(&str, &str)] = &[
    ("trove-cli", "the binary: it talks to the user"),
    ("trove-testkit", "test tooling: it notes skipped checks and the backends in use on stderr"),
];

/// The façade's one module that names backend crates, and the names it alone may use.
pub(super) const WIRING: &str = "crates/trove/src/wiring.rs";
/// Backend crates (package names; in code with `_` for `-`).
pub(super) const BACKEND_CRATES: &[&str] = &["trove-persistence", "trove-storage", "sea-orm", "opendal"];

/// Lines a source file may have.
pub(super) const MAX_LINES: usize = 800;
/// Files allowed to be longer, each with the reason.
pub(super) const LONG_FILES: &[(&str, &str)] = &[
    (
        "crates/trove/tests/state_machine.rs",
        "one reference state machine: its operations, their strategies and the checks after each step read together",
    ),
    (
        "crates/trove/tests/state_machine/concurrent.rs",
        "one concurrent round: its planner, the search for an order that explains the answers and its checks",
    ),
];

/// A Rust source file of the workspace.
pub(super) struct Source {
    /// Path relative to the workspace root, `/`-separated.
    pub rel: String,
    /// Its text.
    pub text: String,
}

/// Every `.rs` file of the workspace's members (`crates/*`, `tests`, `xtask`), sorted, outside
/// `target` folders.
pub(super) fn workspace_sources(root: &Path) -> Vec<Source> {
    let mut files = Vec::new();
    for top in ["crates", "tests", "xtask"] {
        collect_rs(&root.join(top), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let rel = path.strip_prefix(root).ok()?.to_string_lossy().replace('\\', "/");
            Some(Source { rel, text })
        })
        .collect()
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if e.file_name() != "target" {
                collect_rs(&path, out);
            }
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The code of a library file up to its test module: a top-level `#[cfg(test)]` item ends
/// what ships (test modules sit at the end of a file).
fn shipped(code: &str) -> &str {
    let mut at = 0;
    for line in code.split_inclusive('\n') {
        if line.trim_end() == "#[cfg(test)]" {
            return &code[..at];
        }
        at += line.len();
    }
    code
}

/// Library code never prints or exits: `src/` of every crate under `crates/` but those in
/// [`MAY_PRINT`], up to each file's test module.
pub(super) fn check_talking(sources: &[Source], problems: &mut Vec<String>) {
    for s in sources {
        let Some(rest) = s.rel.strip_prefix("crates/") else { continue };
        let Some((krate, path)) = rest.split_once('/') else { continue };
        if !path.starts_with("src/") || MAY_PRINT.iter().any(|(k, _)| *k == krate) {
            continue;
        }
        let code = blank(&s.text, Keep::CodeOnly);
        let code = shipped(&code);
        for word in TALKING {
            for at in find_word(code, word) {
                problems.push(format!(
                    "{}:{}: `{word}` in library code; return a value or an error and let the CLI talk",
                    s.rel,
                    line_of(code, at)
                ));
            }
        }
    }
}

/// Only [`WIRING`] names backend crates in the façade's code (comments and doc examples
/// aside).
pub(super) fn check_wiring(sources: &[Source], problems: &mut Vec<String>) {
    for s in sources.iter().filter(|s| s.rel.starts_with("crates/trove/src/") && s.rel != WIRING) {
        let code = blank(&s.text, Keep::CodeOnly);
        for krate in BACKEND_CRATES {
            let name = krate.replace('-', "_");
            for at in find_word(&code, &name) {
                problems.push(format!(
                    "{}:{}: names the backend crate `{name}`; only {WIRING} wires backends",
                    s.rel,
                    line_of(&code, at)
                ));
            }
        }
    }
}

/// Every lint `allow` (or `expect`) attribute, `cfg_attr` forms included, carries a
/// `reason = "..."`.
pub(super) fn check_allow_reasons(sources: &[Source], problems: &mut Vec<String>) {
    for s in sources {
        // Attributes are found in code (never in a string or comment) and read with their
        // strings (the reason's text).
        let code = blank(&s.text, Keep::CodeOnly);
        let with_strings = blank(&s.text, Keep::Strings);
        for (at, end) in attributes(&code) {
            let attr = &with_strings[at..=end];
            let body = attr.trim_start_matches('#').trim_start_matches('!').trim_start_matches('[');
            let lint = ["allow(", "expect(", "cfg_attr("]
                .iter()
                .any(|p| body.starts_with(p) && (*p != "cfg_attr(" || has_lint_level(body)));
            if lint && find_word(attr, "reason").is_empty() {
                problems.push(format!(
                    "{}:{}: `{}` has no reason; write `#[allow(lint, reason = \"why\")]`",
                    s.rel,
                    line_of(&code, at),
                    attr.split_whitespace().collect::<Vec<_>>().join(" ")
                ));
            }
        }
    }
}

fn has_lint_level(body: &str) -> bool {
    !find_word(body, "allow").is_empty() || !find_word(body, "expect").is_empty()
}

/// Every attribute (`#[...]`, `#![...]`) in `code` (strings blanked): the offsets of its `#`
/// and of its closing bracket.
fn attributes(code: &str) -> Vec<(usize, usize)> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    for (at, _) in code.match_indices('#') {
        let open = if bytes.get(at + 1) == Some(&b'[') {
            at + 1
        } else if bytes.get(at + 1) == Some(&b'!') && bytes.get(at + 2) == Some(&b'[') {
            at + 2
        } else {
            continue;
        };
        let (mut depth, mut end) = (0usize, None);
        let mut k = open;
        while k < bytes.len() {
            match bytes[k] {
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(k);
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        if let Some(end) = end {
            out.push((at, end));
        }
    }
    out
}

/// No file is longer than [`MAX_LINES`] but those in [`LONG_FILES`]; an exception that is no
/// longer long, or names no file, is reported too (so the list stays true).
pub(super) fn check_lengths(sources: &[Source], problems: &mut Vec<String>) {
    for s in sources {
        let lines = s.text.lines().count();
        let excepted = LONG_FILES.iter().any(|(f, _)| *f == s.rel);
        if lines > MAX_LINES && !excepted {
            problems.push(format!(
                "{}: {lines} lines, over {MAX_LINES}: split it along its seams (or justify it in tidy's LONG_FILES)",
                s.rel
            ));
        }
    }
    for (file, _) in LONG_FILES {
        match sources.iter().find(|s| s.rel == *file) {
            None => problems.push(format!("tidy's LONG_FILES names `{file}`, which does not exist")),
            Some(s) if s.text.lines().count() <= MAX_LINES => {
                problems.push(format!("tidy's LONG_FILES names `{file}`, which is no longer over {MAX_LINES} lines"))
            }
            Some(_) => {}
        }
    }
}

/// The files over [`MAX_LINES`] (all excepted when the check passes), longest first, for the
/// summary line.
pub(super) fn long_files(sources: &[Source]) -> Vec<(String, usize)> {
    let mut long: Vec<(String, usize)> =
        sources.iter().map(|s| (s.rel.clone(), s.text.lines().count())).filter(|(_, n)| *n > MAX_LINES).collect();
    long.sort_by_key(|(_, lines)| std::cmp::Reverse(*lines));
    long
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(rel: &str, text: &str) -> Source {
        Source { rel: rel.into(), text: text.into() }
    }

    #[test]
    fn library_code_that_talks_is_found_outside_tests_and_comments() {
        let sources = [
            src(
                "crates/trove/src/a.rs",
                "// println!(\"x\")\nfn f() { eprintln!(\"no\"); }\n#[cfg(test)]\nmod tests { fn g() { println!(); } }\n",
            ),
            src("crates/trove-cli/src/main.rs", "fn main() { println!(\"yes\"); }\n"),
            src("crates/trove/tests/t.rs", "fn t() { println!(); }\n"),
            src("crates/trove-storage/src/b.rs", "fn f() { std::process::exit(1) }\n"),
        ];
        let mut problems = Vec::new();
        check_talking(&sources, &mut problems);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("crates/trove/src/a.rs:2: `eprintln!`"), "{problems:?}");
        assert!(problems[1].starts_with("crates/trove-storage/src/b.rs:1: `process::exit`"), "{problems:?}");
    }

    #[test]
    fn backend_crates_are_named_only_in_wiring() {
        let sources = [
            src(WIRING, "use trove_storage::OpendalStore;\n"),
            src("crates/trove/src/save.rs", "/// trove_storage::x\nfn f() { let _ = \"opendal\"; sea_orm::x(); }\n"),
        ];
        let mut problems = Vec::new();
        check_wiring(&sources, &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("crates/trove/src/save.rs:2: names the backend crate `sea_orm`"));
    }

    #[test]
    fn every_allow_has_a_reason() {
        let text = "#[allow(dead_code, reason = \"kept\")]\n#![allow(unused)]\n#[cfg_attr(test, allow(\n  x))]\n\
                    #[expect(clippy::y, reason = \"z\")]\n#[cfg_attr(test, derive(Debug))]\n#[doc = \"allow(\"]\n";
        let mut problems = Vec::new();
        check_allow_reasons(&[src("x.rs", text)], &mut problems);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("x.rs:2: `#![allow(unused)]`"), "{problems:?}");
        assert!(problems[1].starts_with("x.rs:3: `#[cfg_attr(test, allow( x))]`"), "{problems:?}");
    }

    #[test]
    fn long_files_need_a_reason_that_stays_true() {
        let long = "x\n".repeat(MAX_LINES + 1);
        let mut problems = Vec::new();
        check_lengths(&[src("a.rs", &long), src(LONG_FILES[0].0, "short\n")], &mut problems);
        assert!(problems.iter().any(|p| p.starts_with("a.rs: 801 lines")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("no longer over")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("which does not exist")), "{problems:?}");
    }
}
