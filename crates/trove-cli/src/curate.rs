//! `trove collection ...` and `trove label ...`: talking only; the lifecycle lives in the façade.

use clap::Subcommand;
use serde_json::{Map, Value, json};
use trove::{
    BranchSelection, Collection, CollectionOptions, CollectionQuery, DeletePlan, Label, Result, Transition, Trove, Uid,
};

use crate::input::confirm_permanent;
use crate::output::{artifact_json, print_artifacts, print_json, print_table};

/// `trove collection ...`
#[derive(Subcommand, Debug)]
pub enum CollectionCommand {
    /// Create a collection of artifacts, in order (a new version if KEY exists).
    Create {
        /// The collection's key (a name).
        key: String,
        /// Member artifacts: uids, stems or keys, in order.
        #[arg(required = true)]
        artifacts: Vec<String>,
        /// A description.
        #[arg(long)]
        description: Option<String>,
    },
    /// List collections (heads on main unless --branch / --all-versions).
    Ls {
        /// Branch: main (default), archive, trash, all.
        #[arg(long, default_value = "main")]
        branch: String,
        /// Show every version, not only the latest of each family.
        #[arg(long)]
        all_versions: bool,
        /// Only collections carrying this label.
        #[arg(long)]
        label: Option<String>,
    },
    /// Show a collection and its members (by uid, stem, or key).
    Show {
        /// Uid, stem, or key.
        collection: String,
    },
    /// Move collections to the trash (their artifacts stay); with --permanent, or for those
    /// already in the trash, delete them for good once confirmed (membership rows only, never
    /// the artifacts).
    Delete {
        /// Uids, stems or keys.
        #[arg(required = true)]
        collections: Vec<String>,
        /// Delete permanently, from any branch.
        #[arg(long)]
        permanent: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Restore collections from the trash (to where they came from) or the archive.
    Restore {
        /// Uids, stems or keys.
        #[arg(required = true)]
        collections: Vec<String>,
    },
    /// Archive collections.
    Archive {
        /// Uids, stems or keys.
        #[arg(required = true)]
        collections: Vec<String>,
    },
}

/// `trove label ...`
#[derive(Subcommand, Debug)]
pub enum LabelCommand {
    /// Create a label.
    Create {
        /// The label's name (unique).
        name: String,
        /// A description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Attach a label to artifacts or collections (uids, stems or keys).
    Add {
        /// The label.
        name: String,
        /// Artifacts or collections.
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Detach a label from artifacts or collections.
    Remove {
        /// The label.
        name: String,
        /// Artifacts or collections.
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// List labels (main unless --branch).
    Ls {
        /// Branch: main (default), archive, trash, all.
        #[arg(long, default_value = "main")]
        branch: String,
    },
    /// Move labels to the trash; with --permanent, or for those already in the trash, delete
    /// them for good once confirmed (only once detached).
    Delete {
        /// Label names.
        #[arg(required = true)]
        names: Vec<String>,
        /// Delete permanently.
        #[arg(long)]
        permanent: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Restore labels from the trash or the archive.
    Restore {
        /// Label names.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

fn collection_json(c: &Collection) -> Map<String, Value> {
    match serde_json::to_value(c) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn label_json(l: &Label) -> Map<String, Value> {
    match serde_json::to_value(l) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn print_collections(cs: &[Collection]) {
    if cs.is_empty() {
        println!("(no collections)");
        return;
    }
    let rows = cs
        .iter()
        .map(|c| {
            vec![
                c.uid.to_string(),
                c.key.clone().or_else(|| c.description.clone()).unwrap_or_default(),
                c.members.len().to_string(),
                c.branch.to_string(),
                if c.is_latest { "yes".into() } else { String::new() },
                c.hash.clone(),
            ]
        })
        .collect();
    print_table(&["uid", "key", "members", "branch", "latest", "hash"], rows);
}

/// Resolve uids, stems or keys; keys are looked up on every branch (main first), since these
/// commands act on archived and trashed collections too.
async fn resolve(trove: &Trove, locators: &[String]) -> Result<Vec<Uid>> {
    let mut out = Vec::with_capacity(locators.len());
    for l in locators {
        out.push(trove.collection_in(l, BranchSelection::All).await?.uid);
    }
    Ok(out)
}

fn report(moved: &[(String, Transition, String)], verb: &str, json: bool, items: Vec<Map<String, Value>>) {
    if json {
        print_json(items);
    } else {
        print_moves(moved, verb);
    }
}

fn print_moves(moved: &[(String, Transition, String)], verb: &str) {
    for (what, t, branch) in moved {
        match t {
            Transition::NoOp { reason } => println!("{what}: unchanged ({reason})"),
            _ => println!("{verb} {what} (now on {branch})"),
        }
    }
}

/// Run `trove collection ...`.
pub async fn run_collection(trove: Trove, cmd: CollectionCommand, json: bool) -> Result<()> {
    match cmd {
        CollectionCommand::Create { key, artifacts, description } => {
            let mut members = Vec::with_capacity(artifacts.len());
            for a in &artifacts {
                members.push(trove.get(a).await?.uid);
            }
            let opts = CollectionOptions { key: Some(key), description };
            let outcome = trove.create_collection(&members, opts).await?;
            let c = outcome.collection();
            if json {
                let mut m = collection_json(c);
                m.insert("outcome".into(), Value::String(outcome.name().into()));
                print_json(vec![m]);
            } else {
                let verb = match outcome.name() {
                    "existing" => "already exists as",
                    "new_version" => "saved a new version:",
                    _ => "created",
                };
                println!("{verb} {} with {} member(s)", c.label(), c.members.len());
            }
        }
        CollectionCommand::Ls { branch, all_versions, label } => {
            let q = CollectionQuery {
                branch: BranchSelection::parse(&branch)?,
                latest_only: !all_versions,
                labels: label.map(|l| vec![l]),
                ..Default::default()
            };
            let found = trove.collections(&q).await?;
            if json {
                print_json(found.iter().map(collection_json).collect());
            } else {
                print_collections(&found);
            }
        }
        CollectionCommand::Show { collection } => {
            let c = trove.collection(&collection).await?;
            let members = trove.collection_members(&c).await?;
            if json {
                let mut m = collection_json(&c);
                m.insert(
                    "member_artifacts".into(),
                    Value::Array(members.iter().map(|a| Value::Object(artifact_json(&trove, a))).collect()),
                );
                print_json(vec![m]);
            } else {
                print_collections(std::slice::from_ref(&c));
                if let Some(d) = &c.description {
                    println!("description: {d}");
                }
                println!();
                print_artifacts(&trove, &members);
            }
        }
        CollectionCommand::Delete { collections, permanent, yes } => {
            let uids = resolve(&trove, &collections).await?;
            let plan = if permanent {
                DeletePlan { to_trash: vec![], already_in_trash: trove.collections_by_uid(&uids).await? }
            } else {
                trove.plan_delete_collections(&uids).await?
            };
            let mut printed = Vec::new();
            if !plan.to_trash.is_empty() {
                let moved =
                    trove.trash_collections(&plan.to_trash.iter().map(|c| c.uid.clone()).collect::<Vec<_>>()).await?;
                let lines: Vec<_> = moved
                    .iter()
                    .map(|m| (m.collection.label(), m.transition, m.collection.branch.to_string()))
                    .collect();
                if !json {
                    print_moves(&lines, "moved to the trash:");
                }
                printed.extend(moved.iter().map(|m| collection_json(&m.collection)));
            }
            if !plan.already_in_trash.is_empty() {
                let names: Vec<String> = plan.already_in_trash.iter().map(Collection::label).collect();
                confirm_permanent(&names, permanent, yes)?;
                let uids: Vec<Uid> = plan.already_in_trash.iter().map(|c| c.uid.clone()).collect();
                let gone = trove.delete_collections_permanently(&uids).await?;
                if !json {
                    for c in &gone {
                        println!("deleted {} permanently (its {} artifact(s) stay)", c.label(), c.members.len());
                    }
                }
                printed.extend(gone.iter().map(collection_json));
            }
            if json {
                print_json(printed);
            }
        }
        CollectionCommand::Restore { collections } => {
            let moved = trove.restore_collections(&resolve(&trove, &collections).await?).await?;
            let lines: Vec<_> =
                moved.iter().map(|m| (m.collection.label(), m.transition, m.collection.branch.to_string())).collect();
            report(&lines, "restored", json, moved.iter().map(|m| collection_json(&m.collection)).collect());
        }
        CollectionCommand::Archive { collections } => {
            let moved = trove.archive_collections(&resolve(&trove, &collections).await?).await?;
            let lines: Vec<_> =
                moved.iter().map(|m| (m.collection.label(), m.transition, m.collection.branch.to_string())).collect();
            report(&lines, "archived", json, moved.iter().map(|m| collection_json(&m.collection)).collect());
        }
    }
    Ok(())
}

/// Run `trove label ...`.
pub async fn run_label(trove: Trove, cmd: LabelCommand, json: bool) -> Result<()> {
    match cmd {
        LabelCommand::Create { name, description } => {
            let l = trove.create_label(&name, description.as_deref()).await?;
            if json {
                print_json(vec![label_json(&l)]);
            } else {
                println!("created label '{}'", l.name);
            }
        }
        LabelCommand::Add { name, targets } => {
            let resolved = trove.resolve_labeled(&targets).await?;
            let n = trove.attach_label(&name, &resolved).await?;
            if json {
                println!("{}", json!({"label": name, "attached": n}));
            } else {
                println!("label '{name}' attached to {n} more record(s)");
            }
        }
        LabelCommand::Remove { name, targets } => {
            let resolved = trove.resolve_labeled(&targets).await?;
            let n = trove.detach_label(&name, &resolved).await?;
            if json {
                println!("{}", json!({"label": name, "detached": n}));
            } else {
                println!("label '{name}' detached from {n} record(s)");
            }
        }
        LabelCommand::Ls { branch } => {
            let labels = trove.labels(BranchSelection::parse(&branch)?).await?;
            if json {
                print_json(labels.iter().map(label_json).collect());
            } else if labels.is_empty() {
                println!("(no labels)");
            } else {
                let rows = labels
                    .iter()
                    .map(|l| {
                        vec![
                            l.name.clone(),
                            l.n_artifacts.to_string(),
                            l.n_collections.to_string(),
                            l.branch.to_string(),
                            l.description.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(&["name", "artifacts", "collections", "branch", "description"], rows);
            }
        }
        LabelCommand::Delete { names, permanent, yes } => {
            let plan = trove.plan_delete_labels(&names).await?;
            let (to_trash, to_purge) = if permanent {
                (vec![], plan.to_trash.into_iter().chain(plan.already_in_trash).collect())
            } else {
                (plan.to_trash, plan.already_in_trash)
            };
            let mut printed = Vec::new();
            if !to_trash.is_empty() {
                let moved = trove.trash_labels(&to_trash.iter().map(|l| l.name.clone()).collect::<Vec<_>>()).await?;
                let lines: Vec<_> =
                    moved.iter().map(|m| (m.label.label(), m.transition, m.label.branch.to_string())).collect();
                if !json {
                    print_moves(&lines, "moved to the trash:");
                }
                printed.extend(moved.iter().map(|m| label_json(&m.label)));
            }
            if !to_purge.is_empty() {
                let labels: Vec<String> = to_purge.iter().map(Label::label).collect();
                confirm_permanent(&labels, permanent, yes)?;
                let names: Vec<String> = to_purge.iter().map(|l| l.name.clone()).collect();
                let gone = trove.delete_labels_permanently(&names).await?;
                if !json {
                    for l in &gone {
                        println!("deleted label '{}' permanently", l.name);
                    }
                }
                printed.extend(gone.iter().map(label_json));
            }
            if json {
                print_json(printed);
            }
        }
        LabelCommand::Restore { names } => {
            let moved = trove.restore_labels(&names).await?;
            let lines: Vec<_> =
                moved.iter().map(|m| (m.label.label(), m.transition, m.label.branch.to_string())).collect();
            report(&lines, "restored", json, moved.iter().map(|m| label_json(&m.label)).collect());
        }
    }
    Ok(())
}
