//! Pipeline errors, state root resolution and help.

use crate::support::{TestEnv, stderr, stdout};

#[test]
fn config_errors_name_file_line_and_key_and_exit_2() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"true\"\ntimout_secs = 5\n");
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("pikaci.toml:4:") && err.contains("timout_secs"),
        "{err}"
    );

    std::fs::write(
        env.repo.join("pikaci.toml"),
        "[[job]]\nid = \"a\"\ncommand = \"true\"\n",
    )
    .unwrap();
    let out = env.pikaci(&["run", "no-such-target"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("target no-such-target is not defined"),
        "{}",
        stderr(&out)
    );
    let out = env.pikaci(&["run", "--job", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.pikaci(&["run", "--config", "missing.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.toml"), "{}", stderr(&out));
    let out = env.pikaci(&["run", "--jobs", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.pikaci(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn state_root_is_flag_then_env_then_dot_pikaci() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"true\"\n");
    let flag = env.root.join("from-flag");
    let from_env = env.root.join("from-env");
    let count = |dir: &camino::Utf8Path| {
        pikaci_store::Store::open(dir.to_owned())
            .list_runs(None, 10)
            .unwrap()
            .len()
    };

    env.cmd()
        .env("PIKACI_STATE_ROOT", &from_env)
        .args(["--state-root", flag.as_str(), "run"])
        .output()
        .unwrap();
    assert_eq!((count(&flag), count(&from_env)), (1, 0));
    env.cmd()
        .env("PIKACI_STATE_ROOT", &from_env)
        .args(["run"])
        .output()
        .unwrap();
    assert_eq!((count(&flag), count(&from_env)), (1, 1));
    env.cmd()
        .env_remove("PIKACI_STATE_ROOT")
        .args(["run"])
        .output()
        .unwrap();
    assert_eq!(count(&env.repo.join(".pikaci")), 1);
}

#[test]
fn every_subcommand_explains_itself() {
    let env = TestEnv::new("");
    for sub in [
        &["run"][..],
        &["list"],
        &["status"],
        &["logs"],
        &["rerun"],
        &["gc"],
        &["incus", "plan"],
        &["incus", "doctor"],
        &["incus", "gc"],
    ] {
        let mut args = sub.to_vec();
        args.push("--help");
        let out = env.pikaci(&args);
        assert_eq!(out.status.code(), Some(0), "{sub:?}");
        assert!(stdout(&out).len() > 200, "{sub:?}: {}", stdout(&out));
    }
    let out = env.pikaci(&["--help"]);
    assert!(stdout(&out).contains("Exit codes:"), "{}", stdout(&out));
    let out = env.pikaci(&["generate", "man"]);
    assert!(stdout(&out).contains(".TH pikaci"));
}

#[test]
fn incus_plan_prints_the_commands_without_running_them() {
    let env = TestEnv::new(
        "[incus]\ncpu = 2\n[[job]]\nid = \"vm\"\nexecutor = \"incus\"\ncommand = \"echo 'it''s' \\\"$HOME\\\"\"\n\
         [[job]]\nid = \"local\"\ncommand = \"true\"\n",
    );
    // An incus that would leave a mark if it were ever run.
    let bin = env.root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mark = env.root.join("incus-was-run");
    std::fs::write(bin.join("incus"), format!("#!/bin/sh\ntouch {mark}\n")).unwrap();
    std::process::Command::new("chmod")
        .args(["+x", bin.join("incus").as_str()])
        .status()
        .unwrap();
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap());
    let out = env
        .cmd()
        .env("PATH", path)
        .args(["incus", "plan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("incus init --project pika-managed-agents pikaci/dev"),
        "{text}"
    );
    assert!(text.contains("-c limits.cpu=2"), "{text}");
    assert!(
        text.contains("/run/current-system/sw/bin/pikaci-incus-run"),
        "{text}"
    );
    assert!(!text.contains("local"), "host jobs are not planned: {text}");
    assert!(!mark.exists(), "plan must not run incus");
    // A bad override is a usage error naming the variable.
    let out = env
        .cmd()
        .env("PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT", "bad project!")
        .args(["incus", "plan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_incus_table_mistake_stops_every_run_naming_file_line_and_key() {
    // A host-only run still reads [incus]: a typo there is found at once.
    let env = TestEnv::new(
        "[incus]\nproject = \"p\"\ninstance_typ = \"container\"\n[[job]]\nid = \"a\"\ncommand = \"true\"\n",
    );
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("pikaci.toml:3:") && err.contains("instance_typ"),
        "{err}"
    );
    std::fs::write(
        env.repo.join("pikaci.toml"),
        "[incus]\ninstance_type = \"docker\"\n[[job]]\nid = \"a\"\ncommand = \"true\"\n",
    )
    .unwrap();
    let out = env.pikaci(&["incus", "doctor"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("pikaci.toml:2: key `incus.instance_type`: must be \"vm\" or \"container\""),
        "{err}"
    );
}

/// stderr with the test's folder written as `$REPO`.
fn redacted(env: &TestEnv, text: &str) -> String {
    text.replace(env.repo.as_str(), "$REPO")
}

#[test]
fn pipeline_errors_show_the_line_a_caret_and_did_you_mean() {
    let env = TestEnv::new(
        "[[job]]\nid = \"build\"\ncommand = \"true\"\n\n[[target]]\nid = \"ci\"\njobs = [\"biuld\"]\n",
    );
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    // The caret sits under `"biuld"`, column 9 of line 7.
    let want = "\
error: key `jobs`: target `ci` names job `biuld`, which this file does not define
 --> $REPO/pikaci.toml:7:9
  |
7 | jobs = [\"biuld\"]
  |         ^^^^^^^
  |
  = help: did you mean `build`?
";
    assert_eq!(redacted(&env, &stderr(&out)).trim_end(), want.trim_end());

    std::fs::write(
        env.repo.join("pikaci.toml"),
        "[[job]]\nid = \"a\"\n  comand = \"true\"\n",
    )
    .unwrap();
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = redacted(&env, &stderr(&out));
    assert!(err.contains(" --> $REPO/pikaci.toml:3:3\n"), "{err}");
    assert!(
        err.contains("3 |   comand = \"true\"\n  |   ^^^^^^\n"),
        "{err}"
    );
    assert!(err.contains("= help: did you mean `command`?"), "{err}");

    // A target or job named on the command line gets a hint too.
    std::fs::write(
        env.repo.join("pikaci.toml"),
        "[[job]]\nid = \"build\"\ncommand = \"true\"\n[[target]]\nid = \"pre-merge\"\njobs = [\"build\"]\n",
    )
    .unwrap();
    let out = env.pikaci(&["run", "pre-merg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).ends_with("\n  help: did you mean `pre-merge`?\n"),
        "{}",
        stderr(&out)
    );
    let out = env.pikaci(&["run", "--job", "buidl"]);
    assert!(
        stderr(&out).ends_with("\n  help: did you mean `build`?\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_pipeline_and_a_missing_one_are_clear_errors() {
    let env = TestEnv::new("");
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        redacted(&env, &stderr(&out)),
        "pikaci: $REPO/pikaci.toml defines no job: add a [[job]] table with an id and a command\n"
    );
    assert!(env.store().list_runs(None, 10).unwrap().is_empty());
    std::fs::remove_file(env.repo.join("pikaci.toml")).unwrap();
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        redacted(&env, &stderr(&out)).starts_with(
            "pikaci: no pipeline file at $REPO/pikaci.toml: write a pikaci.toml there"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn generate_is_listed_and_every_man_page_named_exists() {
    let env = TestEnv::new("");
    let help = stdout(&env.pikaci(&["--help"]));
    assert!(help.contains("\n  generate "), "{help}");
    let dir = env.root.join("man");
    let out = env.pikaci(&["generate", "man", "--out-dir", dir.as_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let main = std::fs::read_to_string(dir.join("pikaci.1")).unwrap();
    // Every page pikaci.1 refers to (`pikaci\-run(1)`) was written.
    let named: Vec<String> = main
        .split("pikaci\\-")
        .skip(1)
        .filter_map(|rest| rest.split_once("(1)").map(|(name, _)| name.to_owned()))
        .filter(|name| !name.contains(char::is_whitespace))
        .collect();
    assert!(named.len() >= 10, "{named:?}\n{main}");
    for name in named {
        let page = dir.join(format!("pikaci-{}.1", name.replace("\\-", "-")));
        assert!(page.exists(), "{page} is named in pikaci.1 but missing");
    }
    for sub in ["run", "logs", "incus-plan", "generate-man"] {
        assert!(dir.join(format!("pikaci-{sub}.1")).exists(), "{sub}");
    }
}
