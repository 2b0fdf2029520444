//! The invariants every test ends with, checked through the CLI and, independently, on the
//! raw storage (issue 9; spec 1 section 4):
//!
//! 1. `trove fsck --verify` finds nothing and exits 0, and a finding never exits 0;
//! 2. every record's bytes exist and hash to its hash (hashed here, not by Trove);
//! 3. nothing else is in the storage root: no unreferenced object, no temporary file, no
//!    unfinished multipart upload; only the instance's own files and bytes the user asked
//!    to keep;
//! 4. every content that must survive is a record with that exact hash;
//! 5. `trove gc --dry-run --grace 0s` finds no orphan.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::instance::Instance;

/// What the instance must hold.
#[derive(Debug, Default, Clone)]
pub struct Expect {
    /// Records that must exist, by uid, with the content hash they must have.
    pub records: BTreeMap<String, String>,
    /// Keys (relative to the root) that may remain without a record, with the hash their
    /// bytes must have: bytes a permanent deletion was told to keep.
    pub kept: BTreeMap<String, String>,
    /// Unfinished multipart uploads already reported (S3).
    pub unfinished_uploads: u64,
}

/// What [`verify`] saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every record (`ls --branch all --all-versions --json`).
    pub records: Vec<Value>,
    /// Every broken invariant, one line each.
    pub violations: Vec<String>,
    /// The objects in the storage root that nothing accounts for.
    pub strays: Vec<crate::raw::RawObject>,
    /// Unfinished multipart uploads in the bucket (S3).
    pub unfinished_uploads: u64,
}

impl Seen {
    /// The record with this uid.
    pub fn record(&self, uid: &str) -> Option<&Value> {
        self.records.iter().find(|r| r["uid"] == uid)
    }
}

/// A record's field as text.
pub fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or("")
}

/// Check every invariant; `actor` runs the commands.
pub fn verify(inst: &Instance, actor: &str, expect: &Expect) -> Seen {
    let mut seen = Seen::default();
    let v = &mut seen.violations;

    // 1. fsck --verify, and its exit code.
    let fsck = inst.run(actor, &["fsck", "--verify", "--json"]);
    match serde_json::from_str::<Value>(&fsck.stdout) {
        Ok(Value::Array(findings)) => {
            for f in &findings {
                v.push(format!("fsck --verify: {} {}: {}", field(f, "uid"), field(f, "problem"), field(f, "action")));
            }
            if !findings.is_empty() && fsck.ok() {
                v.push(format!("fsck --verify reported {} finding(s) but exited 0", findings.len()));
            }
            if findings.is_empty() && !fsck.ok() {
                v.push(format!("fsck --verify found nothing but failed: {}", fsck.describe()));
            }
        }
        _ => v.push(format!("fsck --verify printed no findings list: {}", fsck.describe())),
    }

    // 2. every record's bytes, hashed here.
    seen.records = match inst.json(actor, &["ls", "--branch", "all", "--all-versions"]) {
        Ok(Value::Array(records)) => records,
        Ok(other) => panic!("ls --json printed {other}"),
        Err(e) => {
            seen.violations.push(format!("cannot list the records: {e}"));
            return seen;
        }
    };
    let v = &mut seen.violations;
    let listing = inst.raw.list();
    let mut referenced_files = BTreeSet::new();
    let mut referenced_dirs = Vec::new();
    for r in &seen.records {
        let uid = field(r, "uid");
        let key = field(r, "storage_key");
        if field(r, "storage") != inst.root {
            v.push(format!("{uid}: stored in {} outside the instance's root {}", field(r, "storage"), inst.root));
            continue;
        }
        let folder = field(r, "hash_type") == "md5-tree";
        let got = if folder {
            referenced_dirs.push(format!("{key}/"));
            inst.raw.hash_folder(key, &listing)
        } else {
            referenced_files.insert(key.to_owned());
            inst.raw.hash_file(key)
        };
        let Some(got) = got else {
            v.push(format!("{uid} ({}): bytes missing at {}", field(r, "key"), inst.raw.describe(key)));
            continue;
        };
        let want = (field(r, "hash"), r["size"].as_u64(), r["n_files"].as_u64().filter(|_| folder));
        if (got.hash.as_str(), Some(got.size), got.n_files) != want {
            v.push(format!(
                "{uid} ({}): bytes at {} are {} ({} bytes{}), the record says {} ({} bytes{})",
                field(r, "key"),
                inst.raw.describe(key),
                got.hash,
                got.size,
                got.n_files.map(|n| format!(", {n} files")).unwrap_or_default(),
                want.0,
                want.1.unwrap_or(0),
                want.2.map(|n| format!(", {n} files")).unwrap_or_default(),
            ));
        }
        if got.hash_type != field(r, "hash_type") {
            v.push(format!("{uid}: hash type {} recorded, {} computed", field(r, "hash_type"), got.hash_type));
        }
    }

    // 3. nothing else in the root.
    for o in &listing {
        let referenced = referenced_files.contains(&o.key)
            || referenced_dirs.iter().any(|d| o.key.starts_with(d.as_str()))
            || Instance::is_instance_file(&o.key);
        if referenced {
            continue;
        }
        match expect.kept.get(&o.key) {
            Some(want) => {
                let got = inst.raw.hash_file(&o.key).map(|h| h.hash).unwrap_or_default();
                if &got != want {
                    v.push(format!("kept {}: hash {got}, expected {want}", inst.raw.describe(&o.key)));
                }
            }
            None => seen.strays.push(o.clone()),
        }
    }
    // One line per object, so that a caller can tell new leftovers from ones it saw before.
    const SHOWN: usize = 20;
    for o in seen.strays.iter().take(SHOWN) {
        v.push(format!("stray object that no record references: {} ({} bytes)", inst.raw.describe(&o.key), o.size));
    }
    if let Some(o) = seen.strays.get(SHOWN) {
        v.push(format!("{} more stray objects from {}", seen.strays.len() - SHOWN, inst.raw.describe(&o.key)));
    }
    for (key, _) in expect.kept.iter().filter(|(k, _)| !listing.iter().any(|o| &o.key == *k)) {
        v.push(format!("{} was to be kept, but is gone", inst.raw.describe(key)));
    }
    if let Some(bucket) = inst.bucket() {
        let u = bucket.unfinished_uploads();
        seen.unfinished_uploads = u.uploads;
        if u.uploads > expect.unfinished_uploads {
            v.push(format!(
                "{} new unfinished multipart upload(s) in {} ({} in all, holding {} bytes): invisible to listings \
                 and to gc, never aborted",
                u.uploads - expect.unfinished_uploads,
                bucket.bucket,
                u.uploads,
                u.bytes
            ));
        }
    }

    // 4. what must survive.
    for (uid, hash) in &expect.records {
        match seen.records.iter().find(|r| field(r, "uid") == uid) {
            None => v.push(format!("{uid}: committed content (hash {hash}) is gone: no such record")),
            Some(r) if field(r, "hash") != hash => {
                v.push(format!("{uid}: the record's hash is {}, the committed content's {hash}", field(r, "hash")))
            }
            Some(_) => {}
        }
    }

    // 5. gc finds nothing, and says so with its exit code.
    let gc = inst.run(actor, &inst.gc_args(&["--dry-run", "--json"]));
    match serde_json::from_str::<Value>(&gc.stdout) {
        // `orphans` (the first report format) or `plan.items` (gc's plan, since issue 9).
        Ok(report) => match report["orphans"].as_array().or_else(|| report["plan"]["items"].as_array()) {
            Some(orphans) if !orphans.is_empty() => {
                v.push(format!("gc --dry-run finds {} orphan(s): {orphans:?}", orphans.len()));
                if gc.ok() {
                    v.push("gc --dry-run found orphans but exited 0".into());
                }
            }
            Some(_) if !gc.ok() => v.push(format!("gc --dry-run found nothing but failed: {}", gc.describe())),
            Some(_) => {}
            None => v.push(format!("gc --dry-run printed no orphans list: {report}")),
        },
        Err(_) => v.push(format!("gc --dry-run printed no report: {}", gc.describe())),
    }
    seen
}

/// The content of `uid` as a user gets it (`trove cache UID`: the stored file, or a download
/// into the actor's cache), hashed here.
pub fn retrieve(inst: &Instance, actor: &str, uid: &str) -> Result<crate::hash::Hashed, String> {
    let r = inst.run(actor, &["cache", uid, "--json"]).first()?;
    let path = std::path::PathBuf::from(field(&r, "cache_path"));
    crate::hash::of_path(&path).map_err(|e| format!("{uid}: reading {}: {e}", path.display()))
}
