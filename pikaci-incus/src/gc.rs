//! `pikaci incus gc`: delete leftover instances with our prefix that are
//! older than a given age (a crash or a killed host can leave some behind),
//! with their artifacts folders in mount mode.

use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;

use crate::command::IncusCommand;
use crate::error::IncusError;
use crate::name::InstanceName;
use crate::plan::{Planner, artifacts_dir, list_command};
use crate::runner::CommandRunner;
use crate::settings::IncusSettings;

/// The fields of `incus list --format json` entries that gc reads.
#[derive(Debug, Deserialize)]
struct Listed {
    name: String,
    created_at: Timestamp,
}

/// What gc did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GcInstancesReport {
    /// Deleted instances.
    pub deleted: Vec<InstanceName>,
    /// Our instances that are too young to delete.
    pub kept: Vec<InstanceName>,
    /// Instances whose delete failed, with the reason.
    pub failed: Vec<(InstanceName, String)>,
}

/// Lists the project's instances and deletes (`--force`) those whose name
/// carries the settings' prefix and that were created more than
/// `older_than` before `now`, and in mount mode the host folder that was
/// their `/artifacts`. Other instances are never touched.
pub async fn gc_instances(
    settings: &IncusSettings,
    runner: &dyn CommandRunner,
    older_than: Duration,
    now: Timestamp,
) -> Result<GcInstancesReport, IncusError> {
    let list = list_command(settings);
    let out = runner.run(&list).await?;
    if !out.success() {
        return Err(IncusError::CommandFailed {
            command: list.display(),
            status: out.status_text(),
            output: out.summary(),
        });
    }
    let listed: Vec<Listed> =
        serde_json::from_slice(&out.stdout).map_err(|source| IncusError::ListOutput { source })?;
    let cutoff = now
        .checked_sub(
            jiff::SignedDuration::try_from(older_than).unwrap_or(jiff::SignedDuration::MAX),
        )
        .unwrap_or(Timestamp::MIN);
    let mut report = GcInstancesReport::default();
    for item in listed {
        let Ok(name) = InstanceName::parse(&item.name) else {
            continue;
        };
        if !name.has_prefix(&settings.instance_prefix) {
            continue;
        }
        if item.created_at > cutoff {
            report.kept.push(name);
            continue;
        }
        let p = Planner::new(settings, &name);
        if let Err(e) = succeeded(runner, &p.delete()).await {
            report.failed.push((name, e));
            continue;
        }
        if let Some(dir) = artifacts_dir(settings, &name)
            && let Err(e) = succeeded(runner, &p.remove_artifacts(&dir)).await
        {
            report.failed.push((name, format!("artifacts folder: {e}")));
            continue;
        }
        report.deleted.push(name);
    }
    Ok(report)
}

/// Runs `cmd`: `Ok` when it succeeded, otherwise what went wrong.
async fn succeeded(runner: &dyn CommandRunner, cmd: &IncusCommand) -> Result<(), String> {
    match runner.run(cmd).await {
        Ok(o) if o.success() => Ok(()),
        Ok(o) => Err(o.error_text()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{CallKind, FakeReply, RecordingRunner};

    const LIST: &str = r#"[
      {"name": "pikaci-old-1", "status": "Running", "created_at": "2026-03-24T10:00:00.123456Z", "project": "pika-managed-agents"},
      {"name": "pikaci-new-1", "status": "Running", "created_at": "2026-03-24T15:30:00Z"},
      {"name": "someone-else", "status": "Running", "created_at": "2020-01-01T00:00:00Z"},
      {"name": "pikacix-1", "status": "Stopped", "created_at": "2020-01-01T00:00:00Z"},
      {"name": "pikaci-stuck", "status": "Stopped", "created_at": "2026-03-24T09:00:00Z"}
    ]"#;

    #[tokio::test]
    async fn deletes_only_our_old_instances() {
        let runner = RecordingRunner::new(|cmd| match cmd.args.first().map(String::as_str) {
            Some("list") => FakeReply::stdout(LIST),
            Some("delete") if cmd.args.contains(&"pikaci-stuck".to_owned()) => {
                FakeReply::fail(1, "Error: boom")
            }
            _ => FakeReply::ok(),
        });
        let now: Timestamp = "2026-03-24T16:00:00Z".parse().unwrap();
        let report = gc_instances(
            &IncusSettings::default(),
            &runner,
            Duration::from_secs(3600),
            now,
        )
        .await
        .unwrap();
        let names = |v: &[InstanceName]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(names(&report.deleted), ["pikaci-old-1"]);
        assert_eq!(names(&report.kept), ["pikaci-new-1"]);
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].0.as_str(), "pikaci-stuck");
        assert!(report.failed[0].1.contains("boom"));
        let deletes: Vec<_> = runner
            .calls()
            .into_iter()
            .filter(|c| c.kind == CallKind::Run && c.command.args[0] == "delete")
            .map(|c| c.command.args[3].clone())
            .collect();
        assert_eq!(deletes, ["pikaci-old-1", "pikaci-stuck"]);
        let removed: Vec<_> = runner
            .calls()
            .into_iter()
            .filter(|c| c.command.program == "rm")
            .map(|c| c.command.args[2].clone())
            .collect();
        assert_eq!(removed, ["/tmp/pikaci-incus/pikaci-old-1"]);
    }

    #[tokio::test]
    async fn list_failure_and_garbage_are_errors() {
        let failing = RecordingRunner::new(|_| FakeReply::fail(1, "Error: Project not found"));
        let err = gc_instances(
            &IncusSettings::default(),
            &failing,
            Duration::ZERO,
            Timestamp::now(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("Project not found"), "{err}");
        let garbage = RecordingRunner::new(|_| FakeReply::stdout("not json"));
        let err = gc_instances(
            &IncusSettings::default(),
            &garbage,
            Duration::ZERO,
            Timestamp::now(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, IncusError::ListOutput { .. }));
    }
}
