//! The [`Catalog`] port on [`SeaCatalog`]: one line per method, naming the module that does it.

use async_trait::async_trait;
use trove_domain::ports::Catalog;
use trove_domain::{
    Artifact, ArtifactQuery, ArtifactUpdate, BranchId, Collection, CollectionQuery, CollectionTransitionResult,
    Instance, InstanceInit, Key, Label, LabelQuery, LabelTransitionResult, Labeled, NewArtifact, NewCollection,
    NewLabel, NewStorage, Operation, Pending, Result, Stem, StorageId, StorageLocation, StoragePolicy,
    TransitionResult, Uid, User,
};

use super::artifacts::ARTIFACTS;
use super::{SeaCatalog, artifacts, collections, instance, labels, marks, queries, versions};

#[async_trait]
impl Catalog for SeaCatalog {
    fn backend(&self) -> &'static str {
        self.backend_name()
    }

    async fn init_instance(&self, init: &InstanceInit) -> Result<Instance> {
        instance::init_instance(self, init).await
    }

    async fn instance(&self) -> Result<Option<Instance>> {
        instance::instance(self).await
    }

    async fn add_storage(&self, new: &NewStorage) -> Result<StorageLocation> {
        instance::add_storage(self, new).await
    }

    async fn storages(&self) -> Result<Vec<StorageLocation>> {
        instance::storages(self).await
    }

    async fn destroy(&self) -> Result<()> {
        self.destroy_schema().await
    }

    async fn remove_storage(&self, id: StorageId) -> Result<StorageLocation> {
        instance::remove_storage(self, id).await
    }

    async fn set_default_storage(&self, id: StorageId) -> Result<Instance> {
        instance::set_default_storage(self, id).await
    }

    async fn ensure_user(&self, handle: &str) -> Result<User> {
        instance::ensure_user(self, handle).await
    }

    async fn artifact(&self, uid: &Uid) -> Result<Option<Artifact>> {
        queries::artifact(&self.db, uid).await
    }

    async fn artifacts(&self, query: &ArtifactQuery) -> Result<Vec<Artifact>> {
        queries::artifacts(&self.db, query).await
    }

    async fn count_artifacts(&self, query: &ArtifactQuery) -> Result<u64> {
        queries::count_artifacts(&self.db, query).await
    }

    async fn max_version(&self, stem: &Stem) -> Result<Option<u32>> {
        ARTIFACTS.max_version(&self.db, stem).await
    }

    async fn family_head_by_key(&self, storage: StorageId, key: &Key) -> Result<Option<Artifact>> {
        queries::family_head_by_key(&self.db, storage, key).await
    }

    async fn reserve_version(&self, stem: &Stem) -> Result<u32> {
        versions::reserve_version(self, stem).await
    }

    async fn release_version(&self, stem: &Stem, index: u32) -> Result<()> {
        versions::release_version(self, stem, index).await
    }

    async fn create_artifacts(&self, new: &[NewArtifact]) -> Result<Vec<Artifact>> {
        artifacts::create_artifacts(self, new).await
    }

    async fn create_artifact(&self, new: &NewArtifact) -> Result<Artifact> {
        artifacts::create_artifact(self, new).await
    }

    async fn apply_transition(&self, uids: &[Uid], op: Operation) -> Result<Vec<TransitionResult>> {
        artifacts::apply_transition(self, uids, op).await
    }

    async fn begin_purge(&self, uids: &[Uid], policy: StoragePolicy) -> Result<Vec<Artifact>> {
        Ok(marks::begin_purge(self, uids, policy, None).await?.0)
    }

    async fn begin_purge_on(
        &self,
        uids: &[Uid],
        policy: StoragePolicy,
        branch: BranchId,
    ) -> Result<(Vec<Artifact>, Vec<Uid>)> {
        marks::begin_purge(self, uids, policy, Some(branch)).await
    }

    async fn finish_purge(&self, uids: &[Uid]) -> Result<u64> {
        marks::finish_purge(self, uids).await
    }

    async fn abort_purge(&self, uids: &[Uid]) -> Result<()> {
        marks::abort_purge(self, uids).await
    }

    async fn begin_replace(&self, uid: &Uid, expected_hash: &str, staged: &Pending) -> Result<Artifact> {
        marks::begin_replace(self, uid, expected_hash, staged).await
    }

    async fn commit_replace(&self, uid: &Uid, marker: &Pending) -> Result<Artifact> {
        marks::commit_replace(self, uid, marker).await
    }

    async fn abort_replace(&self, uid: &Uid, marker: &Pending) -> Result<Artifact> {
        marks::abort_replace(self, uid, marker).await
    }

    async fn update_artifact(&self, uid: &Uid, update: &ArtifactUpdate) -> Result<Artifact> {
        marks::update_artifact(self, uid, update).await
    }

    async fn pending_artifacts(&self) -> Result<Vec<Artifact>> {
        queries::pending_artifacts(&self.db).await
    }

    async fn create_collection(&self, new: &NewCollection) -> Result<Collection> {
        collections::create_collection(self, new).await
    }

    async fn collections(&self, query: &CollectionQuery) -> Result<Vec<Collection>> {
        collections::collections(self, query).await
    }

    async fn collection_head_by_key(&self, key: &str) -> Result<Option<Collection>> {
        collections::collection_head_by_key(self, key).await
    }

    async fn max_collection_version(&self, stem: &Stem) -> Result<Option<u32>> {
        collections::max_collection_version(self, stem).await
    }

    async fn apply_collection_transition(
        &self,
        uids: &[Uid],
        op: Operation,
    ) -> Result<Vec<CollectionTransitionResult>> {
        collections::apply_collection_transition(self, uids, op).await
    }

    async fn purge_collections(&self, uids: &[Uid]) -> Result<Vec<Collection>> {
        collections::purge_collections(self, uids).await
    }

    async fn create_label(&self, new: &NewLabel) -> Result<Label> {
        labels::create_label(self, new).await
    }

    async fn labels(&self, query: &LabelQuery) -> Result<Vec<Label>> {
        labels::labels(self, query).await
    }

    async fn attach_label(&self, name: &str, targets: &[Labeled]) -> Result<u64> {
        labels::attach_label(self, name, targets).await
    }

    async fn detach_label(&self, name: &str, targets: &[Labeled]) -> Result<u64> {
        labels::detach_label(self, name, targets).await
    }

    async fn apply_label_transition(&self, names: &[String], op: Operation) -> Result<Vec<LabelTransitionResult>> {
        labels::apply_label_transition(self, names, op).await
    }

    async fn purge_labels(&self, names: &[String]) -> Result<Vec<Label>> {
        labels::purge_labels(self, names).await
    }
}
