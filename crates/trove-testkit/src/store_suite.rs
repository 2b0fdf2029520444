//! The object-store conformance suite: checks every [`ObjectStore`] implementation passes.
//!
//! Each check is a plain async function taking an `Arc<dyn ObjectStore>` and returning a
//! [`CheckResult`]: `Ok(Outcome::Passed)`, `Ok(Outcome::Skipped(why))` when the store lacks the
//! capability the check needs, or `Err(message)` (a panic counts as one); the results read as
//! the catalog suite's do ([`crate::check`]). Every check works below its own prefix (its
//! name), so all checks may share one store; the store need not be empty. The checks live in
//! `store_suite/checks.rs` and are all re-exported here.
//!
//! Two ways to run it:
//! * [`store_suite!`](crate::store_suite!) generates one `#[tokio::test]` per check, so each
//!   failure is visible by name:
//!   ```text
//!   async fn fs_store() -> (Arc<dyn ObjectStore>, tempfile::TempDir) { ... }
//!   trove_testkit::store_suite!(fs_store);
//!   // or, for a backend that may be absent (the setup returns `Option<_>`):
//!   trove_testkit::store_suite!(optional s3_store);
//!   ```
//! * [`run_all`] runs every check on one store and returns a [`SuiteReport`].
//!
//! Contract details the port leaves open and this suite fixes (see each check): a range
//! reaching past the end is cut at the end; keys with `..`, empty segments or a leading `/`
//! are refused; `display_path` ends with the key.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use trove_domain::ports::ObjectStore;

pub use crate::check::{CheckResult, Outcome, SuiteReport};

mod checks;

pub use checks::{
    aborted_writer_leaves_nothing, aliasing_keys_are_refused_on_every_call, concurrent_writers_last_close_wins,
    content_md5_is_exact_when_given, copy_objects, delete_missing_is_false, delete_prefix_removes_everything_below,
    dropped_writer_leaves_nothing, empty_object, escaping_keys_are_refused,
    interrupted_write_is_a_leftover_until_deleted, keys_with_spaces_and_unicode, large_object_spanning_parts,
    list_is_recursive_sorted_relative, list_of_missing_prefix_is_empty, list_prefix_without_slash_matches_by_string,
    multi_chunk_object, new_object_invisible_until_close, overwrite_becomes_visible_at_close, paths_name_the_key,
    range_reads, read_missing_is_not_found, rename_per_capability, round_trip_small, single_part_etag_is_md5,
    stat_present_and_missing,
};

/// A check: a name and an async function of a store.
pub type CheckFn = fn(Arc<dyn ObjectStore>) -> Pin<Box<dyn Future<Output = CheckResult> + Send>>;

/// What a test setup yields: a store, possibly with guards (a temporary directory, a server)
/// that must live as long as the test.
pub trait StoreFixture: Send {
    /// The store under test.
    fn store(&self) -> Arc<dyn ObjectStore>;
}

impl StoreFixture for Arc<dyn ObjectStore> {
    fn store(&self) -> Arc<dyn ObjectStore> {
        self.clone()
    }
}

impl<G: Send> StoreFixture for (Arc<dyn ObjectStore>, G) {
    fn store(&self) -> Arc<dyn ObjectStore> {
        self.0.clone()
    }
}

/// Run every check on `store`, one after another.
pub async fn run_all(store: Arc<dyn ObjectStore>) -> SuiteReport {
    let mut results = Vec::new();
    for (name, check) in CHECKS {
        results.push((*name, crate::check::caught(check(store.clone())).await));
    }
    SuiteReport { suite: "object-store", results }
}

/// Run the check called `name` on `store`; a panic in the check is an `Err`; `Err` too if
/// there is no such check.
pub async fn run_check(name: &str, store: Arc<dyn ObjectStore>) -> CheckResult {
    match CHECKS.iter().find(|(n, _)| *n == name) {
        Some((_, check)) => crate::check::caught(check(store)).await,
        None => Err(format!("no object-store check is called '{name}'")),
    }
}

/// Run the check `name` on the fixture's store and [`conclude`](crate::check::conclude) (what
/// each generated test does).
pub async fn run_named<F: StoreFixture>(name: &str, fixture: &F) {
    let store = fixture.store();
    let root = store.root().to_string();
    crate::check::conclude("object-store", name, &root, run_check(name, store).await);
}

/// The one list of checks: calls `$callback! { [args] check, check, ... }`.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_checks {
    ($callback:ident [$($args:tt)*]) => {
        $crate::$callback! { [$($args)*]
            round_trip_small,
            empty_object,
            multi_chunk_object,
            large_object_spanning_parts,
            range_reads,
            read_missing_is_not_found,
            stat_present_and_missing,
            content_md5_is_exact_when_given,
            single_part_etag_is_md5,
            list_is_recursive_sorted_relative,
            list_prefix_without_slash_matches_by_string,
            list_of_missing_prefix_is_empty,
            delete_missing_is_false,
            delete_prefix_removes_everything_below,
            copy_objects,
            rename_per_capability,
            overwrite_becomes_visible_at_close,
            new_object_invisible_until_close,
            aborted_writer_leaves_nothing,
            dropped_writer_leaves_nothing,
            interrupted_write_is_a_leftover_until_deleted,
            concurrent_writers_last_close_wins,
            keys_with_spaces_and_unicode,
            escaping_keys_are_refused,
            aliasing_keys_are_refused_on_every_call,
            paths_name_the_key,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_define_checks {
    ([] $($name:ident),* $(,)?) => {
        /// Every check, by name, in the order [`run_all`] runs them.
        pub const CHECKS: &[(&str, CheckFn)] = &[
            $((stringify!($name), |s| Box::pin($name(s))),)*
        ];
    };
}

__store_checks!(__store_define_checks []);

/// Generate one `#[tokio::test]` per check of the object-store suite.
///
/// The argument names an `async fn` returning a [`StoreFixture`] (for example
/// `(Arc<dyn ObjectStore>, TempDir)`); each test gets a fresh one. With `optional`, the function
/// returns `Option<_>` and `None` skips the backend with a printed note (a backend configured
/// by environment variables). The calling crate needs `tokio` with `macros` and
/// `rt-multi-thread`.
#[macro_export]
macro_rules! store_suite {
    (optional $setup:path) => {
        $crate::__store_checks!(__store_suite_tests [optional $setup]);
    };
    ($setup:path) => {
        $crate::__store_checks!(__store_suite_tests [required $setup]);
    };
}

/// The former name of [`store_suite!`], kept while branches written before the rename are
/// merged; use `store_suite!`.
#[doc(hidden)]
#[macro_export]
macro_rules! object_store_suite {
    ($($args:tt)*) => {
        $crate::store_suite!($($args)*);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_suite_tests {
    ([required $setup:path] $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let fixture = $setup().await;
                $crate::store_suite::run_named(stringify!($check), &fixture).await;
            }
        )*
    };
    ([optional $setup:path] $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                match $setup().await {
                    Some(fixture) => $crate::store_suite::run_named(stringify!($check), &fixture).await,
                    None => eprintln!(
                        "object-store check {} skipped: backend not available ({})",
                        stringify!($check),
                        stringify!($setup)
                    ),
                }
            }
        )*
    };
}
