//! Domain values in rows and back. A row that does not decode is reported as corrupt (naming
//! `trove fsck`), never unwrapped.

use sea_orm::Set;
use trove_domain::{
    Artifact, BranchId, Collection, ContentUpdate, Error, HashType, Instance, Key, Label, NewArtifact, Pending,
    Placement, Result, StorageId, StorageLocation, Uid,
};

use crate::entity::artifact::{self, PURGING};
use crate::entity::{collection, instance, label, storage};
use crate::error::corrupt;

pub(super) fn to_i64(what: &str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::invalid_input(format!("{what} {v} is too large for the catalog")))
}

pub(super) fn to_u64(what: &str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| corrupt(what, format_args!("negative value {v}")))
}

/// A version index as its column (an integer: versions never compare as text).
pub(super) fn version_index(uid: &Uid) -> Result<i32> {
    i32::try_from(uid.version_index()).map_err(|_| Error::invalid_input(format!("version index of {uid} is too large")))
}

/// (`placement`, `real_path`) columns of a placement.
pub(super) fn encode_placement(p: &Placement) -> (&'static str, Option<String>) {
    match p {
        Placement::Managed => ("managed", None),
        Placement::RealKey => ("real_key", None),
        Placement::InPlace { real_path } => ("in_place", Some(real_path.clone())),
        Placement::SharedStore { store_key } => ("shared_store", Some(store_key.clone())),
    }
}

fn decode_placement(kind: &str, real_path: Option<String>) -> Result<Placement> {
    match (kind, real_path) {
        ("managed", _) => Ok(Placement::Managed),
        ("real_key", _) => Ok(Placement::RealKey),
        ("in_place", Some(real_path)) => Ok(Placement::InPlace { real_path }),
        ("shared_store", Some(store_key)) => Ok(Placement::SharedStore { store_key }),
        (other, _) => Err(corrupt("placement", format_args!("'{other}'"))),
    }
}

/// The `pending_op` column of a marker: its operation's name, for filtering.
pub(super) fn pending_op(p: &Pending) -> &'static str {
    match p {
        Pending::Purging { .. } => PURGING,
        Pending::PlacingRealKey { .. } => "placing_real_key",
        Pending::Replacing { .. } => "replacing",
    }
}

/// A marker's operation for messages: "replacing", "placing real key", or "none".
pub(super) fn pending_name(p: Option<&Pending>) -> String {
    p.map_or("none".to_owned(), |p| pending_op(p).replace('_', " "))
}

/// (`pending_op`, `pending` JSON) for a pending marker.
pub(super) fn encode_pending(p: Option<&Pending>) -> Result<(Option<String>, Option<String>)> {
    match p {
        None => Ok((None, None)),
        Some(p) => {
            let json = serde_json::to_string(p)
                .map_err(|e| Error::catalog(format!("cannot encode the pending marker: {e}")))?;
            Ok((Some(pending_op(p).to_owned()), Some(json)))
        }
    }
}

/// The pending marker of an artifact row.
pub(super) fn decode_pending(m: &artifact::Model) -> Result<Option<Pending>> {
    m.pending
        .as_deref()
        .map(serde_json::from_str::<Pending>)
        .transpose()
        .map_err(|e| corrupt(format!("pending marker of {}", m.uid), e))
}

/// An artifact row and its creator's handle as a record.
pub(super) fn to_artifact(m: artifact::Model, handle: Option<String>) -> Result<Artifact> {
    let uid = Uid::parse(&m.uid).map_err(|e| corrupt("artifact uid", e))?;
    let key = m.key.as_deref().map(Key::parse).transpose().map_err(|e| corrupt(format!("key of {uid}"), e))?;
    let hash_type = HashType::parse(&m.hash_type).map_err(|e| corrupt(format!("hash type of {uid}"), e))?;
    let pending = decode_pending(&m)?;
    let created_by = handle.ok_or_else(|| corrupt(format!("creator of {uid}"), "the user row is missing"))?;
    Ok(Artifact {
        key,
        description: m.description,
        suffix: m.suffix,
        kind: m.kind,
        otype: m.otype,
        size: to_u64("size", m.size)?,
        hash: m.hash,
        hash_type,
        n_files: m.n_files.map(|n| to_u64("file count", n)).transpose()?,
        n_observations: m.n_observations.map(|n| to_u64("row count", n)).transpose()?,
        version_tag: m.version_tag,
        is_latest: m.is_latest,
        branch: BranchId(m.branch_id),
        trashed_from: m.trashed_from.map(BranchId),
        branch_changed_at: m.branch_changed_at,
        storage: StorageId(m.storage_id),
        placement: decode_placement(&m.placement, m.real_path)?,
        created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        pending,
        uid,
    })
}

/// The row of a new artifact, on main. `is_latest` is the caller's: a new family's first record
/// is its head, a new version's head is recomputed after the insert.
pub(super) fn new_artifact_row(new: &NewArtifact, is_latest: bool) -> Result<artifact::ActiveModel> {
    let (placement, real_path) = encode_placement(&new.placement);
    let (op, pending) = encode_pending(new.pending.as_ref())?;
    Ok(artifact::ActiveModel {
        uid: Set(new.uid.as_str().to_owned()),
        stem: Set(new.uid.stem().as_str().to_owned()),
        version_index: Set(version_index(&new.uid)?),
        key: Set(new.key.as_ref().map(|k| k.as_str().to_owned())),
        description: Set(new.description.clone()),
        suffix: Set(new.suffix.clone()),
        kind: Set(new.kind.clone()),
        otype: Set(new.otype.clone()),
        size: Set(to_i64("size", new.content.size)?),
        hash: Set(new.content.hash.clone()),
        hash_type: Set(new.content.hash_type.to_string()),
        n_files: Set(new.n_files.map(|n| to_i64("file count", n)).transpose()?),
        n_observations: Set(new.n_observations.map(|n| to_i64("row count", n)).transpose()?),
        version_tag: Set(new.version_tag.clone()),
        is_latest: Set(is_latest),
        branch_id: Set(BranchId::MAIN.0),
        trashed_from: Set(None),
        branch_changed_at: Set(None),
        storage_id: Set(new.storage.0),
        placement: Set(placement.to_owned()),
        real_path: Set(real_path),
        created_by_id: Set(new.created_by.0),
        created_at: Set(new.created_at),
        updated_at: Set(new.created_at),
        pending_op: Set(op),
        pending: Set(pending),
        dedup_exempt: Set(new.dedup_exempt),
        ..Default::default()
    })
}

/// Give a row replaced content.
pub(super) fn set_content(am: &mut artifact::ActiveModel, c: &ContentUpdate) -> Result<()> {
    let (kind, real_path) = encode_placement(&c.placement);
    am.suffix = Set(c.suffix.clone());
    am.key = Set(c.key.as_ref().map(|k| k.as_str().to_owned()));
    am.placement = Set(kind.to_owned());
    am.real_path = Set(real_path);
    am.size = Set(to_i64("size", c.size)?);
    am.hash = Set(c.hash.clone());
    am.hash_type = Set(c.hash_type.to_string());
    am.n_files = Set(c.n_files.map(|n| to_i64("file count", n)).transpose()?);
    am.n_observations = Set(c.n_observations.map(|n| to_i64("row count", n)).transpose()?);
    // Replaced content skips de-duplication (spec 2 §6: it is in place), so the row leaves the
    // `(storage, key, hash)` uniqueness like a deliberate duplicate (m0004).
    am.dedup_exempt = Set(true);
    Ok(())
}

pub(super) fn to_storage(m: storage::Model) -> Result<StorageLocation> {
    let settings = serde_json::from_str(&m.settings).map_err(|e| corrupt(format!("settings of {}", m.root), e))?;
    Ok(StorageLocation {
        id: StorageId(m.id),
        uid: m.uid,
        root: m.root,
        region: m.region,
        instance_uid: m.instance_uid,
        settings,
        created_at: m.created_at,
    })
}

pub(super) fn to_instance(m: instance::Model) -> Instance {
    Instance {
        uid: m.uid,
        name: m.name,
        keys_virtual: m.keys_virtual,
        default_storage: m.default_storage_id.map(StorageId),
        created_at: m.created_at,
    }
}

/// A collection row, its creator's handle and its members (in order) as a record.
pub(super) fn to_collection(m: collection::Model, handle: Option<String>, members: Vec<Uid>) -> Result<Collection> {
    let uid = Uid::parse(&m.uid).map_err(|e| corrupt("collection uid", e))?;
    let created_by =
        handle.ok_or_else(|| corrupt(format!("creator of collection {uid}"), "the user row is missing"))?;
    Ok(Collection {
        key: m.key,
        description: m.description,
        hash: m.hash,
        members,
        is_latest: m.is_latest,
        branch: BranchId(m.branch_id),
        trashed_from: m.trashed_from.map(BranchId),
        branch_changed_at: m.branch_changed_at,
        created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        uid,
    })
}

/// A label row, its creator's handle and its link counts (artifacts, collections) as a record.
pub(super) fn to_label(
    m: label::Model,
    handle: Option<String>,
    (n_artifacts, n_collections): (u64, u64),
) -> Result<Label> {
    let created_by = handle.ok_or_else(|| corrupt(format!("creator of label '{}'", m.name), "missing"))?;
    Ok(Label {
        name: m.name,
        description: m.description,
        branch: BranchId(m.branch_id),
        trashed_from: m.trashed_from.map(BranchId),
        branch_changed_at: m.branch_changed_at,
        n_artifacts,
        n_collections,
        created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placements_round_trip() {
        for p in [
            Placement::Managed,
            Placement::RealKey,
            Placement::InPlace { real_path: "raw/a.csv".into() },
            Placement::SharedStore { store_key: "store/a".into() },
        ] {
            let (k, r) = encode_placement(&p);
            assert_eq!(decode_placement(k, r).unwrap(), p);
        }
        assert!(decode_placement("bogus", None).is_err());
    }
}
