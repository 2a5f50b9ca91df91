//! How long pikaci gives a job to stop, and how long a program that stops
//! pikaci should give pikaci.

use std::time::Duration;

/// Between SIGTERM and SIGKILL when pikaci stops a job's processes: at its
/// timeout, when the run is cancelled (SIGINT or SIGTERM to pikaci), and when
/// pikaci itself dies (the job's supervisor then applies it).
pub const JOB_KILL_GRACE: Duration = Duration::from_secs(5);

/// How long `pikaci run`, sent SIGTERM, may take to stop its jobs (within
/// [`JOB_KILL_GRACE`], plus the supervisor's margin to kill what is left) and
/// write the final record. A program that stops pikaci with SIGTERM should
/// wait at least this long before it sends SIGKILL; if it does not, the jobs
/// still die (their supervisors stop them within [`JOB_KILL_GRACE`]), but
/// the run is recorded as interrupted instead of cancelled.
pub const PIKACI_STOP_GRACE: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::SUPERVISOR_MARGIN;

    #[test]
    fn pikaci_gets_longer_than_its_jobs_with_room_for_the_record() {
        assert!(PIKACI_STOP_GRACE >= JOB_KILL_GRACE + SUPERVISOR_MARGIN + Duration::from_secs(2));
    }
}
