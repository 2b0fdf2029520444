//! `trove fsck` and `trove gc`: finding and settling what interrupted work left. Both tell
//! scripts what they found through their exit status.

use clap::Args;
use serde_json::json;
use trove::{FsckOptions, GcOptions, Result, Trove};

use crate::input::{confirm, parse_duration};

/// Exit status of `fsck` and `gc` when they found nothing.
const FOUND_NOTHING: u8 = 0;
/// Exit status of `fsck` and `gc` when they found something and fixed all of it.
const FOUND_AND_FIXED: u8 = 10;
/// Exit status of `fsck` and `gc` when what they found is still there.
const FOUND_NOT_FIXED: u8 = 11;

#[derive(Args, Debug)]
pub struct FsckArgs {
    /// Apply the repairs (default: report only).
    #[arg(long)]
    repair: bool,
    /// Re-hash content instead of comparing sizes.
    #[arg(long)]
    verify: bool,
}

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Only list the orphans.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Leave objects younger than this alone (a save in progress): e.g. 1h, 10m. At least
    /// 5m unless --allow-short-grace.
    #[arg(long, default_value = "1h")]
    grace: String,
    /// Accept a grace period under 5 minutes: only when no other process is writing to the
    /// instance (a save in progress has written bytes but not yet its record).
    #[arg(long)]
    allow_short_grace: bool,
}

/// `trove fsck`; returns the exit status.
pub async fn fsck(trove: &Trove, args: FsckArgs, json: bool) -> Result<u8> {
    let opts = FsckOptions { repair: args.repair, verify_hashes: args.verify };
    let findings = trove.fsck(&opts).await?;
    let unsettled = findings.iter().filter(|f| !f.repaired).count();
    let status = match (findings.is_empty(), unsettled) {
        (true, _) => FOUND_NOTHING,
        (false, 0) => FOUND_AND_FIXED,
        (false, _) => FOUND_NOT_FIXED,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&findings).expect("json"));
    } else if findings.is_empty() {
        println!("ok: every record's bytes are present and match");
    } else {
        for f in &findings {
            println!("{}: {} — {}", f.uid, f.problem, f.action);
        }
    }
    Ok(status)
}

/// `trove gc`: show the plan, ask, remove exactly the plan; returns the exit status.
pub async fn gc(trove: &Trove, args: GcArgs, json: bool) -> Result<u8> {
    let opts = GcOptions { grace: parse_duration(&args.grace)?, allow_short_grace: args.allow_short_grace };
    let plan = trove.plan_gc(&opts).await?;
    let apply = !args.dry_run
        && !plan.is_empty()
        && (args.yes
            || confirm(&format!("remove {} unreferenced object(s), {} bytes?", plan.items.len(), plan.bytes()))?);
    if !apply {
        if json {
            println!("{}", serde_json::to_string_pretty(&json!({"plan": plan, "removed": []})).expect("json"));
        } else if plan.is_empty() {
            println!("no unreferenced bytes");
        } else {
            for i in &plan.items {
                println!("would remove ({}): {} ({} bytes)", gc_kind(i.kind), i.path, i.size);
            }
        }
        return Ok(if plan.is_empty() { FOUND_NOTHING } else { FOUND_NOT_FIXED });
    }
    let report = trove.apply_gc(&plan).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"plan": plan, "removed": report.removed, "skipped": report.skipped}))
                .expect("json")
        );
    } else {
        for p in &report.removed {
            println!("removed: {p}");
        }
        for p in &report.skipped {
            println!("kept (a record references it now): {p}");
        }
    }
    Ok(FOUND_AND_FIXED)
}

fn gc_kind(kind: trove::GcKind) -> &'static str {
    match kind {
        trove::GcKind::Orphan => "no record references it",
        trove::GcKind::Leftover => "left by an interrupted write",
        _ => "garbage",
    }
}
