//! The same scenarios against `fake-incus` and the real daemon, compared:
//! what pikaci makes of each (status, failure kind, exit code, the failing
//! step, what Incus's answer means, the job's output) must be the same, so
//! the stand-in the fault tests rely on stays honest.

use pikaci_core::{FailureKind, JobSpec, RunStatus};
use pikaci_incus::hint::{Diagnosis, diagnose};
use pikaci_incus::{IncusSettingsBuilder, InstanceType};
use tokio_util::sync::CancellationToken;

use crate::fake_faults::Fake;
use crate::real_executor::{Ran, job, run_job};
use crate::world::{PROFILE, PROJECT, Real, VM_IMAGE, daemon_runs_vms};

/// What pikaci made of a scenario, without what differs by nature (paths,
/// times, the exact command lines).
#[derive(Debug, PartialEq)]
struct Seen {
    status: RunStatus,
    failure_kind: Option<FailureKind>,
    exit_code: Option<i32>,
    step: Option<String>,
    diagnosis: Option<Diagnosis>,
    output: Vec<String>,
}

impl Seen {
    fn of(ran: &Ran) -> Self {
        let message = ran.message();
        let said = message.split(". Fix: ").next().unwrap_or_default();
        let step = said
            .split("step ")
            .nth(1)
            .and_then(|rest| rest.split([' ', ':']).next())
            .map(str::to_owned);
        Self {
            status: ran.outcome.status,
            failure_kind: ran.outcome.failure_kind,
            exit_code: ran.outcome.exit_code,
            step,
            diagnosis: diagnose(said),
            output: ran
                .guest
                .lines()
                .filter(|l| !l.starts_with("pikaci-incus-run:"))
                .map(str::to_owned)
                .collect(),
        }
    }
}

struct Scenario {
    name: &'static str,
    job: JobSpec,
    tweak: fn(IncusSettingsBuilder) -> IncusSettingsBuilder,
}

fn scenarios() -> Vec<Scenario> {
    let same = |b| b;
    // Error texts of the tools differ (busybox in the image, coreutils under
    // the stand-in); what a job can do must not.
    let mut root = job(
        "root",
        "id -u; touch README 2>/dev/null || echo refused",
        60,
    );
    root.run_as_root = true;
    let mut list = vec![
        Scenario {
            name: "pass",
            job: job("pass", "echo hello; cat README; id -u", 60),
            tweak: same,
        },
        Scenario {
            name: "fail",
            job: job("fail", "echo failing; exit 3", 60),
            tweak: same,
        },
        Scenario {
            name: "timeout",
            job: job("timeout", "echo start; sleep 30", 1),
            tweak: same,
        },
        Scenario {
            name: "root, read-only snapshot",
            job: root,
            tweak: same,
        },
        Scenario {
            name: "uid 1000, read-only snapshot",
            job: job(
                "user",
                "touch README 2>/dev/null || echo refused; mkdir new 2>/dev/null || echo refused too",
                60,
            ),
            tweak: same,
        },
        Scenario {
            name: "missing image",
            job: job("noimage", "true", 60),
            tweak: |b| b.image_alias("pikaci/no-such-image"),
        },
        Scenario {
            name: "missing project",
            job: job("noproject", "true", 60),
            tweak: |b| b.project("pikaci-no-such-project"),
        },
        Scenario {
            name: "missing profile",
            job: job("noprofile", "true", 60),
            tweak: |b| b.profile("pikaci-no-such-profile"),
        },
        Scenario {
            name: "wrong image type",
            job: job("wrongtype", "true", 60),
            tweak: |b| b.instance_type(InstanceType::Vm),
        },
    ];
    // A VM on a daemon without VM support is refused by both; where VMs
    // run, the empty test disk never boots, which the stand-in cannot be.
    if !daemon_runs_vms() {
        list.push(Scenario {
            name: "no virtual machines",
            job: job("novm", "true", 60),
            tweak: |b| b.instance_type(InstanceType::Vm).image_alias(VM_IMAGE),
        });
    }
    list
}

#[tokio::test]
async fn the_stand_in_answers_like_the_real_daemon() {
    let real = Real::new("conf");
    let real_snap = crate::real_executor::snapshot(&real);
    let fake = Fake::new();
    fake.write(
        "world.json",
        serde_json::json!({
            "projects": ["default", PROJECT],
            "images": {real.image.clone(): "container", VM_IMAGE: "virtual-machine"},
            "profiles": ["default", PROFILE],
            "storage_pools": ["default"],
            "vm_support": daemon_runs_vms(),
        }),
    );
    let base = |b: IncusSettingsBuilder| {
        b.project(PROJECT)
            .profile(PROFILE)
            .image_alias(&real.image)
            .instance_type(InstanceType::Container)
    };
    let mut differences = Vec::new();
    for s in scenarios() {
        let on_real = run_job(
            (s.tweak)(real.settings()).build(),
            &s.job,
            &real_snap,
            CancellationToken::new(),
        )
        .await;
        let on_fake = run_job(
            (s.tweak)(base(fake.settings())).build(),
            &s.job,
            &fake.snapshot,
            CancellationToken::new(),
        )
        .await;
        let (r, f) = (Seen::of(&on_real), Seen::of(&on_fake));
        if r != f {
            differences.push(format!(
                "{}:\n  real: {r:?}\n        {}\n  fake: {f:?}\n        {}",
                s.name,
                on_real.message(),
                on_fake.message()
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "fake-incus and real Incus disagree:\n{}",
        differences.join("\n")
    );
    real.assert_clean();
    fake.assert_clean(PROJECT);
}
