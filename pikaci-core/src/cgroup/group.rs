//! [`Cgroup`]: one job's or lane's cgroup: move a process in, count and
//! kill everything in it, read which limit it hit, remove it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::CgroupError;
use super::file::write;
use super::layout::Controller;

/// How long [`Cgroup::kill`] waits for the cgroup to empty.
const KILL_LIMIT: Duration = Duration::from_secs(5);
/// How often it looks.
const POLL: Duration = Duration::from_millis(5);

/// A cgroup made by [`CgroupRoot::create`](super::CgroupRoot::create): a
/// directory in the v2 hierarchy, and one per v1 controller that sets a
/// limit.
#[derive(Debug)]
pub struct Cgroup {
    v2: PathBuf,
    v2_relative: String,
    v1: Vec<(Controller, PathBuf)>,
    has_kill: bool,
}

/// What a cgroup's limits did to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitsHit {
    /// Processes the kernel killed because the cgroup's memory was full.
    pub oom_kills: u64,
    /// Forks refused because the cgroup had as many processes as allowed.
    pub forks_refused: u64,
}

impl Cgroup {
    pub(crate) fn new(v2: PathBuf, v2_relative: String, has_kill: bool) -> Self {
        Self {
            v2,
            v2_relative,
            v1: Vec::new(),
            has_kill,
        }
    }

    /// Its v2 directory.
    pub fn v2_dir(&self) -> &Path {
        &self.v2
    }

    /// Its path in the v2 hierarchy, as `/proc/PID/cgroup` shows it
    /// (`0::/pika-news-lane-3-1`).
    pub fn v2_path(&self) -> &str {
        &self.v2_relative
    }

    pub(crate) fn write_v2(&self, file: &str, value: &str) -> Result<(), CgroupError> {
        write(&self.v2.join(file), value)
    }

    /// Makes (once) its cgroup in a v1 controller's hierarchy, at `dir`.
    pub(crate) fn v1_dir(
        &mut self,
        controller: Controller,
        dir: PathBuf,
    ) -> Result<PathBuf, CgroupError> {
        std::fs::create_dir(&dir).map_err(|e| CgroupError::Io {
            what: format!("make cgroup {}", dir.display()),
            source: e,
        })?;
        self.v1.push((controller, dir.clone()));
        Ok(dir)
    }

    /// Knows of its existing v1 cgroup at `dir` (when one is there), to
    /// remove it with the rest.
    pub(crate) fn forget_v1(&mut self, controller: Controller, dir: PathBuf) {
        if dir.is_dir() {
            self.v1.push((controller, dir));
        }
    }

    /// Moves process `pid` (and, from then on, every process it starts) in:
    /// into each v1 cgroup first, then into the v2 one, so a process that
    /// waits to be in the v2 cgroup (the job supervisor does) is in all.
    pub fn add(&self, pid: u32) -> Result<(), CgroupError> {
        for (_, dir) in &self.v1 {
            write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        write(&self.v2.join("cgroup.procs"), &pid.to_string())
    }

    /// The processes in it now.
    pub fn procs(&self) -> Vec<u32> {
        std::fs::read_to_string(self.v2.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Kills every process in it (`cgroup.kill`, or SIGKILL to each until
    /// none is left on a kernel without it) and waits, at most 5 s, until
    /// it is empty. Returns how many processes were in it.
    pub fn kill(&self) -> Result<usize, CgroupError> {
        let found = self.procs().len();
        if found == 0 {
            return Ok(0);
        }
        let deadline = Instant::now() + KILL_LIMIT;
        if self.has_kill {
            self.write_v2("cgroup.kill", "1")?;
        }
        loop {
            let left = self.procs();
            if left.is_empty() {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                return Err(CgroupError::StillPopulated {
                    cgroup: self.v2.clone(),
                    left: left.len(),
                });
            }
            if !self.has_kill {
                for pid in left {
                    if let Ok(pid) = i32::try_from(pid) {
                        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                    }
                }
            }
            std::thread::sleep(POLL);
        }
    }

    /// A handle that ends every process in it at once, without waiting
    /// (`cgroup.kill`; without it, SIGKILL to each process it holds then),
    /// adding how many it held to `killed`: for a stop that must not wait
    /// for a job's stopped supervisor.
    pub fn killer(&self, killed: Arc<AtomicUsize>) -> impl Fn() + Send + Sync + 'static {
        let dir = self.v2.clone();
        let has_kill = self.has_kill;
        move || {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            let pids: Vec<i32> = procs
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            killed.fetch_add(pids.len(), Ordering::Relaxed);
            if has_kill {
                let _ = std::fs::write(dir.join("cgroup.kill"), "1");
                return;
            }
            for pid in pids {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }

    /// What its limits did so far: OOM kills (`memory.events`, v1
    /// `memory.oom_control`) and refused forks (`pids.events`).
    pub fn limits_hit(&self) -> LimitsHit {
        let count = |path: PathBuf, key: &str| -> u64 {
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
                .unwrap_or(0)
        };
        let v1 = |c: Controller| self.v1.iter().find(|(have, _)| *have == c).map(|(_, d)| d);
        let oom_kills = match v1(Controller::Memory) {
            Some(dir) => count(dir.join("memory.oom_control"), "oom_kill "),
            None => count(self.v2.join("memory.events"), "oom_kill "),
        };
        let forks_refused = match v1(Controller::Pids) {
            Some(dir) => count(dir.join("pids.events"), "max "),
            None => count(self.v2.join("pids.events"), "max "),
        };
        LimitsHit {
            oom_kills,
            forks_refused,
        }
    }

    /// Kills what is left in it and removes it (each v1 cgroup too).
    pub fn remove(self) -> Result<(), CgroupError> {
        let killed = self.kill();
        let mut result = killed.map(|_| ());
        for dir in std::iter::once(&self.v2).chain(self.v1.iter().map(|(_, d)| d)) {
            if let Err(e) = rmdir(dir)
                && result.is_ok()
            {
                result = Err(e);
            }
        }
        result
    }
}

/// Removes an empty cgroup; a cgroup whose last process has just died may
/// still be busy for a moment.
fn rmdir(dir: &Path) -> Result<(), CgroupError> {
    let deadline = Instant::now() + KILL_LIMIT;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc_ebusy()) && Instant::now() < deadline => {
                std::thread::sleep(POLL);
            }
            Err(e) => {
                return Err(CgroupError::Io {
                    what: format!("remove cgroup {}", dir.display()),
                    source: e,
                });
            }
        }
    }
}

fn libc_ebusy() -> i32 {
    nix::errno::Errno::EBUSY as i32
}

/// Waits, at most `limit`, until this process is in the v2 cgroup `path`
/// (as `/proc/self/cgroup` names it): the job supervisor does, before it
/// starts the job, so whoever moves it in wins the race with every process
/// the job starts.
pub fn await_membership(path: &str, limit: Duration) -> Result<(), CgroupError> {
    let deadline = Instant::now() + limit;
    loop {
        let me = super::Membership::of_self().map_err(|e| CgroupError::Io {
            what: "read /proc/self/cgroup".into(),
            source: e,
        })?;
        if me.v2.as_deref() == Some(path) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CgroupError::NotMoved(path.to_owned()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
