//! [`DoctorReport`]: the checks' results and the table `pikaci incus doctor`
//! prints.

use std::fmt;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// Fine.
    Pass,
    /// Jobs cannot run until this is fixed.
    Fail,
    /// Not run, because an earlier check failed.
    Skipped,
    /// Facts that do not stop these settings (the other instance type).
    Info,
}

impl CheckStatus {
    /// The word in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "FAIL",
            Self::Skipped => "skip",
            Self::Info => "info",
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked (`daemon`, `image`, ...).
    pub name: &'static str,
    /// How it came out.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
    /// What to do, for a failure.
    pub fix: Option<String>,
}

impl Check {
    pub(crate) fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: CheckStatus::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    pub(crate) fn fail(name: &'static str, detail: impl Into<String>, fix: String) -> Self {
        Self {
            name,
            status: CheckStatus::Fail,
            detail: detail.into(),
            fix: Some(fix),
        }
    }

    pub(crate) fn skipped(name: &'static str, why: &str) -> Self {
        Self {
            name,
            status: CheckStatus::Skipped,
            detail: why.to_owned(),
            fix: None,
        }
    }

    pub(crate) fn info(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: CheckStatus::Info,
            detail: detail.into(),
            fix: None,
        }
    }
}

/// Everything `pikaci incus doctor` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorReport {
    /// What the settings ask for, in one line.
    pub summary: String,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// Whether nothing failed: jobs with these settings can run.
    pub fn jobs_can_run(&self) -> bool {
        !self.checks.iter().any(|c| c.status == CheckStatus::Fail)
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == CheckStatus::Fail)
    }
}

impl fmt::Display for DoctorReport {
    /// A table `CHECK RESULT DETAIL`, a `fix:` line under each failure, and
    /// a closing verdict.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary)?;
        writeln!(f)?;
        let width = self
            .checks
            .iter()
            .map(|c| c.name.len())
            .chain([14])
            .max()
            .unwrap_or(14);
        writeln!(f, "{:width$}  RESULT  DETAIL", "CHECK")?;
        for c in &self.checks {
            writeln!(
                f,
                "{:width$}  {:<6}  {}",
                c.name,
                c.status.as_str(),
                c.detail
            )?;
            if let Some(fix) = &c.fix {
                writeln!(f, "{:width$}          fix: {fix}", "")?;
            }
        }
        writeln!(f)?;
        let failed = self.failures().count();
        if failed == 0 {
            writeln!(f, "jobs can run with these settings")
        } else {
            writeln!(
                f,
                "jobs cannot run: {failed} check(s) failed; each failure says how to fix it"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_fix_per_failure() {
        let report = DoctorReport {
            summary: "container jobs on the local daemon".into(),
            checks: vec![
                Check::pass("daemon", "Incus 6.0.4"),
                Check::fail("image", "pikaci/test: not found", "import it".into()),
                Check::skipped("instance type", "needs the image"),
                Check::info("virtual machines", "not available"),
            ],
        };
        assert!(!report.jobs_can_run());
        let text = report.to_string();
        assert_eq!(text.matches("fix:").count(), 1, "{text}");
        assert!(
            text.contains("image             FAIL    pikaci/test: not found"),
            "{text}"
        );
        assert!(text.contains("fix: import it"), "{text}");
        assert!(
            text.ends_with("jobs cannot run: 1 check(s) failed; each failure says how to fix it\n")
        );
        let ok = DoctorReport {
            summary: String::new(),
            checks: vec![Check::pass("daemon", "up")],
        };
        assert!(ok.jobs_can_run());
        assert!(
            ok.to_string()
                .ends_with("jobs can run with these settings\n")
        );
    }
}
