//! The run engine: runs a pipeline's jobs through executors and records the run.

mod seams;

pub use seams::{Clock, Executor, JobContext, JobOutcome, LogSink, RunStore, SystemClock, VecSink};
