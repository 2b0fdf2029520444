//! proptest strategies for keys, contents, and lifecycle operation sequences.

use proptest::prelude::*;
use trove_domain::lifecycle::Operation;

/// Valid keys: 1-4 segments of safe characters, with a suffix.
pub fn valid_key() -> impl Strategy<Value = String> {
    (
        // Inner spaces only: a segment may not begin or end with whitespace.
        proptest::collection::vec("[a-zA-Z0-9_]([a-zA-Z0-9_ -]{0,10}[a-zA-Z0-9_])?", 0..4),
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

/// Pieces of text that break keys on some backend: whitespace (ASCII and Unicode, including
/// what `str::trim` removes and what it does not), control and format characters, case- and
/// length-changing letters, separators, dots, reserved names, and long runs.
const KEY_PIECES: &[&str] = &[
    "a",
    "b1",
    "data",
    "é",
    "e\u{301}",
    "日本",
    "🎉",
    "İ",
    "ß",
    "Ω",
    "ﬁ",
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "\0",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{1680}",
    "\u{2000}",
    "\u{2028}",
    "\u{3000}",
    "\u{200b}",
    "\u{200d}",
    "\u{feff}",
    "\u{202e}",
    "\u{fffd}",
    ".",
    "..",
    "/",
    "//",
    "\\",
    ".trove",
    ".trove-tmp-",
    ".csv",
    ".CSV",
    ".tar.gz",
    ".ome.zarr",
    ":",
    "*",
    "?",
    "%2F",
    "~",
];

/// Arbitrary key-like text for fuzzing key parsing and the key-to-path mappings: arbitrary
/// Unicode strings, concatenations of `KEY_PIECES` (mostly invalid, often valid), and long
/// names near the segment, suffix and key length limits.
pub fn key_text() -> impl Strategy<Value = String> {
    let pieces = proptest::collection::vec(proptest::sample::select(KEY_PIECES), 0..16).prop_map(|p| p.concat());
    let long = (1usize..6, 200usize..300, proptest::sample::select(&["x", "é", ".s", " "][..])).prop_map(
        |(segments, len, unit)| {
            let seg: String = unit.repeat(len / unit.len());
            vec![seg; segments].join("/")
        },
    );
    prop_oneof![
        3 => pieces,
        2 => any::<String>(),
        2 => valid_key(),
        1 => long,
    ]
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
