//! Why a queued lane waits ([`QueueReason`]), decided by the rule the claim
//! itself follows ([`Gate::reason`]): the scheduler claims the oldest queued
//! lane whose reason is [`QueueReason::NextPass`], and every answer and page
//! shows the reason the same function gives, so the two cannot disagree.
//!
//! The rule: a lane waits while a running lane holds its concurrency group,
//! else while every lane slot is in use (`[forge_repo] ci_concurrency`).
//! When what it waits for is held by a lane whose runner stopped renewing
//! its lease (it missed a heartbeat, or the lease ran out), the reason says
//! so: that lane is taken back when its lease runs out (at once when its
//! server, on this host, is gone), not when it finishes.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;

use super::types::{BranchId, LaneRunId, LaneScope, NightlyRunId};

/// Why a queued lane is not running yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueReason {
    /// Every lane slot is in use.
    Capacity {
        /// The lanes running now.
        running: u32,
        /// How many may run at once.
        slots: u32,
    },
    /// A running lane holds its concurrency group.
    ConcurrencyGroup {
        /// The group.
        group: String,
        /// The lane holding it.
        holder: Holder,
    },
    /// What it waits for (its group, or a slot) is held by a lane whose
    /// runner stopped renewing its lease: it waits for that lease to be
    /// recovered.
    LeaseRecovery {
        /// Its group, when the group is what it waits for.
        group: Option<String>,
        /// The lane whose lease is being recovered.
        holder: Holder,
        /// When that lane's runner last renewed its lease.
        last_heartbeat_at: Option<String>,
        /// When that lease runs (or ran) out.
        lease_expires_at: Option<String>,
        /// Whether it has run out already (the scheduler takes the lane
        /// back at its next pass).
        expired: bool,
    },
    /// Nothing holds it back: the scheduler claims it at its next pass
    /// (lanes queued before it first).
    NextPass,
}

/// The running lane a queued one waits for, and where it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// The lane run.
    pub lane: LaneRunId,
    /// Its branch or nightly run.
    pub scope: LaneScope,
}

impl QueueReason {
    /// Its name in answers: `capacity`, `concurrency_group`,
    /// `lease_recovery` or `next_pass`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Capacity { .. } => "capacity",
            Self::ConcurrencyGroup { .. } => "concurrency_group",
            Self::LeaseRecovery { .. } => "lease_recovery",
            Self::NextPass => "next_pass",
        }
    }

    /// Whether the scheduler may claim the lane now.
    pub fn claimable(&self) -> bool {
        matches!(self, Self::NextPass)
    }

    /// The group it waits for, if that is what it waits for.
    pub fn group(&self) -> Option<&str> {
        match self {
            Self::ConcurrencyGroup { group, .. } => Some(group),
            Self::LeaseRecovery { group, .. } => group.as_deref(),
            Self::Capacity { .. } | Self::NextPass => None,
        }
    }

    /// The lane it waits for, if one.
    pub fn holder(&self) -> Option<Holder> {
        match self {
            Self::ConcurrencyGroup { holder, .. } | Self::LeaseRecovery { holder, .. } => {
                Some(*holder)
            }
            Self::Capacity { .. } | Self::NextPass => None,
        }
    }
}

/// The sentence every answer and page shows.
impl fmt::Display for QueueReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Capacity { running, slots } => write!(
                f,
                "waiting for a free lane slot ({running} of {slots} in use)"
            ),
            Self::ConcurrencyGroup { group, holder } => {
                write!(
                    f,
                    "waiting for group {group} (lane #{} holds it)",
                    holder.lane
                )
            }
            Self::LeaseRecovery {
                group,
                holder,
                last_heartbeat_at,
                lease_expires_at,
                expired,
            } => {
                match group {
                    Some(g) => write!(f, "waiting for group {g}: lane #{} holds it", holder.lane)?,
                    None => write!(
                        f,
                        "waiting for a free lane slot: lane #{} holds one",
                        holder.lane
                    )?,
                }
                let since = last_heartbeat_at.as_deref().unwrap_or("its claim");
                let until = lease_expires_at.as_deref().unwrap_or("unknown");
                if *expired {
                    write!(
                        f,
                        ", but its lease ran out at {until}: the scheduler takes it back at its next pass"
                    )
                } else {
                    write!(
                        f,
                        ", but its runner has not renewed its lease since {since}: it is taken back when the lease runs out at {until}"
                    )
                }
            }
            Self::NextPass => {
                f.write_str("nothing holds it back: the scheduler claims it at its next pass")
            }
        }
    }
}

/// What the claim needs to know besides the rows: how many lanes may run at
/// once, and now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueRules {
    pub(super) slots: u32,
    pub(super) now: Timestamp,
}

/// A running lane, as the claim sees it.
#[derive(Debug, Clone)]
struct Running {
    holder: Holder,
    group: Option<String>,
    lease_expires_at: Option<String>,
    last_heartbeat_at: Option<String>,
}

impl Running {
    /// Whether its lease ran out, and whether its runner missed a
    /// heartbeat: one comes every third of the lease, so none for two
    /// thirds of it means at least one was missed.
    fn lease_state(&self, now: Timestamp) -> (bool, bool) {
        let at = |s: &Option<String>| s.as_deref().and_then(|t| t.parse::<Timestamp>().ok());
        let (Some(until), beat) = (at(&self.lease_expires_at), at(&self.last_heartbeat_at)) else {
            return (false, false);
        };
        // Past it, as `recover_expired` takes a lease back.
        if until < now {
            return (true, true);
        }
        let missed = beat.is_some_and(|beat| {
            let lease = until.duration_since(beat);
            let grace = SignedDuration::from_millis(lease.as_millis() as i64 * 2 / 3);
            now.duration_since(beat) > grace
        });
        (false, missed)
    }
}

/// The running lanes and the rules: what decides, for every queued lane,
/// whether it may be claimed and why not.
#[derive(Debug, Clone)]
pub(super) struct Gate {
    running: Vec<Running>,
    rules: QueueRules,
}

impl Gate {
    /// Reads the running lanes (inside the caller's transaction, for the claim).
    pub(super) fn read(c: &Connection, rules: QueueRules) -> rusqlite::Result<Self> {
        let mut stmt = c.prepare_cached(
            "SELECT l.id, l.concurrency_group, l.lease_expires_at, l.last_heartbeat_at, s.branch_id, n.id
             FROM lanes l JOIN suites s ON s.id = l.suite_id
             LEFT JOIN nightly_runs n ON n.suite_id = s.id
             WHERE l.status = 'running' ORDER BY l.id",
        )?;
        let running = stmt
            .query_map([], |r| {
                let nightly: Option<NightlyRunId> = r.get(5)?;
                let branch: BranchId = r.get(4)?;
                Ok(Running {
                    holder: Holder {
                        lane: r.get(0)?,
                        scope: nightly.map_or(LaneScope::Branch(branch), LaneScope::Nightly),
                    },
                    group: r.get(1)?,
                    lease_expires_at: r.get(2)?,
                    last_heartbeat_at: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Self { running, rules })
    }

    /// Why a queued lane of concurrency group `group` waits; the claim takes
    /// the oldest queued lane this calls [`QueueReason::NextPass`].
    pub(super) fn reason(&self, group: Option<&str>) -> QueueReason {
        let now = self.rules.now;
        let recovering = |r: &Running, group: Option<String>| {
            let (expired, missed) = r.lease_state(now);
            missed.then(|| QueueReason::LeaseRecovery {
                group,
                holder: r.holder,
                last_heartbeat_at: r.last_heartbeat_at.clone(),
                lease_expires_at: r.lease_expires_at.clone(),
                expired,
            })
        };
        if let Some(g) = group
            && let Some(r) = self.running.iter().find(|r| r.group.as_deref() == Some(g))
        {
            return recovering(r, Some(g.to_owned())).unwrap_or_else(|| {
                QueueReason::ConcurrencyGroup {
                    group: g.to_owned(),
                    holder: r.holder,
                }
            });
        }
        let running = u32::try_from(self.running.len()).unwrap_or(u32::MAX);
        if running >= self.rules.slots {
            return self
                .running
                .iter()
                .find_map(|r| recovering(r, None))
                .unwrap_or(QueueReason::Capacity {
                    running,
                    slots: self.rules.slots,
                });
        }
        QueueReason::NextPass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn running(id: i64, group: Option<&str>, beat: &str, until: &str) -> Running {
        Running {
            holder: Holder {
                lane: LaneRunId::new(id).unwrap(),
                scope: LaneScope::Branch(BranchId::new(1).unwrap()),
            },
            group: group.map(str::to_owned),
            last_heartbeat_at: Some(beat.into()),
            lease_expires_at: Some(until.into()),
        }
    }

    fn gate(slots: u32, now: &str, running: Vec<Running>) -> Gate {
        Gate {
            running,
            rules: QueueRules { slots, now: t(now) },
        }
    }

    const BEAT: &str = "2026-03-24T16:00:00Z";
    const UNTIL: &str = "2026-03-24T16:01:00Z";

    #[test]
    fn a_held_group_comes_before_capacity_and_names_its_holder() {
        let g = gate(
            1,
            "2026-03-24T16:00:10Z",
            vec![running(12, Some("staged-linux:x"), BEAT, UNTIL)],
        );
        let r = g.reason(Some("staged-linux:x"));
        assert_eq!(r.kind(), "concurrency_group");
        assert_eq!(
            r.to_string(),
            "waiting for group staged-linux:x (lane #12 holds it)"
        );
        assert_eq!(
            g.reason(Some("other")).to_string(),
            "waiting for a free lane slot (1 of 1 in use)"
        );
        assert!(!g.reason(None).claimable());
        let roomy = gate(2, "2026-03-24T16:00:10Z", g.running.clone());
        assert!(roomy.reason(Some("other")).claimable());
        assert!(!roomy.reason(Some("staged-linux:x")).claimable());
    }

    #[test]
    fn a_holder_that_missed_a_heartbeat_or_ran_out_is_being_recovered() {
        let holder = vec![running(12, Some("g"), BEAT, UNTIL)];
        // 40 s of a 60 s lease without a heartbeat: one was missed.
        assert_eq!(
            gate(2, "2026-03-24T16:00:40Z", holder.clone())
                .reason(Some("g"))
                .kind(),
            "concurrency_group"
        );
        let r = gate(2, "2026-03-24T16:00:41Z", holder.clone()).reason(Some("g"));
        assert_eq!(r.kind(), "lease_recovery");
        assert_eq!(
            r.to_string(),
            "waiting for group g: lane #12 holds it, but its runner has not renewed its lease since 2026-03-24T16:00:00Z: it is taken back when the lease runs out at 2026-03-24T16:01:00Z"
        );
        let r = gate(1, "2026-03-24T16:01:00.001Z", holder).reason(None);
        assert_eq!(
            r.to_string(),
            "waiting for a free lane slot: lane #12 holds one, but its lease ran out at 2026-03-24T16:01:00Z: the scheduler takes it back at its next pass"
        );
        assert!(!r.claimable());
    }

    #[test]
    fn with_nothing_running_every_lane_is_next() {
        let g = gate(1, BEAT, Vec::new());
        assert_eq!(g.reason(Some("g")), QueueReason::NextPass);
        assert_eq!(g.reason(None).kind(), "next_pass");
    }
}
