//! Fuzzing the mapping from keys to cache paths (issue 9), as proptest runs under `cargo test`:
//! whatever the key and the store root, a cache path stays below the cache root; every valid
//! key has one; distinct keys (and managed storage keys) never share one. `FUZZ_CASES` cases
//! per property (default 10,000); the counts are printed.

use std::cell::Cell;
use std::path::{Component, Path};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use trove::Key;
use trove::cache_path;
use trove::domain::ids::Uid;
use trove::domain::key::managed_storage_key;
use trove_testkit::strategies::key_text;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() })
}

fn store_root() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("s3://bucket/prefix".to_owned()),
        Just("gs://bucket".to_owned()),
        key_text().prop_map(|t| format!("s3://{t}")),
        key_text(),
    ]
}

#[test]
fn cache_paths_stay_below_the_cache_root() {
    let root = Path::new("/cache/root");
    let (ran, ok) = (Cell::new(0u64), Cell::new(0u64));
    runner()
        .run(&(store_root(), key_text()), |(store, rel)| {
            ran.set(ran.get() + 1);
            let Ok(p) = cache_path(root, &store, &rel) else { return Ok(()) };
            ok.set(ok.get() + 1);
            prop_assert!(p.starts_with(root) && p != root, "{:?} from {:?} {:?}", p, store, rel);
            prop_assert!(p.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_))), "{:?}", p);
            prop_assert!(!p.strip_prefix(root).unwrap().starts_with(".trove-cache"), "the cache's own index");
            Ok(())
        })
        .unwrap();
    eprintln!("fuzz cache_path: {} executions, {} paths", ran.get(), ok.get());
    assert!(ran.get() >= u64::from(cases()) && ok.get() * 20 >= ran.get());
}

#[test]
fn distinct_keys_never_share_a_cache_path() {
    let root = Path::new("/cache");
    let uid = Uid::parse("AbCdEfGhIjKlMnOp0000").unwrap();
    let (ran, pairs) = (Cell::new(0u64), Cell::new(0u64));
    runner()
        .run(&(key_text(), key_text()), |(a, b)| {
            ran.set(ran.get() + 1);
            let Ok(ka) = Key::parse(&a) else { return Ok(()) };
            let pa = cache_path(root, "s3://bucket/prefix", ka.as_str());
            prop_assert!(pa.is_ok(), "valid key {:?} has no cache path: {:?}", a, pa.err());
            let pa = pa.unwrap();
            let managed = cache_path(root, "s3://bucket/prefix", &managed_storage_key(&uid, &ka.suffix())).unwrap();
            prop_assert_ne!(&pa, &managed, "a key and a managed object share a cache path");
            let Ok(kb) = Key::parse(&b) else { return Ok(()) };
            pairs.set(pairs.get() + 1);
            let pb = cache_path(root, "s3://bucket/prefix", kb.as_str()).unwrap();
            prop_assert_eq!(ka == kb, pa == pb, "{:?} and {:?}", a, b);
            Ok(())
        })
        .unwrap();
    eprintln!("fuzz distinct cache paths: {} executions, {} pairs of valid keys", ran.get(), pairs.get());
    assert!(ran.get() >= u64::from(cases()) && pairs.get() * 20 >= ran.get());
}
