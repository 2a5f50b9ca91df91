//! Pure builders for every step of one job's Incus run ([`Planner`]), and
//! [`plan_job`], the whole list as `pikaci incus plan` prints it.

mod devices;
mod job;
mod phase;
mod planner;

pub use devices::{DiskDevice, GuestLaunch, PushedTree, artifacts_dir, devices, pushed_trees};
pub use job::{JobPlan, PlannedStep, plan_job};
pub use phase::Phase;
pub(crate) use planner::client;
pub use planner::{Planner, list_command};

#[cfg(test)]
mod tests;
