//! Print the exact Incus commands a job would run, without running them.
//!
//! `cargo run -p pikaci-examples --example incus_plan`
//!
//! The same as `pikaci incus plan`: settings from `[incus]` (read by
//! `pikaci-incus` from the table the pipeline keeps, plus the
//! `PIKACI_REMOTE_LINUX_VM_INCUS_*` environment), then the plan of one job.

use std::collections::BTreeMap;

use camino::Utf8Path;
use pikaci_core::{Pipeline, RunId};
use pikaci_incus::{IncusConfig, IncusSettings, plan_job};

const PIPELINE: &str = r#"
[incus]
cpu = 4
memory = "8GiB"

[[job]]
id = "pre-merge"
command = "cargo test --workspace -- --test-threads=4"
executor = "incus"
timeout_secs = 1800
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pipeline = Pipeline::parse(PIPELINE, Utf8Path::new("pikaci.toml"))?;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let config = IncusConfig::from_section(&pipeline.incus)?;
    let settings = IncusSettings::resolve(&config, &env)?;
    let run: RunId = "20260324T161238Z-1a2b3c4d".parse()?;
    let job = &pipeline.jobs[0];
    let snapshot = Utf8Path::new("/var/lib/pikaci/state/runs/20260324T161238Z-1a2b3c4d/snapshot");
    print!("{}", plan_job(&settings, &run, job, snapshot)?);
    Ok(())
}
