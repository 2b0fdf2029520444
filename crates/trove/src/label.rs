//! Labels (spec 1, section 6): named tags on artifacts and collections, soft-deletable; a label
//! still attached cannot be deleted permanently. Filter artifacts by label with
//! [`trove_domain::ArtifactQuery::label`] (`trove ls --label NAME`).

use serde::Serialize;
use trove_domain::collection::validate_label_name;
use trove_domain::{
    BranchId, BranchSelection, CollectionQuery, Error, Label, LabelQuery, Labeled, Locator, NewLabel, Operation,
    Result, Transition, Uid,
};

use crate::Trove;
use crate::outcome::DeletePlan;
use crate::plugin::{Change, RecordRef};
use crate::query::in_order;

/// What a branch operation did to one label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedLabel {
    /// The label after the operation.
    pub label: Label,
    /// What happened.
    pub transition: Transition,
}

impl Trove {
    /// Create a label on main. A name already taken (on any branch) is a Conflict error.
    pub async fn create_label(&self, name: &str, description: Option<&str>) -> Result<Label> {
        validate_label_name(name)?;
        let label = self
            .catalog()
            .create_label(&NewLabel {
                name: name.to_owned(),
                description: description.map(str::to_owned),
                created_by: self.user_id().await?,
                created_at: self.clock().now(),
            })
            .await?;
        self.notify(vec![(RecordRef::Label(label.name.clone()), Change::Saved { outcome: "created".into() })]);
        Ok(label)
    }

    /// Labels on the selected branches (default: main), by name.
    pub async fn labels(&self, branch: BranchSelection) -> Result<Vec<Label>> {
        self.catalog().labels(&LabelQuery { branch, ..Default::default() }).await
    }

    /// One label by name, on any branch.
    pub async fn label(&self, name: &str) -> Result<Label> {
        let q = LabelQuery { branch: BranchSelection::All, names: Some(vec![name.to_owned()]), ..Default::default() };
        self.catalog()
            .labels(&q)
            .await?
            .pop()
            .ok_or_else(|| Error::not_found(format!("no label '{name}': list them with `trove label ls --branch all`")))
    }

    /// Split labels (by name) into those [`Trove::trash_labels`] would move and those already in
    /// the trash, so a caller (the CLI) can ask before deleting the latter permanently. A name
    /// that no label has is a NotFound error naming it.
    pub async fn plan_delete_labels(&self, names: &[String]) -> Result<DeletePlan<Label>> {
        let q = LabelQuery { branch: BranchSelection::All, names: Some(names.to_vec()), ..Default::default() };
        let rows = self.catalog().labels(&q).await?;
        let (found, missing) = in_order(names, &rows, |l| &l.name);
        if !missing.is_empty() {
            return Err(Error::not_found(format!(
                "no label {}: list them with `trove label ls --branch all`",
                missing.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(DeletePlan::split(found, |l| l.branch == BranchId::TRASH))
    }

    /// The labels attached to a record (any branch).
    pub async fn labels_of(&self, target: &Labeled) -> Result<Vec<Label>> {
        let q = LabelQuery { branch: BranchSelection::All, attached_to: Some(target.clone()), ..Default::default() };
        self.catalog().labels(&q).await
    }

    /// Resolve uids, stems or keys to labelable records: an artifact if one matches, else a
    /// collection (a full uid is looked up as both).
    pub async fn resolve_labeled(&self, locators: &[String]) -> Result<Vec<Labeled>> {
        let mut out = Vec::with_capacity(locators.len());
        for l in locators {
            if let Locator::Uid(uid) = Locator::parse(l) {
                let coll = CollectionQuery {
                    branch: BranchSelection::All,
                    uids: Some(vec![uid.clone()]),
                    ..Default::default()
                };
                if self.catalog().artifact(&uid).await?.is_none()
                    && !self.catalog().collections(&coll).await?.is_empty()
                {
                    out.push(Labeled::Collection(uid));
                    continue;
                }
            }
            match self.get(l).await {
                Ok(a) => out.push(Labeled::Artifact(a.uid)),
                Err(e) if e.kind() == trove_domain::ErrorKind::NotFound => match self.collection(l).await {
                    Ok(c) => out.push(Labeled::Collection(c.uid)),
                    Err(_) => {
                        return Err(Error::not_found(format!(
                            "no artifact or collection '{l}': list them with `trove ls --branch all` and \
                             `trove collection ls --branch all`"
                        )));
                    }
                },
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Attach a label to records (idempotent). Returns how many links are new.
    pub async fn attach_label(&self, name: &str, targets: &[Labeled]) -> Result<u64> {
        self.catalog().attach_label(name, targets).await
    }

    /// Detach a label from records. Returns how many links went.
    pub async fn detach_label(&self, name: &str, targets: &[Labeled]) -> Result<u64> {
        self.catalog().detach_label(name, targets).await
    }

    /// Attach a label to artifacts (shorthand).
    pub async fn label_artifacts(&self, name: &str, uids: &[Uid]) -> Result<u64> {
        let targets: Vec<Labeled> = uids.iter().cloned().map(Labeled::Artifact).collect();
        self.attach_label(name, &targets).await
    }

    /// Move labels to the trash (their links stay).
    pub async fn trash_labels(&self, names: &[String]) -> Result<Vec<MovedLabel>> {
        self.label_op(names, Operation::Trash).await
    }

    /// Restore labels.
    pub async fn restore_labels(&self, names: &[String]) -> Result<Vec<MovedLabel>> {
        self.label_op(names, Operation::Restore).await
    }

    /// Archive labels.
    pub async fn archive_labels(&self, names: &[String]) -> Result<Vec<MovedLabel>> {
        self.label_op(names, Operation::Archive).await
    }

    async fn label_op(&self, names: &[String], op: Operation) -> Result<Vec<MovedLabel>> {
        let results = self.catalog().apply_label_transition(names, op).await?;
        let moved: Vec<MovedLabel> =
            results.into_iter().map(|r| MovedLabel { label: r.label, transition: r.transition }).collect();
        self.notify(
            moved
                .iter()
                .filter_map(|m| match m.transition {
                    Transition::Move { from, to } => {
                        Some((RecordRef::Label(m.label.name.clone()), Change::Moved { from, to }))
                    }
                    _ => None,
                })
                .collect(),
        );
        Ok(moved)
    }

    /// Delete labels permanently. A label still attached is a Protected error (detach it
    /// first); nothing is deleted then.
    pub async fn delete_labels_permanently(&self, names: &[String]) -> Result<Vec<Label>> {
        let gone = self.catalog().purge_labels(names).await?;
        self.notify(gone.iter().map(|l| (RecordRef::Label(l.name.clone()), Change::Purged)).collect());
        Ok(gone)
    }
}
