//! The model on its own: a few hand-checked sequences.

use super::*;

fn save(m: &mut Model, content: &str, key: Option<&str>, real: bool) -> Expect {
    m.apply(&Op::Save(SaveRequest {
        content: content.as_bytes().to_vec(),
        key: key.map(str::to_owned),
        real,
        allow_duplicate: false,
    }))
}

#[test]
fn versions_heads_and_trash() {
    let mut m = Model::new();
    assert_eq!(save(&mut m, "a", Some("k.txt"), false), Expect::Saved(SaveExpect::Created { slot: 0 }));
    assert_eq!(
        save(&mut m, "a", Some("other.txt"), false),
        Expect::Saved(SaveExpect::Existing { candidates: vec![0] })
    );
    assert_eq!(save(&mut m, "b", Some("k.txt"), false), Expect::Saved(SaveExpect::NewVersion { slot: 1, previous: 0 }));
    assert!(!m.is_latest(0) && m.is_latest(1));
    assert_eq!(
        m.apply(&Op::Trash(vec![1])),
        Expect::Moved(vec![(1, Transition::Move { from: BranchId::MAIN, to: BranchId::TRASH })])
    );
    assert!(m.is_latest(0) && m.is_latest(1), "one head per branch");
    assert_eq!(m.apply(&Op::Delete(1)), Expect::Failed(ErrorKind::AlreadyInTrash));
    assert_eq!(save(&mut m, "b", Some("k.txt"), false), Expect::Saved(SaveExpect::RestoredFromTrash { slot: 1 }));
    assert_eq!(
        m.apply(&Op::Restore(vec![1])),
        Expect::Moved(vec![(1, Transition::NoOp { reason: NoOpReason::AlreadyLive })])
    );
}

#[test]
fn replace_and_collections() {
    let mut m = Model::new();
    save(&mut m, "a", Some("k.txt"), true);
    save(&mut m, "b", Some("j.txt"), false);
    let replace = |slot, content: &str, suffix: &str| Op::Replace {
        slot,
        content: content.as_bytes().to_vec(),
        suffix: suffix.to_owned(),
    };
    assert_eq!(m.apply(&replace(0, "a", ".txt")), Expect::Replaced(ReplaceExpect::Unchanged { slot: 0 }));
    let Expect::Replaced(ReplaceExpect::Replaced { renamed, moved, .. }) = m.apply(&replace(0, "c", ".csv")) else {
        panic!()
    };
    assert_eq!(renamed, Some(("k.txt".into(), "k.csv".into())));
    assert_eq!(moved, Some((Location::Real("k.txt".into()), Location::Real("k.csv".into()))));
    assert!(!m.objects.contains_key(&Location::Real("k.txt".into())));
    save(&mut m, "d", Some("k.txt"), false);
    assert_eq!(m.records[2].family, 2, "the renamed head no longer holds the key");
    assert_eq!(m.apply(&replace(2, "e", ".csv")), Expect::Failed(ErrorKind::PathOccupied));
    m.apply(&Op::DeletePermanently(vec![2], StoragePolicy::Auto));
    assert_eq!(m.apply(&replace(2, "e", ".csv")), Expect::Failed(ErrorKind::NotFound));

    let create = Op::CreateCollection { members: vec![1, 0], key: Some("c".into()) };
    assert_eq!(m.apply(&create), Expect::Collection(CollectionExpect::Created { slot: 0 }));
    assert_eq!(m.apply(&create), Expect::Collection(CollectionExpect::Existing { slot: 0 }));
    assert_eq!(
        m.apply(&Op::TrashCollections(vec![0])),
        Expect::CollectionsMoved(vec![(0, Transition::Move { from: BranchId::MAIN, to: BranchId::TRASH })])
    );
    assert_eq!(m.apply(&create), Expect::Collection(CollectionExpect::Created { slot: 1 }));
    let purge = Op::DeletePermanently(vec![1], StoragePolicy::Auto);
    assert_eq!(m.apply(&purge), Expect::Failed(ErrorKind::Protected));
    assert_eq!(m.apply(&Op::DeleteCollectionsPermanently(vec![1, 0])), Expect::CollectionsPurged(vec![1, 0]));
    assert!(matches!(m.apply(&purge), Expect::Purged(_)));
}

#[test]
fn storage_policy_and_suffix_rules() {
    let mut m = Model::new();
    save(&mut m, "a", Some("k.txt"), true);
    save(&mut m, "b", Some("k.txt"), true);
    assert_eq!(m.records[0].location, Location::Managed { family: 0, version: 0, suffix: ".txt".into() });
    assert_eq!(m.records[1].location, Location::Real("k.txt".into()));
    let Expect::Purged(p) = m.apply(&Op::DeletePermanently(vec![1], StoragePolicy::Auto)) else { panic!() };
    assert_eq!(p[0].kept, Some(KeepReason::UserVisiblePath));
    assert!(m.objects.contains_key(&Location::Real("k.txt".into())));
    assert_eq!(save(&mut m, "c", Some("k.txt"), true), Expect::Failed(ErrorKind::PathOccupied));
    save(&mut m, "c", Some("k.txt"), false);
    assert_eq!(m.records[2].version, 2, "the purged version's suffix is not given again");
}
