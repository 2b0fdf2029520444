//! Property tests of the pure domain: keys, hashing, and the lifecycle table.

use std::collections::HashMap;

use proptest::prelude::*;
use trove_domain::hash::{ContentHasher, combine_part_digests, hash_bytes, md5_digest};
use trove_domain::lifecycle::{NoOpReason, Operation, RecordState, Transition, transition};
use trove_domain::{BranchId, ErrorKind, Key};
use trove_testkit::strategies::{chunked_content, hostile_key, operation_sequence, valid_key};

proptest! {
    /// A key the validator accepts never escapes the storage root, never enters the managed
    /// area, and is relative.
    #[test]
    fn accepted_keys_never_escape_the_root(s in hostile_key()) {
        if let Ok(k) = Key::parse(&s) {
            let mut depth: i64 = 0;
            for seg in k.as_str().split('/') {
                prop_assert!(!seg.is_empty() && seg != "." && seg != "..", "segment {seg:?} in {s:?}");
                prop_assert!(seg != ".trove");
                depth += 1;
            }
            prop_assert!(depth >= 1);
            prop_assert!(!k.as_str().starts_with('/') && !k.as_str().contains('\\'));
            prop_assert!(!k.as_str().chars().any(char::is_control));
            let root = std::path::Path::new("/root");
            let joined = root.join(k.as_str());
            prop_assert!(joined.starts_with(root));
        }
    }

    /// Generated valid keys are accepted and keep their suffix.
    #[test]
    fn valid_keys_are_accepted(s in valid_key()) {
        let k = Key::parse(&s).unwrap();
        prop_assert_eq!(k.as_str(), s.as_str());
    }

    /// Hashing content split at random chunk boundaries equals hashing it whole, including
    /// across (small, test-sized) part boundaries.
    #[test]
    fn chunking_never_changes_the_hash((data, cuts) in chunked_content(4096), part in 1u64..700) {
        let mut whole = ContentHasher::with_part_size(part);
        whole.update(&data);
        let whole = whole.finish();
        let mut split = ContentHasher::with_part_size(part);
        let mut prev = 0;
        for &c in cuts.iter().chain(std::iter::once(&data.len())) {
            split.update(&data[prev..c]);
            prev = c;
        }
        prop_assert_eq!(&split.finish(), &whole);
        // Multipart hashes equal the MD5 of the concatenated part digests (the S3 ETag rule).
        let digests: Vec<[u8; 16]> = data.chunks(part as usize).map(md5_digest).collect();
        prop_assert_eq!(&combine_part_digests(&digests, data.len() as u64).hash, &whole.hash);
        if data.len() as u64 <= part {
            prop_assert_eq!(&whole.hash, &hash_bytes(&data).hash);
        }
    }

    /// The lifecycle table against a simple model of spec 1, section 2, over random sequences.
    #[test]
    fn lifecycle_matches_the_model(ops in operation_sequence(3, 40)) {
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum M { Main, Archive, Trash { from_archive: bool }, Gone }
        let mut model: HashMap<usize, M> = (0..3).map(|i| (i, M::Main)).collect();
        let mut state: HashMap<usize, RecordState> = (0..3).map(|i| (i, RecordState::Live(BranchId::MAIN))).collect();
        for (i, op) in ops {
            let m = model[&i];
            let got = transition(state[&i], op, "record");
            // The model: what the spec says, written plainly.
            let want: Result<M, ErrorKind> = match (m, op) {
                (M::Gone, _) => Err(ErrorKind::NotFound),
                (_, Operation::DeletePermanently) => Ok(M::Gone),
                (M::Main, Operation::Trash) => Ok(M::Trash { from_archive: false }),
                (M::Archive, Operation::Trash) => Ok(M::Trash { from_archive: true }),
                (M::Trash { .. }, Operation::Trash) => Err(ErrorKind::AlreadyInTrash),
                (M::Trash { from_archive }, Operation::Restore | Operation::SaveIdentical) => {
                    Ok(if from_archive { M::Archive } else { M::Main })
                }
                (M::Archive, Operation::Restore) => Ok(M::Main),
                (M::Main, Operation::Restore | Operation::SaveIdentical) => Ok(M::Main),
                (M::Archive, Operation::SaveIdentical) => Ok(M::Archive),
                (M::Main | M::Archive, Operation::Archive) => Ok(M::Archive),
                (M::Trash { .. }, Operation::Archive) => Err(ErrorKind::InvalidTransition),
            };
            match (got, want) {
                (Ok(t), Ok(next)) => {
                    let new_state = match t {
                        Transition::Move { from, to } => {
                            prop_assert_eq!(Some(from), state[&i].branch());
                            RecordState::of(to, (to == BranchId::TRASH).then_some(from))
                        }
                        Transition::NoOp { reason } => {
                            prop_assert!(reason != NoOpReason::Unsaved);
                            state[&i]
                        }
                        Transition::Purge => RecordState::Gone,
                    };
                    let as_model = match new_state {
                        RecordState::Live(_) => M::Main,
                        RecordState::Archived => M::Archive,
                        RecordState::Trashed { from } => M::Trash { from_archive: from == Some(BranchId::ARCHIVE) },
                        RecordState::Gone => M::Gone,
                        RecordState::Unsaved => unreachable!(),
                    };
                    prop_assert_eq!(as_model, next, "{:?} then {:?}", m, op);
                    state.insert(i, new_state);
                    model.insert(i, next);
                }
                (Err(e), Err(kind)) => prop_assert_eq!(e.kind(), kind),
                (got, want) => prop_assert!(false, "{:?} {:?}: got {:?}, model says {:?}", m, op, got.map_err(|e| e.kind()), want),
            }
        }
    }
}
