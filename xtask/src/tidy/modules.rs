//! The module graph of a crate: which of its top-level modules use which, read from `use`
//! declarations and `crate::`/`super::`/`self::` paths, and its cycles.
//!
//! Nodes are the crate root's direct child modules (`save`, `source`, `wiring`, ...); a module's
//! own submodules belong to it. Paths into the crate root count for the module the root
//! re-exports them from (`crate::SaveOptions` is `save`'s when `lib.rs` says
//! `pub use save::SaveOptions`); items the root defines itself (`Trove`) belong to no node.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::lexer::{Keep, blank, line_of};

/// One source file of the crate: its module path (`[]` for the root) and its code.
struct ModFile {
    module: Vec<String>,
    rel: String,
    code: String,
}

/// Where an edge was first seen: `file:line`.
type Edges = BTreeMap<(String, String), String>;

/// The crate at `src` (relative to `root`) has no cycle among its top-level modules; each cycle
/// found is a problem naming its modules and where each step is imported.
pub(super) fn check_no_cycle(root: &Path, src: &str, problems: &mut Vec<String>) {
    let files = read_crate(root, src);
    if files.is_empty() {
        problems.push(format!("{src}: no Rust files found for the module-cycle check"));
        return;
    }
    let edges = edges(&files);
    for cycle in cycles(&edges) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|w| format!("{} -> {} ({})", w[0], w[1], edges[&(w[0].clone(), w[1].clone())]))
            .collect();
        problems.push(format!(
            "{src}: the modules {} import each other: {}; make the dependency one-way",
            cycle[..cycle.len() - 1].join(", "),
            steps.join(", ")
        ));
    }
}

fn read_crate(root: &Path, src: &str) -> Vec<ModFile> {
    let mut paths = Vec::new();
    walk(&root.join(src), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let rel_in_src = p.strip_prefix(root.join(src)).ok()?.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&p).ok()?;
            let module = module_of(&rel_in_src)?;
            Some(ModFile { module, rel: format!("{src}/{rel_in_src}"), code: blank(&text, Keep::CodeOnly) })
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `lib.rs` → `[]`, `a.rs` and `a/mod.rs` → `[a]`, `a/b.rs` → `[a, b]`; `bin/` and `main.rs`
/// are not modules of the library.
fn module_of(rel: &str) -> Option<Vec<String>> {
    if rel == "main.rs" || rel.starts_with("bin/") {
        return None;
    }
    let mut parts: Vec<String> = rel.trim_end_matches(".rs").split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    Some(parts)
}

/// The edges between top-level modules, each with where it was first seen.
fn edges(files: &[ModFile]) -> Edges {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let reexports: BTreeMap<String, Vec<String>> = files
        .iter()
        .filter(|f| f.module.is_empty())
        .flat_map(|f| uses(&f.code))
        .filter_map(|(_, path)| {
            let target = resolve(&[], &path, &modules)?;
            let name = path.last()?.clone();
            (!target.is_empty()).then_some((name, target))
        })
        .collect();
    let mut edges = Edges::new();
    for f in files.iter().filter(|f| !f.module.is_empty()) {
        let from = f.module[0].clone();
        let mut paths = uses(&f.code);
        paths.extend(inline_paths(&f.code));
        for (at, path) in paths {
            let Some(mut target) = resolve(&f.module, &path, &modules) else { continue };
            if target.is_empty() {
                // An item of the root: the module that the root re-exports it from, if any.
                let Some(first) = root_item(&f.module, &path) else { continue };
                let Some(module) = reexports.get(&first) else { continue };
                target = module.clone();
            }
            let to = target[0].clone();
            if to != from {
                edges.entry((from.clone(), to)).or_insert_with(|| format!("{}:{}", f.rel, line_of(&f.code, at)));
            }
        }
    }
    edges
}

/// The first segment after the root in `path` as seen from `module`, when `path` starts at the
/// root (`crate::X`, or `super::X` from a top-level module).
fn root_item(module: &[String], path: &[String]) -> Option<String> {
    let mut base = module.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.is_empty().then(|| rest.first().cloned()).flatten()
}

/// The module a path (as written in `module`) leads into: the longest known module prefix of
/// its absolute form; `None` for a path outside the crate.
fn resolve(module: &[String], path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut abs: Vec<String>;
    let mut rest = path;
    match rest.first()?.as_str() {
        "crate" => {
            abs = Vec::new();
            rest = &rest[1..];
        }
        "super" => {
            abs = module.to_vec();
            while rest.first().is_some_and(|s| s == "super") {
                abs.pop()?;
                rest = &rest[1..];
            }
        }
        "self" => {
            abs = module.to_vec();
            rest = &rest[1..];
        }
        first => {
            // A child module named without a prefix (`use files::walk` in `source/mod.rs`).
            let mut child = module.to_vec();
            child.push(first.to_owned());
            if !modules.contains(&child) {
                return None;
            }
            abs = module.to_vec();
        }
    }
    abs.extend(rest.iter().cloned());
    (0..=abs.len()).rev().map(|n| abs[..n].to_vec()).find(|prefix| modules.contains(prefix))
}

/// Every path a `use` declaration brings in, expanded (`use a::{b, c::d}` → `a::b`, `a::c::d`),
/// with the declaration's offset.
fn uses(code: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    for at in super::lexer::find_word(code, "use") {
        let after = &code[at + 3..];
        if !after.starts_with(char::is_whitespace) {
            continue;
        }
        let Some(end) = after.find(';') else { continue };
        for path in expand(&normalize(&after[..end])) {
            out.push((at, path));
        }
    }
    out
}

/// A use tree without whitespace, ` as ` written `@`.
fn normalize(tree: &str) -> String {
    tree.split_whitespace().map(|t| if t == "as" { "@" } else { t }).collect()
}

/// A (normalized) use tree's paths: `a::{b,c::{d,e}}` → `[a,b]`, `[a,c,d]`, `[a,c,e]`; `self` in a group is
/// the group's prefix; `as` renames and `*` are dropped.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim_start_matches("::");
    let Some(open) = tree.find('{') else {
        let path = tree.split('@').next().unwrap_or(tree);
        let segs: Vec<String> = path.split("::").filter(|s| !s.is_empty() && *s != "*").map(str::to_owned).collect();
        return if segs.is_empty() { Vec::new() } else { vec![segs] };
    };
    let prefix: Vec<String> = tree[..open].split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    let mut items = Vec::new();
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    for item in items.into_iter().filter(|i| !i.is_empty()) {
        if item == "self" || item.starts_with("self@") {
            out.push(prefix.clone());
            continue;
        }
        for sub in expand(item) {
            let mut path = prefix.clone();
            path.extend(sub);
            out.push(path);
        }
    }
    out
}

/// `crate::a::b`, `super::a` and `self::a` paths written in code outside `use` declarations.
fn inline_paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        for at in super::lexer::find_word(code, start.trim_end_matches("::")) {
            if !code[at..].starts_with(start) {
                continue;
            }
            let mut segs = Vec::new();
            let mut rest = &code[at..];
            loop {
                let len = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
                if len == 0 {
                    break;
                }
                segs.push(rest[..len].to_owned());
                rest = &rest[len..];
                match rest.strip_prefix("::") {
                    Some(r) => rest = r,
                    None => break,
                }
            }
            out.push((at, segs));
        }
    }
    out
}

/// The elementary cycles through each strongly connected group of `edges`, one per group:
/// `[a, b, c, a]`.
fn cycles(edges: &Edges) -> Vec<Vec<String>> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().push(to);
    }
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for start in graph.keys().copied() {
        if reported.contains(start) {
            continue;
        }
        // Shortest path back to `start` (breadth first), so the cycle named is the tightest.
        let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut closing = None;
        while let Some(node) = queue.pop_front() {
            for next in graph.get(node).into_iter().flatten().copied() {
                if next == start {
                    closing = Some(node);
                    break;
                }
                if !prev.contains_key(next) {
                    prev.insert(next, node);
                    queue.push_back(next);
                }
            }
            if closing.is_some() {
                break;
            }
        }
        let Some(mut node) = closing else { continue };
        let mut cycle = vec![start.to_owned()];
        let mut back = vec![node.to_owned()];
        while node != start {
            node = prev[node];
            if node != start {
                back.push(node.to_owned());
            }
        }
        back.reverse();
        cycle.extend(back);
        cycle.push(start.to_owned());
        let key: BTreeSet<String> = cycle.iter().cloned().collect();
        reported.extend(key);
        out.push(cycle);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_trees_expand() {
        let paths = expand(&normalize("crate::{a::{self, B}, c::D as E, f::*}"));
        assert_eq!(
            paths,
            vec![
                vec!["crate".to_string(), "a".into()],
                vec!["crate".into(), "a".into(), "B".into()],
                vec!["crate".into(), "c".into(), "D".into()],
                vec!["crate".into(), "f".into()],
            ]
        );
    }

    fn crate_with(files: &[(&str, &str)]) -> tempfile_free::Dir {
        let dir = tempfile_free::Dir::new();
        for (rel, text) in files {
            let p = dir.0.join("src").join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_cycle_is_named_with_where_each_step_is_imported() {
        let dir = crate_with(&[
            ("lib.rs", "mod a;\nmod b;\nmod c;\npub use c::Thing;\npub struct Trove;\n"),
            ("a.rs", "use crate::Trove;\nuse crate::b::X;\n"),
            ("b/mod.rs", "mod inner;\n"),
            ("b/inner.rs", "fn f() { let _ = crate::Thing::new(); super::super::a::g(); }\n"),
            ("c.rs", "use crate::Trove;\n"),
        ]);
        let mut problems = Vec::new();
        check_no_cycle(&dir.0, "src", &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("a -> b (src/a.rs:2), b -> a (src/b/inner.rs:1)"),
            "the cycle and its imports are named: {problems:?}"
        );

        let dir = crate_with(&[
            ("lib.rs", "mod a;\nmod b;\npub struct Trove;\n"),
            ("a.rs", "use crate::{Trove, b::X};\n"),
            ("b.rs", "use crate::Trove;\n// crate::a::f\n"),
        ]);
        let mut problems = Vec::new();
        check_no_cycle(&dir.0, "src", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    /// A temporary folder without a dependency: removed on drop.
    mod tempfile_free {
        pub struct Dir(pub std::path::PathBuf);

        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "xtask-tidy-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                let _ = std::fs::remove_dir_all(&p);
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}
