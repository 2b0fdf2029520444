//! What a conformance check concludes, the same for both suites
//! ([`catalog_suite`](mod@crate::catalog_suite), [`store_suite`](mod@crate::store_suite)).
//!
//! A check is an `async fn(target) -> CheckResult`: `Ok(Outcome::Passed)`,
//! `Ok(Outcome::Skipped(why))` when the target lacks what the check needs (a capability), or
//! `Err(message)` naming the broken guarantee. A check may also fail by panicking (a failed
//! assertion, an `expect`): the suites run every check through [`caught`], so a panic is
//! reported as an `Err` with its message, exactly like a returned one. Each suite keeps its
//! checks in one list (`CHECKS`), runs one by name (`run_check`) or all (`run_all`, giving a
//! [`SuiteReport`]), and generates one `#[tokio::test]` per check (`catalog_suite!`,
//! `store_suite!`), which ends in [`conclude`].

use std::any::Any;
use std::future::Future;

/// What a check concluded when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every assertion held.
    Passed,
    /// The target lacks what the check needs (a capability); the reason says which.
    Skipped(String),
}

/// `Ok` with an [`Outcome`], or `Err` with a message naming what differed.
pub type CheckResult = Result<Outcome, String>;

/// The result of running every check of a suite: one entry per check, in the suite's order.
#[derive(Debug, Clone)]
pub struct SuiteReport {
    /// The suite: `"catalog"` or `"object-store"`.
    pub suite: &'static str,
    /// `(check name, result)`.
    pub results: Vec<(&'static str, CheckResult)>,
}

impl SuiteReport {
    /// The failed checks with their messages.
    pub fn failures(&self) -> Vec<(&'static str, &str)> {
        self.results.iter().filter_map(|(n, r)| r.as_ref().err().map(|m| (*n, m.as_str()))).collect()
    }

    /// The skipped checks with their reasons.
    pub fn skipped(&self) -> Vec<(&'static str, &str)> {
        self.results
            .iter()
            .filter_map(|(n, r)| match r {
                Ok(Outcome::Skipped(why)) => Some((*n, why.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Panic with every failure if any check failed.
    pub fn assert_passed(&self) {
        let failures = self.failures();
        assert!(
            failures.is_empty(),
            "{} {} check(s) failed:\n{}",
            failures.len(),
            self.suite,
            failures.iter().map(|(n, m)| format!("  {n}: {m}")).collect::<Vec<_>>().join("\n")
        );
    }
}

/// Runs a check to its end on a task of its own: a panic inside it is an `Err` with the
/// panic's message. Needs a tokio runtime.
pub async fn caught<F>(check: F) -> CheckResult
where
    F: Future<Output = CheckResult> + Send + 'static,
{
    match tokio::spawn(check).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(panic_message(e.into_panic())),
        Err(e) => Err(format!("the check did not finish: {e}")),
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "panicked (no message)".to_owned(),
        },
    }
}

/// Ends a generated test: panics on failure (`<suite> check <name> failed on <target>: ...`),
/// notes a skip on stderr, says nothing on success.
pub fn conclude(suite: &str, name: &str, target: &str, result: CheckResult) {
    match result {
        Ok(Outcome::Passed) => {}
        Ok(Outcome::Skipped(why)) => eprintln!("{suite} check {name} skipped on {target}: {why}"),
        Err(message) => panic!("{suite} check {name} failed on {target}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_a_failure_with_its_message() {
        assert_eq!(caught(async { Ok(Outcome::Passed) }).await, Ok(Outcome::Passed));
        assert_eq!(caught(async { Err("differs".to_string()) }).await, Err("differs".to_string()));
        let failed = caught(async {
            assert_eq!(1 + 1, 3, "arithmetic holds");
            Ok(Outcome::Passed)
        })
        .await;
        assert!(failed.as_ref().is_err_and(|m| m.contains("arithmetic holds")), "{failed:?}");
        let report = SuiteReport {
            suite: "catalog",
            results: vec![("a", Ok(Outcome::Passed)), ("b", Ok(Outcome::Skipped("no".into()))), ("c", failed)],
        };
        assert_eq!(report.skipped(), vec![("b", "no")]);
        assert_eq!(report.failures().len(), 1);
    }
}
