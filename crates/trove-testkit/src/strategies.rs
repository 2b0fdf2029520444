//! proptest strategies for keys, contents, and lifecycle operation sequences.

use proptest::prelude::*;
use trove_domain::lifecycle::Operation;

/// Valid keys: 1-4 segments of safe characters, with a suffix.
pub fn valid_key() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec("[a-zA-Z0-9_][a-zA-Z0-9_ -]{0,11}", 0..4),
        "[a-zA-Z0-9_]{1,12}",
        prop_oneof![Just(".csv"), Just(".parquet"), Just(".txt"), Just(".csv.gz"), Just("")],
    )
        .prop_map(|(dirs, stem, suffix)| {
            let mut parts = dirs;
            parts.push(format!("{stem}{suffix}"));
            parts.join("/")
        })
}

/// Key-like strings built from the characters that break keys: dots, slashes, backslashes,
/// control characters, the managed prefix, unicode. Most are invalid; some are valid.
pub fn hostile_key() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("a".to_owned()),
            Just("b1".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("/".to_owned()),
            Just("\\".to_owned()),
            Just(".trove".to_owned()),
            Just("\0".to_owned()),
            Just("\n".to_owned()),
            Just("é".to_owned()),
            Just(" ".to_owned()),
            Just(".csv".to_owned()),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// Content with random chunk boundaries: the bytes and the cut points (sorted, within range).
pub fn chunked_content(max_len: usize) -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    proptest::collection::vec(any::<u8>(), 0..max_len).prop_flat_map(|data| {
        let len = data.len();
        (Just(data), proptest::collection::vec(0..=len, 0..8)).prop_map(|(d, mut cuts)| {
            cuts.sort_unstable();
            (d, cuts)
        })
    })
}

/// A lifecycle operation.
pub fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        Just(Operation::Trash),
        Just(Operation::Restore),
        Just(Operation::Archive),
        Just(Operation::DeletePermanently),
        Just(Operation::SaveIdentical),
    ]
}

/// A sequence of (record index, operation) over `records` records.
pub fn operation_sequence(records: usize, max_len: usize) -> impl Strategy<Value = Vec<(usize, Operation)>> {
    proptest::collection::vec((0..records, operation()), 0..max_len)
}

/// The byte pattern of the hash vectors: `pattern(n, seed, mul)[i] = (i * mul + seed) % 251`.
pub fn pattern_period(seed: u64, mul: u64) -> Vec<u8> {
    (0..251u64).map(|i| ((i * mul + seed) % 251) as u8).collect()
}
