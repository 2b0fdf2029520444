//! Fuzzing the key rules and the key-to-storage-key mapping (issue 9), as proptest runs that
//! CI executes under `cargo test`: arbitrary Unicode text, key-breaking pieces (whitespace,
//! control and format characters, dots, reserved names) and names near the length limits.
//!
//! Each property runs `FUZZ_CASES` cases (default 10,000) and prints how many ran and how many
//! were valid keys, so the count can be reported; a run where almost everything is accepted or
//! almost everything rejected fails, since it would test one side only.

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use trove_domain::ids::Uid;
use trove_domain::key::{
    MANAGED_DIR, MAX_KEY_BYTES, MAX_SEGMENT_BYTES, Placement, managed_storage_key, object_segment_problem, storage_key,
    suffix_of,
};
use trove_domain::{ErrorKind, Key};
use trove_testkit::strategies::key_text;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

/// Run `check` on `cases()` inputs; print and return (executed, accepted).
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value) -> Result<bool, TestCaseError>) -> (u64, u64) {
    let ran = AtomicU64::new(0);
    let accepted = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let result = runner.run(&strategy, |v| {
        ran.fetch_add(1, Ordering::Relaxed);
        if check(v)? {
            accepted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let (ran, accepted) = (ran.into_inner(), accepted.into_inner());
    eprintln!("fuzz {name}: {ran} executions, {accepted} valid keys");
    (ran, accepted)
}

fn assert_both_sides(name: &str, (ran, accepted): (u64, u64)) {
    assert!(ran >= u64::from(cases()), "{name}: only {ran} executions");
    assert!(accepted * 20 >= ran && (ran - accepted) * 20 >= ran, "{name}: {accepted} of {ran} accepted, one-sided");
}

fn some_uid() -> impl Strategy<Value = Uid> {
    "[0-9A-Za-z]{16}"
        .prop_flat_map(|stem| (0u32..1000).prop_map(move |v| Uid::parse(&format!("{stem}{v:04}")).unwrap()))
}

/// Accepted keys round-trip (text and serde) and obey every segment rule; rejected text gets
/// `InvalidKey`, and serde refuses exactly what `parse` refuses.
#[test]
fn key_parse_round_trips_and_rejects_with_invalid_key() {
    let counts = fuzz("key_parse", key_text(), |s| {
        let parsed = Key::parse(&s);
        let via_serde = serde_json::from_value::<Key>(serde_json::Value::String(s.clone()));
        prop_assert_eq!(parsed.is_ok(), via_serde.is_ok(), "parse and serde disagree on {:?}", s);
        let k = match parsed {
            Err(e) => {
                prop_assert_eq!(e.kind(), ErrorKind::InvalidKey, "{:?}: {}", s, e.message());
                prop_assert!(e.message().len() < 600, "message too long for {:?}", s);
                return Ok(false);
            }
            Ok(k) => k,
        };
        prop_assert_eq!(k.as_str(), s.as_str());
        prop_assert_eq!(&Key::parse(k.as_str()).unwrap(), &k);
        let json = serde_json::to_string(&k).unwrap();
        prop_assert_eq!(&serde_json::from_str::<Key>(&json).unwrap(), &k);
        prop_assert_eq!(via_serde.unwrap(), k.clone());
        prop_assert!(s.len() <= MAX_KEY_BYTES && !s.starts_with('/'));
        for seg in s.split('/') {
            prop_assert!(object_segment_problem(seg).is_none(), "{:?} in {:?}", seg, s);
            prop_assert_eq!(seg.trim(), seg, "a segment a normaliser would trim, in {:?}", s);
            prop_assert!(seg.len() <= MAX_SEGMENT_BYTES);
            prop_assert!(seg != MANAGED_DIR && !seg.starts_with(".trove-tmp-"));
        }
        // Its suffix names a stored file within one segment, and a suffix change stays a key
        // (or is refused), never a panic.
        prop_assert!(20 + k.suffix().len() <= MAX_SEGMENT_BYTES);
        let _ = k.with_suffix(&k.suffix(), ".csv");
        Ok(true)
    });
    assert_both_sides("key_parse", counts);
}

/// The storage key of an accepted key, for every placement, stays inside the root: relative,
/// no empty, `.` or `..` segment, every segment storable as given, within the length limit.
#[test]
fn storage_keys_never_escape_the_root() {
    let counts = fuzz("storage_key", (key_text(), key_text(), some_uid()), |(a, b, uid)| {
        let Ok(key) = Key::parse(&a) else { return Ok(false) };
        let suffix = key.suffix();
        let mut placements = vec![
            Placement::Managed,
            Placement::RealKey,
            Placement::SharedStore { store_key: managed_storage_key(&uid, &suffix) },
        ];
        if let Ok(real) = Key::parse(&b) {
            placements.push(Placement::InPlace { real_path: real.as_str().to_owned() });
        }
        for p in &placements {
            for k in [Some(&key), None] {
                let sk = storage_key(&uid, k, &suffix, p);
                prop_assert!(!sk.is_empty() && !sk.starts_with('/') && sk.len() <= MAX_KEY_BYTES, "{:?}", sk);
                for seg in sk.split('/') {
                    prop_assert!(object_segment_problem(seg).is_none(), "{:?} in {:?} ({:?})", seg, sk, p);
                }
                let joined = std::path::Path::new("/root").join(&sk);
                prop_assert!(joined.starts_with("/root") && joined != std::path::Path::new("/root"));
            }
        }
        Ok(true)
    });
    assert!(counts.1 * 20 >= counts.0, "storage_key: too few valid keys: {counts:?}");
}

/// Distinct keys never share an object: as real keys they are distinct storage keys, and no
/// key is ever a managed storage key; distinct uids give distinct managed keys.
#[test]
fn distinct_keys_never_share_a_storage_key() {
    let counts = fuzz("distinct_keys", (key_text(), key_text(), some_uid(), some_uid()), |(a, b, u1, u2)| {
        let (Ok(ka), Ok(kb)) = (Key::parse(&a), Key::parse(&b)) else { return Ok(false) };
        let real_a = storage_key(&u1, Some(&ka), &ka.suffix(), &Placement::RealKey);
        let real_b = storage_key(&u1, Some(&kb), &kb.suffix(), &Placement::RealKey);
        prop_assert_eq!(ka == kb, real_a == real_b);
        let managed_a = managed_storage_key(&u1, &ka.suffix());
        let managed_b = managed_storage_key(&u2, &kb.suffix());
        prop_assert_eq!(u1 == u2 && ka.suffix() == kb.suffix(), managed_a == managed_b);
        prop_assert!(managed_a != real_a && managed_a != real_b && managed_b != real_a);
        // A managed key is never inside a real key's folder, nor a real key inside it.
        let nested = managed_a.starts_with(&(real_b.clone() + "/")) || real_b.starts_with(&(managed_a.clone() + "/"));
        prop_assert!(!nested, "{:?} and {:?}", managed_a, real_b);
        Ok(true)
    });
    assert!(counts.0 >= u64::from(cases()));
}

/// Suffixes: whatever a file name is, its canonical suffix is short enough or refused, and
/// `suffix_of` never panics.
#[test]
fn suffixes_are_checked_not_trusted() {
    let counts = fuzz("suffix", key_text(), |name| {
        let suffix = suffix_of(&name);
        let ok = trove_domain::key::check_suffix(&suffix).is_ok();
        if ok {
            prop_assert!(suffix.is_empty() || (suffix.starts_with('.') && !suffix.contains('/')));
            prop_assert!(20 + suffix.len() <= MAX_SEGMENT_BYTES);
        }
        Ok(ok)
    });
    assert!(counts.0 >= u64::from(cases()));
}
