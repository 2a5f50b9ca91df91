//! The process seam: a [`CommandRunner`] runs [`IncusCommand`]s. The real one
//! is [`ProcessRunner`] (tokio processes); [`RecordingRunner`] is a scripted
//! fake that records every call, for tests.

mod fake;
mod process;
mod seam;

pub use fake::{CallKind, FakeReply, RecordedCall, RecordingRunner};
pub use process::ProcessRunner;
pub use seam::{CommandOutput, CommandRunner, StreamOutput};
