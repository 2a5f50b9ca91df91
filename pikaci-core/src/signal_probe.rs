//! A job that shows whether signals reach it, and the check of what it
//! printed. Shared by the tests that run it on the host, in a pika-news
//! argv lane and in an Incus instance.
//!
//! A job started with SIGTERM blocked (or ignored) cannot be stopped by
//! `timeout`, by `kill` of its own background process, or by pikaci: its
//! `trap ... TERM` never runs and every stop waits the whole grace. The probe
//! prints its signal mask and ignored signals, runs `timeout 1 sleep 30` and
//! `sleep 30 & kill %1` (each prints its exit status, at once when signals
//! work and after 30 s when they do not), then traps SIGTERM and waits for
//! the timeout or cancel that stops it.

/// The probe, a bash script. Its job's timeout must be longer than a few
/// seconds (the first two checks must be done by then) and shorter than
/// 30 s (so a job whose signals are blocked has not printed their results
/// when it is stopped).
pub const SIGNAL_PROBE: &str = r#"grep -E '^(SigBlk|SigIgn):' /proc/self/status
timeout 1 sleep 30; echo "timeout-exit=$?"
sleep 30 & kill %1; wait %1; echo "kill-exit=$?"
trap 'echo got-term; exit 0' TERM
echo waiting-for-term
sleep 300 & wait
"#;

/// The line the probe prints once it waits for SIGTERM.
pub const PROBE_WAITING: &str = "waiting-for-term";

/// The line the probe's trap prints when SIGTERM reaches it.
pub const PROBE_GOT_TERM: &str = "got-term";

/// Glibc's own two real-time signals (32 and 33, below `SIGRTMIN`): its
/// `posix_spawn` leaves them ignored in every program it starts, and no
/// program may use them.
const GLIBC_INTERNAL: u64 = (1 << 31) | (1 << 32);

/// What a probe's output says is wrong, empty when every check passed.
/// `log` is the job's whole output; with `stopped` the probe must have seen
/// the SIGTERM that stopped it.
pub fn probe_problems(log: &str, stopped: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let mask = |name: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
    };
    match mask("SigBlk:") {
        Some(0) => {}
        Some(m) => problems.push(format!("the job started with signals blocked: {m:016x}")),
        None => problems.push("the job printed no SigBlk".into()),
    }
    match mask("SigIgn:").map(|m| m & !GLIBC_INTERNAL) {
        Some(0) => {}
        Some(m) => problems.push(format!("the job started with signals ignored: {m:016x}")),
        None => problems.push("the job printed no SigIgn".into()),
    }
    // GNU `timeout` exits 124 after stopping its command; BusyBox's (in the
    // Incus test image) execs the command, which dies of the SIGTERM (143).
    if !log
        .lines()
        .any(|l| matches!(l.trim_end(), "timeout-exit=124" | "timeout-exit=143"))
    {
        problems.push("`timeout 1 sleep 30` did not stop its command after 1 s".to_owned());
    }
    for (line, what) in [
        (
            "kill-exit=143",
            "`kill %1` did not stop the background sleep",
        ),
        (PROBE_WAITING, "the probe never got to its trap"),
    ] {
        if !log.lines().any(|l| l.trim_end() == line) {
            problems.push(what.to_owned());
        }
    }
    if stopped && !log.lines().any(|l| l.trim_end() == PROBE_GOT_TERM) {
        problems.push("the job's TERM trap never ran: it was not sent SIGTERM".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "SigBlk:\t0000000000000000\nSigIgn:\t0000000180000000\n\
                        timeout-exit=124\nkill-exit=143\nwaiting-for-term\ngot-term\n";

    #[test]
    fn a_good_run_has_no_problem_and_each_fault_is_named() {
        assert!(probe_problems(GOOD, true).is_empty());
        let blocked = GOOD.replace("SigBlk:\t0000000000000000", "SigBlk:\t0000000000004003");
        assert_eq!(
            probe_problems(&blocked, true),
            ["the job started with signals blocked: 0000000000004003"]
        );
        let ignored = GOOD.replace("SigIgn:\t0000000180000000", "SigIgn:\t0000000000004000");
        assert_eq!(probe_problems(&ignored, true).len(), 1);
        let no_trap = GOOD.replace("got-term\n", "");
        assert!(probe_problems(&no_trap, false).is_empty());
        assert_eq!(probe_problems(&no_trap, true).len(), 1);
        let busybox = GOOD.replace("timeout-exit=124", "timeout-exit=143");
        assert!(probe_problems(&busybox, true).is_empty());
        let waited = GOOD.replace("timeout-exit=124", "timeout-exit=0");
        assert_eq!(probe_problems(&waited, true).len(), 1);
        assert_eq!(probe_problems("", false).len(), 5);
    }
}
