//! No server path in any answer. A run record and its logs' metadata name
//! files by absolute paths of the CI host (`source_root`, `snapshot_dir`,
//! each job's `host_log_path` and `guest_log_path`, and in the earlier
//! pikaci's records keys like `plan_path`); what pika-news serves names them
//! relative to the run's folder instead (`jobs/build/guest.log`,
//! `snapshot`, `../<run>/snapshot` for a rerun's), or by their last name
//! when they lie outside the state root (`source_root` becomes the source
//! folder's name). The keys stay strings, so every client that decodes
//! them as paths still does. Paths inside messages (`message`, and strings
//! of keys this version does not model) lose the server's folders too.
//!
//! This is the one place answers are scrubbed: the records and metadata
//! pika-news reads go through it before anything is cached or served.
//! pikaci's own `run.json` keeps what it wrote (the CLI is local).

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::{RunId, RunLogsMetadata, RunRecord};
use serde_json::Value;

/// The server folders no answer may name.
#[derive(Debug, Clone)]
pub(crate) struct ServerPaths {
    /// The repository's pikaci state root.
    pub state_root: Utf8PathBuf,
    /// The service's data folder (worktrees, lane logs), when known.
    pub data_dir: Option<Utf8PathBuf>,
}

impl ServerPaths {
    /// A path as a name an answer may carry: relative to `run`'s folder when
    /// inside it, `../<run>/...` inside another run's folder, else its last
    /// component (`.` when it has none).
    fn name(&self, run: &RunId, path: &Utf8Path) -> Utf8PathBuf {
        if path.is_relative() {
            return path.to_owned();
        }
        let runs = self.state_root.join(pikaci_store::RUNS_DIR);
        if let Ok(rest) = path.strip_prefix(runs.join(run.as_str())) {
            return if rest.as_str().is_empty() {
                ".".into()
            } else {
                rest.to_owned()
            };
        }
        if let Ok(rest) = path.strip_prefix(&runs) {
            return Utf8Path::new("..").join(rest);
        }
        path.file_name()
            .map_or_else(|| ".".into(), Utf8PathBuf::from)
    }

    /// `text` with every server folder named in it replaced by a word:
    /// `run folder`, `state root`, `data folder`.
    fn words(&self, run: &RunId, text: &str) -> String {
        let run_dir = self
            .state_root
            .join(pikaci_store::RUNS_DIR)
            .join(run.as_str());
        let mut out = text.replace(&format!("{run_dir}/"), "");
        out = out.replace(run_dir.as_str(), "run folder");
        out = out.replace(self.state_root.as_str(), "state root");
        if let Some(data) = &self.data_dir {
            out = out.replace(data.as_str(), "data folder");
        }
        out
    }

    /// A string of a key this version does not model: an absolute path
    /// becomes a name, any other text loses the server's folders.
    fn scrub_value(&self, run: &RunId, value: &mut Value) {
        match value {
            Value::String(s) if s.starts_with('/') => {
                *s = self.name(run, Utf8Path::new(s.as_str())).into_string();
            }
            Value::String(s) => *s = self.words(run, s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_value(run, v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.scrub_value(run, v)),
            _ => {}
        }
    }

    fn scrub_extra(&self, run: &RunId, extra: &mut pikaci_core::Extra) {
        extra.values_mut().for_each(|v| self.scrub_value(run, v));
    }

    /// `record` as an answer carries it.
    pub(crate) fn record(&self, mut record: RunRecord) -> RunRecord {
        let run = record.run_id.clone();
        record.source_root = self.name(&run, &record.source_root);
        record.snapshot_dir = self.name(&run, &record.snapshot_dir);
        if let Some(m) = &mut record.message {
            *m = self.words(&run, m);
        }
        self.scrub_extra(&run, &mut record.extra);
        for job in &mut record.jobs {
            job.host_log_path = self.name(&run, &job.host_log_path);
            job.guest_log_path = self.name(&run, &job.guest_log_path);
            if let Some(m) = &mut job.message {
                *m = self.words(&run, m);
            }
            self.scrub_extra(&run, &mut job.extra);
            if let Some(vm) = &mut job.remote_linux_vm_execution {
                self.scrub_extra(&run, &mut vm.extra);
                for phase in &mut vm.phases {
                    self.scrub_extra(&run, &mut phase.extra);
                }
            }
        }
        record
    }

    /// `meta` as an answer carries it.
    pub(crate) fn logs_metadata(&self, mut meta: RunLogsMetadata) -> RunLogsMetadata {
        let run = meta.run_id.clone();
        for job in &mut meta.jobs {
            job.host_log_path = self.name(&run, &job.host_log_path);
            job.guest_log_path = self.name(&run, &job.guest_log_path);
        }
        meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_names_relative_to_the_run_folder() {
        let paths = ServerPaths {
            state_root: "/srv/git/pikaci-state/r".into(),
            data_dir: Some("/var/lib/pika-news/data".into()),
        };
        let mut r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        let run_dir = "/srv/git/pikaci-state/r/runs/20260324T161238Z-1a2b3c4d";
        r.source_root = "/var/lib/pika-news/data/worktrees/lane-4-1".into();
        r.snapshot_dir = "/srv/git/pikaci-state/r/runs/20260301T000000Z-00000001/snapshot".into();
        r.jobs[0].guest_log_path = format!("{run_dir}/jobs/build/guest.log").into();
        r.jobs[0].host_log_path = "/tmp/elsewhere/host.log".into();
        r.message = Some(format!(
            "could not write {run_dir}/run.json under /srv/git/pikaci-state/r"
        ));
        r.extra
            .insert("plan_path".into(), format!("{run_dir}/plan.json").into());
        r.extra.insert(
            "prepare_timings".into(),
            serde_json::json!([{"dir": "/var/lib/pika-news/data/x", "note": "in /var/lib/pika-news/data/y"}]),
        );
        let a = paths.record(r);
        assert_eq!(a.source_root, "lane-4-1");
        assert_eq!(a.snapshot_dir, "../20260301T000000Z-00000001/snapshot");
        assert_eq!(a.jobs[0].guest_log_path, "jobs/build/guest.log");
        assert_eq!(a.jobs[0].host_log_path, "host.log");
        assert_eq!(
            a.message.as_deref(),
            Some("could not write run.json under state root")
        );
        assert_eq!(a.extra["plan_path"], "plan.json");
        assert_eq!(
            a.extra["prepare_timings"],
            serde_json::json!([{"dir": "x", "note": "in data folder/y"}])
        );
    }
}
