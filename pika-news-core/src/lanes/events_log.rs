//! pikaci's stdout in a lane log: each JSONL lifecycle event becomes one
//! readable line, in upstream pika's words,
//!
//! ```text
//! [pikaci] run started: 20260324T161238Z-1a2b3c4d · pre-merge · what must pass
//! [pikaci] job started: test · the test suite
//! [pikaci] job finished: test · status=failed · exit 101
//! [pikaci] run finished: 20260324T161238Z-1a2b3c4d · status=failed
//! ```
//!
//! any other line is kept as it is, and the lane learns of `run_started` and
//! `run_finished` ([`LaneEvent`]). The raw JSONL is kept beside the log for
//! tools (the runner writes it; [`DataDir`](crate::data_dir::DataDir) names the file).
//! Memory stays bounded: a line longer than [`MAX_EVENT_LINE`] is not an
//! event; it is passed to the log as it comes.

use pikaci_core::{LifecycleEvent, RunId, RunRecord, RunStatus};

/// Something a pikaci lane said while running.
#[derive(Debug, Clone, PartialEq)]
pub enum LaneEvent {
    /// `run_started`: the pikaci run id, the moment it is known.
    PikaciRunStarted(RunId),
    /// `run_finished`: the final record.
    PikaciRunFinished(Box<RunRecord>),
}

/// Server folders a lane log names by a word instead (`worktree`, `state
/// root`): the lane log is served to every reader, and no answer names a
/// server path. Applied to whole lines pika-news writes from pikaci's stdout
/// and stderr.
#[derive(Debug, Default, Clone)]
pub struct PathWords(Vec<(String, &'static str)>);

impl PathWords {
    /// Words for the lane's worktree and the state root.
    pub fn new(worktree: &camino::Utf8Path, state_root: &camino::Utf8Path) -> Self {
        let mut words = vec![
            (worktree.as_str().to_owned(), "worktree"),
            (state_root.as_str().to_owned(), "state root"),
        ];
        words.retain(|(p, _)| p.len() > 1);
        // The longer first, so a folder inside another keeps its own word.
        words.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Self(words)
    }

    /// `line` with each folder replaced by its word.
    pub(crate) fn apply<'a>(&self, line: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        let hit = self
            .0
            .iter()
            .any(|(p, _)| memchr::memmem::find(line, p.as_bytes()).is_some());
        if !hit {
            return std::borrow::Cow::Borrowed(line);
        }
        let mut text = String::from_utf8_lossy(line).into_owned();
        for (path, word) in &self.0 {
            text = text.replace(path.as_str(), word);
        }
        std::borrow::Cow::Owned(text.into_bytes())
    }
}

/// The longest stdout line parsed as an event; longer lines are only logged.
pub const MAX_EVENT_LINE: usize = 1 << 20;

/// What pikaci's event says, as one log line (without its newline).
/// `target` names the run's target when the event does not (upstream's
/// `unknown-target` when neither does).
pub fn render_event(event: &LifecycleEvent, target: Option<&str>) -> String {
    let status = |s: RunStatus| s.as_str();
    let with_message = |mut line: String, message: Option<&str>| {
        if let Some(m) = message.map(str::trim).filter(|m| !m.is_empty()) {
            line.push_str(" · ");
            line.push_str(m);
        }
        line
    };
    match event {
        LifecycleEvent::RunStarted {
            run_id,
            target_id,
            target_description,
            ..
        } => {
            let target = target_id
                .as_ref()
                .map(|t| t.as_str())
                .or(target)
                .unwrap_or("unknown-target");
            match target_description {
                Some(d) => format!("[pikaci] run started: {run_id} · {target} · {d}"),
                None => format!("[pikaci] run started: {run_id} · {target}"),
            }
        }
        LifecycleEvent::JobStarted { job, .. } => {
            format!("[pikaci] job started: {} · {}", job.id, job.description)
        }
        LifecycleEvent::JobFinished { job, .. } => with_message(
            format!(
                "[pikaci] job finished: {} · status={}",
                job.id,
                status(job.status)
            ),
            job.message.as_deref(),
        ),
        LifecycleEvent::RunFinished { run } => with_message(
            format!(
                "[pikaci] run finished: {} · status={}",
                run.run_id,
                status(run.status)
            ),
            run.message.as_deref(),
        ),
    }
}

/// The lifecycle event a stdout line is, if any.
fn parse(line: &[u8]) -> Option<LifecycleEvent> {
    if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(line).ok()
}

/// The event a stdout line of pikaci announces to the lane, if any (other
/// lines and other lifecycle events are only logged). [`StdoutRenderer`]
/// does this for each line it renders; the tests ask it of one line.
#[cfg(test)]
fn lane_event(line: &[u8]) -> Option<LaneEvent> {
    parse(line).and_then(for_the_lane)
}

fn for_the_lane(event: LifecycleEvent) -> Option<LaneEvent> {
    match event {
        LifecycleEvent::RunStarted { run_id, .. } => Some(LaneEvent::PikaciRunStarted(run_id)),
        LifecycleEvent::RunFinished { run } => Some(LaneEvent::PikaciRunFinished(Box::new(run))),
        _ => None,
    }
}

/// What a piece of stdout turned into.
#[derive(Debug, Default)]
pub(crate) struct Rendered {
    /// Bytes for the lane log.
    pub(crate) log: Vec<u8>,
    /// Events for the lane.
    pub(crate) events: Vec<LaneEvent>,
}

/// One whole stdout line (without its newline) into the log (its server
/// folders as `words`) and the events.
fn line(line: &[u8], target: Option<&str>, words: &PathWords, out: &mut Rendered) {
    match parse(line) {
        Some(event) => {
            let rendered = render_event(&event, target);
            out.log.extend_from_slice(&words.apply(rendered.as_bytes()));
            out.log.push(b'\n');
            out.events.extend(for_the_lane(event));
        }
        None => {
            out.log.extend_from_slice(&words.apply(line));
            out.log.push(b'\n');
        }
    }
}

/// Turns pikaci's stdout, as it arrives in pieces, into log lines and events.
#[derive(Debug, Default)]
pub(crate) struct StdoutRenderer {
    /// The start of a line not yet ended (at most [`MAX_EVENT_LINE`] bytes).
    pending: Vec<u8>,
    /// The current line outgrew the limit: it goes to the log as it comes.
    overflow: bool,
    /// The target the lane runs, for `run started` lines.
    target: Option<String>,
    /// Server folders the log names by a word.
    words: PathWords,
}

impl StdoutRenderer {
    /// A renderer for a lane running `target`.
    pub(crate) fn new(target: Option<String>) -> Self {
        Self {
            target,
            ..Self::default()
        }
    }

    /// The same renderer, writing the server folders `words` names as words.
    pub(crate) fn with_words(mut self, words: PathWords) -> Self {
        self.words = words;
        self
    }

    /// Adds `bytes` to the pending line, growing it by doubling but never
    /// past [`MAX_EVENT_LINE`] (the caller checked it fits).
    fn keep(&mut self, bytes: &[u8]) {
        let need = self.pending.len() + bytes.len();
        if need > self.pending.capacity() {
            let want = need.max(self.pending.capacity() * 2).min(MAX_EVENT_LINE);
            self.pending.reserve_exact(want - self.pending.len());
        }
        self.pending.extend_from_slice(bytes);
    }

    /// Takes the next piece of stdout.
    pub(crate) fn push(&mut self, bytes: &[u8], out: &mut Rendered) {
        for chunk in bytes.split_inclusive(|b| *b == b'\n') {
            let (body, ends) = match chunk.split_last() {
                Some((b'\n', body)) => (body, true),
                _ => (chunk, false),
            };
            if self.overflow {
                out.log.extend_from_slice(chunk);
                self.overflow = !ends;
            } else if self.pending.len() + body.len() > MAX_EVENT_LINE {
                out.log.extend_from_slice(&self.pending);
                out.log.extend_from_slice(chunk);
                self.pending.clear();
                self.overflow = !ends;
            } else if ends {
                if self.pending.is_empty() {
                    line(body, self.target.as_deref(), &self.words, out);
                } else {
                    self.keep(body);
                    line(&self.pending, self.target.as_deref(), &self.words, out);
                    self.pending.clear();
                }
            } else {
                self.keep(body);
            }
        }
    }

    /// Stdout ended: a last line without its newline goes to the log as it is.
    pub(crate) fn finish(&mut self, out: &mut Rendered) {
        if !self.pending.is_empty() {
            match parse(&self.pending) {
                Some(_) => line(&self.pending, self.target.as_deref(), &self.words, out),
                None => out.log.extend_from_slice(&self.pending),
            }
            self.pending.clear();
        }
        self.overflow = false;
    }
}

#[cfg(test)]
#[path = "events_log_tests.rs"]
mod tests;
