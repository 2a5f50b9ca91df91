//! Nightly runs: once a day, at the time the default branch's lanes name
//! (a manifest's `nightly_schedule_utc`, or `[ci] nightly_schedule_utc` of
//! its pikaci.toml, 08:00 UTC by default), its nightly lanes (a manifest's
//! `[[nightly.lanes]]`, or the `trigger = "nightly"` targets) are queued on
//! the default branch's head, as upstream pika does. One nightly run per slot
//! (today's date at that time, UTC); a server that was down at that time
//! makes today's run when it next looks, not the missed days'.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::SchedulerError;
use crate::config::ForgeRepo;
use crate::db::{Db, NewNightly, NewNightlyLane, NightlyRunId};
use crate::lanes::git::{BranchHead, CommitId, Git, HeadAt};
use crate::lanes::lane_source::{LaneSource, ServerManifest, lanes_of_head};
use crate::lanes::manifest::NightlyTime;

/// What one look at the nightly schedule found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NightlyCheck {
    /// The default branch does not exist.
    NoDefaultBranch,
    /// Its lane source has no nightly lanes (or it has no lanes).
    NoNightlyLanes,
    /// Its lanes cannot be read (its branch suite says why).
    BadManifest(String),
    /// Today's slot is still to come.
    NotDue {
        /// Today's slot.
        slot: Timestamp,
    },
    /// Today's slot has its nightly run already.
    AlreadyMade {
        /// Today's slot.
        slot: Timestamp,
    },
    /// A nightly run was queued for today's slot.
    Made {
        /// The new nightly run.
        id: NightlyRunId,
        /// Its slot.
        slot: Timestamp,
    },
}

/// Today's (UTC) slot at `time`, for the instant `now`.
pub fn slot_of(now: Timestamp, time: NightlyTime) -> Timestamp {
    let day = now.to_zoned_datetime(TimeZone::UTC).date();
    // A UTC civil time always maps to exactly one instant.
    day.at(time.hour as i8, time.minute as i8, 0, 0)
        .to_zoned_datetime(TimeZone::UTC)
        .map_or(now, |z| z.timestamp())
}

/// What the manifest at one commit says about nightly runs.
#[derive(Debug)]
enum NightlyPlan {
    /// No manifest, no schedule, or no nightly lanes.
    NoLanes,
    /// The manifest does not parse.
    Bad(String),
    /// Its nightly lanes, at this time of day, and where they came from.
    At(NightlyTime, Vec<NewNightlyLane>, LaneSource),
}

/// Reads the lanes of `head` from its lane source, for their nightly part.
async fn read_plan(
    git: &Git,
    repo: &ForgeRepo,
    head: &CommitId,
) -> Result<NightlyPlan, SchedulerError> {
    let (at, server) = (head.clone(), repo.lanes_manifest.clone());
    let sourced = git
        .call(move |g| {
            let server = server.as_deref().map(ServerManifest::read);
            Ok(lanes_of_head(
                &HeadAt {
                    git: g,
                    commit: &at,
                },
                server,
            ))
        })
        .await?;
    let (manifest, source) = match sourced {
        Ok(Some(sourced)) => (sourced.manifest, sourced.source),
        Ok(None) => return Ok(NightlyPlan::NoLanes),
        Err(e) => return Ok(NightlyPlan::Bad(e.to_string())),
    };
    let Some(time) = manifest
        .nightly_schedule
        .filter(|_| !manifest.nightly_lanes.is_empty())
    else {
        return Ok(NightlyPlan::NoLanes);
    };
    let lanes = manifest
        .nightly_lanes
        .iter()
        .map(|l| NewNightlyLane {
            lane: l.id.as_str().to_owned(),
            title: l.title.clone(),
            entrypoint: l.shown_entrypoint(),
            concurrency_group: l.concurrency_group.clone(),
            command: serde_json::to_string(&l.command).ok(),
            timeout_secs: l.timeout_secs,
        })
        .collect();
    Ok(NightlyPlan::At(time, lanes, source))
}

/// Queues the nightly run of today's slot if it is due (`now` is at or past
/// it) and not made yet: the default branch's head, the nightly lanes of the
/// manifest at that head.
pub async fn schedule_due_nightly(
    db: &Db,
    git: &Git,
    repo: &ForgeRepo,
    now: Timestamp,
) -> Result<NightlyCheck, SchedulerError> {
    let heads = git.call(|g| g.list_branch_heads()).await?;
    schedule_listed_nightly(db, git, repo, &heads, now).await
}

/// [`schedule_due_nightly`] with the branch heads already listed.
pub(super) async fn schedule_listed_nightly(
    db: &Db,
    git: &Git,
    repo: &ForgeRepo,
    heads: &[BranchHead],
    now: Timestamp,
) -> Result<NightlyCheck, SchedulerError> {
    let Some(head) = heads
        .iter()
        .find(|h| h.name == repo.default_branch)
        .map(|h| &h.commit)
    else {
        return Ok(NightlyCheck::NoDefaultBranch);
    };
    let (time, lanes, source) = match read_plan(git, repo, head).await? {
        NightlyPlan::NoLanes => return Ok(NightlyCheck::NoNightlyLanes),
        NightlyPlan::Bad(e) => return Ok(NightlyCheck::BadManifest(e)),
        NightlyPlan::At(time, lanes, source) => (time, lanes, source),
    };
    let slot = slot_of(now, time);
    if now < slot {
        return Ok(NightlyCheck::NotDue { slot });
    }
    let branch_id = match db.branch_by_name(&repo.default_branch).await? {
        Some(b) => b.id,
        None => {
            db.upsert_branch(&repo.default_branch, head.as_str())
                .await?
        }
    };
    let made = db
        .create_nightly(NewNightly {
            branch_id,
            head: head.as_str().to_owned(),
            source_ref: format!("refs/heads/{}", repo.default_branch),
            scheduled_for: crate::db::stored_time(slot),
            lane_source: Some(source),
            lanes,
        })
        .await?;
    Ok(match made {
        Some(id) => NightlyCheck::Made { id, slot },
        None => NightlyCheck::AlreadyMade { slot },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_is_today_at_the_time_in_utc() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let eight = NightlyTime { hour: 8, minute: 0 };
        assert_eq!(
            slot_of(t("2026-03-24T16:12:38Z"), eight),
            t("2026-03-24T08:00:00Z")
        );
        assert_eq!(
            slot_of(t("2026-03-24T07:59:59Z"), eight),
            t("2026-03-24T08:00:00Z")
        );
        assert_eq!(
            slot_of(t("2026-03-24T00:00:00Z"), eight),
            t("2026-03-24T08:00:00Z")
        );
        let late = NightlyTime {
            hour: 23,
            minute: 45,
        };
        assert_eq!(
            slot_of(t("2026-12-31T23:50:00Z"), late),
            t("2026-12-31T23:45:00Z")
        );
        assert_eq!(
            slot_of(t("2026-03-24T08:00:00Z"), eight).to_string(),
            "2026-03-24T08:00:00Z"
        );
    }
}
