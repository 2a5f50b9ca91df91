//! Golden tests: every builder's argv pinned, for a VM and a container, in
//! the plain local form, through an Incus remote, and wrapped for `sudo` +
//! `ssh`; the launch command's quoting; and every printed line run by `sh`.

use std::process::Command;

use pikaci_core::{ExecutorKind, JobSpec, RunId};

use super::*;
use crate::command::Stdin;
use crate::config::InstanceType;
use crate::name::InstanceName;
use crate::settings::IncusSettings;

const TRICKY: &str =
    "echo 'single' \"double\" $HOME `id` \\\nprintf '%s\\n' \"grüße 🦀\" && exit 3";

fn job(command: &str) -> JobSpec {
    JobSpec {
        description: "test".into(),
        timeout_secs: 900,
        executor: ExecutorKind::Incus,
        ..JobSpec::for_test("check_pika.rust", command)
    }
}

fn run_id() -> RunId {
    "20260324T161238Z-1a2b3c4d".parse().unwrap()
}

fn full_settings() -> IncusSettings {
    IncusSettings::builder()
        .sudo(true)
        .remote_host("ci@incus-host")
        .target("member-2")
        .cpu(8)
        .memory("16GiB")
        .staged_deps_dir("/srv/pikaci/staged/workspace-deps")
        .staged_build_dir("/srv/pikaci/staged/workspace-build")
        .artifacts_root("/srv/pikaci/artifacts")
        .build()
}

/// Each step as its phase, note, argv (one debug-quoted word per line) and
/// the shell-quoted line.
fn render(plan: &JobPlan) -> String {
    let mut out = format!(
        "instance: {}\nartifacts: {:?}\n",
        plan.instance, plan.artifacts_dir
    );
    for s in &plan.steps {
        out.push_str(&format!("\n[{}]", s.phase));
        if let Some(n) = s.note {
            out.push_str(&format!(" ({n})"));
        }
        out.push('\n');
        for (k, v) in &s.command.env {
            out.push_str(&format!("  env {k}={v:?}\n"));
        }
        for w in s.command.argv() {
            out.push_str(&format!("  {w:?}\n"));
        }
        match &s.command.stdin {
            Some(Stdin::Text(t)) => out.push_str(&format!("  stdin text:\n{t}")),
            Some(Stdin::Pipe(p)) => out.push_str(&format!("  stdin from: {:?}\n", p.argv())),
            None => {}
        }
        out.push_str(&format!("  $ {}\n", s.command.display()));
    }
    out
}

/// Splits a line the way `sh` does.
fn sh_split(line: &str) -> Vec<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\0' {line}"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect()
}

#[test]
fn local_default_plan() {
    let plan = plan_job(
        &IncusSettings::default(),
        &run_id(),
        &job("cargo test --workspace"),
        "/state/runs/r/snapshot".into(),
    )
    .unwrap();
    insta::assert_snapshot!(render(&plan));
}

#[test]
fn sudo_ssh_target_limits_and_staged_plan() {
    let mut j = job("cargo build");
    j.run_as_root = true;
    j.writable_workspace = true;
    let plan = plan_job(
        &full_settings(),
        &run_id(),
        &j,
        "/state/runs/r/snapshot".into(),
    )
    .unwrap();
    insta::assert_snapshot!(render(&plan));
}

#[test]
fn launch_quoting_of_a_tricky_command() {
    let mut j = job(TRICKY);
    j.env.insert("RUST_LOG".into(), "debug it's $x".into());
    let launch = GuestLaunch::for_job(&j).unwrap();
    let instance = InstanceName::for_job("pikaci", &run_id(), &j.id);
    let local = Planner::new(&IncusSettings::default(), &instance).launch(&launch);
    let remote = Planner::new(&full_settings(), &instance).launch(&launch);
    insta::assert_snapshot!(format!(
        "local argv:\n{:#?}\nlocal line:\n{}\nremote argv:\n{:#?}\n",
        local.argv(),
        local.display(),
        remote.argv()
    ));

    // No shell locally: the variable carries the command byte for byte.
    let expected_var =
        format!("PIKACI_INCUS_GUEST_COMMAND=export RUST_LOG='debug it'\\''s $x'\n{TRICKY}");
    assert_eq!(local.args[6], expected_var);
    // Over ssh the remote shell splits the line back into the same words.
    let remote_words = sh_split(remote.args.last().unwrap());
    assert_eq!(&remote_words[..3], ["sudo", "-n", "--"]);
    assert_eq!(
        remote_words[3..],
        local
            .argv()
            .iter()
            .map(|w| (*w).to_owned())
            .collect::<Vec<_>>()[..]
    );
    // And the exported variables really reach the command, quotes and all.
    let command = &expected_var["PIKACI_INCUS_GUEST_COMMAND=".len()..];
    let first_line = command.lines().next().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{first_line}\nprintf %s \"$RUST_LOG\""))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "debug it's $x");
}

#[test]
fn env_keys_that_are_not_shell_names_are_refused() {
    let mut j = job("true");
    j.env.insert("BAD KEY".into(), "x".into());
    let err = GuestLaunch::for_job(&j).unwrap_err().to_string();
    assert!(
        err.contains("check_pika.rust") && err.contains("BAD KEY"),
        "{err}"
    );
}

#[test]
fn list_and_delete_for_gc() {
    let s = IncusSettings::builder().project("ci").build();
    assert_eq!(
        list_command(&s).argv(),
        ["incus", "list", "--project", "ci", "--format", "json"]
    );
    let far = IncusSettings::builder().project("ci").remote("far").build();
    assert_eq!(
        list_command(&far).argv(),
        [
            "incus",
            "list",
            "--project",
            "ci",
            "far:",
            "--format",
            "json"
        ]
    );
    let name = InstanceName::parse("pikaci-old-1").unwrap();
    assert_eq!(
        Planner::new(&s, &name).delete().argv(),
        [
            "incus",
            "delete",
            "--project",
            "ci",
            "pikaci-old-1",
            "--force"
        ]
    );
}

/// Runs a printed command line in `sh` with `incus`, `tar`, `rm`, `mkdir`
/// and `cat` replaced by functions that print their words (`<w>`), and
/// `incus` also printing what it reads on stdin.
fn run_printed(line: &str) -> String {
    let script = format!(
        "p() {{ printf '<%s>' \"$@\"; }}\n\
         incus() {{ p incus \"$@\"; printf '|stdin:'; command cat; }}\n\
         tar() {{ p tar \"$@\"; }}\nrm() {{ p rm \"$@\"; }}\n\
         mkdir() {{ p mkdir \"$@\"; }}\ncat() {{ p cat \"$@\"; }}\n{line}\n"
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn words(argv: &[&str]) -> String {
    argv.iter().map(|w| format!("<{w}>")).collect()
}

#[test]
fn every_printed_plan_runs_as_its_commands() {
    let settings = [
        IncusSettings::default(),
        IncusSettings::builder()
            .instance_type(InstanceType::Container)
            .build(),
        IncusSettings::builder()
            .remote("ci-cluster")
            .staged_deps_dir("/srv/deps dir")
            .build(),
    ];
    for s in &settings {
        let plan = plan_job(s, &run_id(), &job("echo 'hi there'"), "/snap dir".into()).unwrap();
        for step in &plan.steps {
            let c = &step.command;
            let expected = match &c.stdin {
                None if c.program == "incus" => format!("{}|stdin:", words(&c.argv())),
                None => words(&c.argv()),
                Some(Stdin::Text(t)) => format!("{}|stdin:{t}", words(&c.argv())),
                Some(Stdin::Pipe(p)) => {
                    format!("{}|stdin:{}", words(&c.argv()), words(&p.argv()))
                }
            };
            assert_eq!(run_printed(&c.display()), expected, "{}", c.display());
        }
    }
}

#[test]
fn a_container_has_no_vm_flag_no_virtiofs_and_no_probe() {
    let s = IncusSettings::builder()
        .instance_type(InstanceType::Container)
        .build();
    let plan = plan_job(&s, &run_id(), &job("true"), "/snap".into()).unwrap();
    let init = &plan
        .steps
        .iter()
        .find(|p| p.phase == Phase::InitInstance)
        .unwrap()
        .command;
    assert!(!init.args.contains(&"--vm".to_owned()));
    let Some(Stdin::Text(devices)) = &init.stdin else {
        panic!("devices on stdin")
    };
    let v: serde_json::Value = serde_json::from_str(devices).unwrap();
    assert_eq!(
        v["devices"]["workspace-snapshot"],
        serde_json::json!({"type": "disk", "source": "/snap", "path": "/workspace/snapshot",
            "readonly": "true", "shift": "true"})
    );
    assert_eq!(
        v["devices"]["artifacts"]["readonly"],
        serde_json::Value::Null
    );
    assert!(!devices.contains("virtiofs"));
    assert!(!plan.steps.iter().any(|p| p.phase == Phase::WaitReady));
    let vm = plan_job(
        &IncusSettings::default(),
        &run_id(),
        &job("true"),
        "/snap".into(),
    )
    .unwrap();
    let init = &vm
        .steps
        .iter()
        .find(|p| p.phase == Phase::InitInstance)
        .unwrap()
        .command;
    assert!(init.args.contains(&"--vm".to_owned()));
    assert!(vm.steps.iter().any(|p| p.phase == Phase::WaitReady));
}

#[test]
fn a_remote_plan_pushes_and_pulls_and_mounts_nothing() {
    let s = IncusSettings::builder()
        .remote("ci-cluster")
        .target("member-1")
        .instance_type(InstanceType::Container)
        .build();
    let plan = plan_job(&s, &run_id(), &job("true"), "/snap".into()).unwrap();
    assert_eq!(plan.artifacts_dir, None);
    insta::assert_snapshot!(render(&plan));
    for step in &plan.steps {
        let line = step.command.display();
        assert!(!line.contains("source="), "{line}");
        assert!(
            step.command.program == "incus",
            "nothing runs on this host but incus: {line}"
        );
    }
}

#[test]
fn what_incus_plan_prints() {
    let plan = plan_job(
        &IncusSettings::builder().cpu(4).memory("8GiB").build(),
        &run_id(),
        &job("cargo test --workspace"),
        "/state/runs/20260324T161238Z-1a2b3c4d/snapshot".into(),
    )
    .unwrap();
    insta::assert_snapshot!(plan.to_string());
}
