//! `pikaci incus doctor`: can jobs run with these settings, and if not, what
//! to fix.

mod checks;
mod probe;
mod report;

pub use checks::doctor;
pub use report::{Check, CheckStatus, DoctorReport};
