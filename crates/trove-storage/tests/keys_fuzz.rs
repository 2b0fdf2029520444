//! Fuzzing the stores' byte-level key checks (issue 9): a key the stores accept is one that
//! OpenDAL's path normaliser leaves unchanged, so one key names exactly one object on every
//! call of every backend; and every valid domain key, as any storage key, is accepted.
//! `FUZZ_CASES` cases per property (default 10,000); the counts are printed.

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use trove_domain::Key;
use trove_domain::ids::Uid;
use trove_domain::key::{Placement, managed_storage_key, storage_key};
use trove_storage::{check_key, check_prefix};
use trove_testkit::strategies::key_text;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

#[test]
fn accepted_object_keys_are_what_the_normaliser_leaves_alone() {
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let (ran, accepted) = (Cell::new(0u64), Cell::new(0u64));
    runner
        .run(&key_text(), |k| {
            ran.set(ran.get() + 1);
            if check_key(&k).is_err() {
                return Ok(());
            }
            accepted.set(accepted.get() + 1);
            prop_assert_eq!(opendal::raw::normalize_path(&k), k.clone(), "the normaliser rewrites {:?}", k);
            prop_assert!(k.split('/').all(|s| !s.is_empty() && s != "." && s != ".."), "{:?}", k);
            prop_assert!(check_prefix(&(k.clone() + "/")).is_ok());
            Ok(())
        })
        .unwrap();
    let (ran, accepted) = (ran.get(), accepted.get());
    eprintln!("fuzz check_key: {ran} executions, {accepted} accepted");
    assert!(ran >= u64::from(cases()) && accepted * 20 >= ran && (ran - accepted) * 20 >= ran, "{accepted}/{ran}");
}

#[test]
fn every_storage_key_of_a_valid_key_is_accepted() {
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let uid = Uid::parse("AbCdEfGhIjKlMnOp0000").unwrap();
    let (ran, valid) = (Cell::new(0u64), Cell::new(0u64));
    runner
        .run(&(key_text(), key_text()), |(a, b)| {
            ran.set(ran.get() + 1);
            let Ok(key) = Key::parse(&a) else { return Ok(()) };
            valid.set(valid.get() + 1);
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
                let sk = storage_key(&uid, Some(&key), &suffix, p);
                prop_assert!(check_key(&sk).is_ok(), "{:?} ({:?}): {:?}", sk, p, check_key(&sk).err());
                prop_assert_eq!(opendal::raw::normalize_path(&sk), sk.clone());
            }
            Ok(())
        })
        .unwrap();
    let (ran, valid) = (ran.get(), valid.get());
    eprintln!("fuzz storage keys of valid keys: {ran} executions, {valid} valid keys");
    assert!(ran >= u64::from(cases()) && valid * 20 >= ran, "{valid}/{ran}");
}
