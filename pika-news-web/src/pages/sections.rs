//! Foldable sections of a log window: the markers three CIs print to group
//! their output, found line by line in the window being shown (and in a
//! bounded look back before it, [`context_before`], for the sections the
//! window begins inside), never by reading the whole log.
//!
//! - GitHub: `::group::NAME` … `::endgroup::` (groups do not nest: a new
//!   group ends the open one). Closed by default.
//! - Buildkite: a header `--- NAME` (closed), `+++ NAME` (open) or
//!   `~~~ NAME` (closed and de-emphasised) holds everything up to the next
//!   header; `^^^ +++` opens the section before it. When a finished log has
//!   no `+++` header, its last `---` section is opened, as Buildkite does.
//! - GitLab: `section_start:UNIX_SECONDS:NAME[collapsed=true]\r\e[0KHEADER`
//!   … `section_end:UNIX_SECONDS:NAME\r\e[0K`; sections nest, and are open
//!   unless `collapsed=true`.
//!
//! Any section holding an error-looking line ([`is_error`]) is open, and so
//! is the last section of a failed job. A section's duration comes from the
//! log's timestamp sidecar (from its header's arrival to its end's), else
//! from GitLab's own timestamps.
//!
//! The markers and the look of an error line are [`super::markers`]'s; the
//! page's script folds the lines it adds later by the same rules
//! (`viewer.js`, `addLine`).

use pikaci_store::StoreError;

use super::ansi::plain_text;
use super::lines::ReadLog;
use super::markers::{Marker, Start, Style, is_error, marker};
use crate::reads::encoded::read_full;

/// How far before a window the sections it begins inside are looked for.
pub(crate) const LOOKBACK_BYTES: u64 = 64 * 1024;

/// A section of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    pub start: Start,
    /// Its header's line in the window; `None` when it began before.
    pub header: Option<usize>,
    /// Whether it is shown open.
    pub open: bool,
    /// How long it took (milliseconds), when its times are known.
    pub duration_ms: Option<i64>,
    /// Whether it is still open at the window's end.
    pub unclosed: bool,
    /// When its header arrived (sidecar, Unix ms), for the script to time
    /// it when it ends later.
    pub time: Option<i64>,
}

/// What a window is made of: lines and sections holding lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A line (its index in the window), shown as it is.
    Line(usize),
    /// A section's end marker line, hidden.
    End(usize),
    /// A section (an index in [`Outline::sections`]); its header line, if
    /// in the window, is its first line.
    Section(usize, Vec<Node>),
}

/// A window's sections, as a tree of its lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Outline {
    pub sections: Vec<Section>,
    pub nodes: Vec<Node>,
    /// Which lines look like errors.
    pub errors: Vec<bool>,
}

/// A section the window begins inside, found before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Continued {
    pub start: Start,
    /// Where its header line starts in the log.
    pub offset: u64,
    /// When that line arrived (from the sidecar), once asked for.
    pub time: Option<i64>,
    /// Whether an error-looking line was seen in it before the window.
    pub has_error: bool,
}

/// A section not closed yet, while lines are read.
#[derive(Debug)]
struct Open {
    section: usize,
    nodes: Vec<Node>,
    /// When it started (sidecar, Unix ms).
    time: Option<i64>,
    /// Where its header is in the log (for [`Continued`]).
    offset: u64,
    has_error: bool,
}

/// Folds lines into sections, one line at a time.
#[derive(Debug, Default)]
struct Folder {
    sections: Vec<Section>,
    stack: Vec<Open>,
    root: Vec<Node>,
    errors: Vec<bool>,
    /// The Buildkite section a `^^^ +++` would open.
    last_buildkite: Option<usize>,
    /// Whether a Buildkite `+++` header was seen.
    buildkite_expanded: bool,
    /// The time of the last line that had one.
    last_time: Option<i64>,
}

impl Folder {
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some(open) => open.nodes.push(node),
            None => self.root.push(node),
        }
    }

    /// Closes the innermost section, at a line that arrived at `time`
    /// (GitLab's `stamp` when its own).
    fn close(&mut self, time: Option<i64>, stamp: Option<i64>) {
        let Some(open) = self.stack.pop() else {
            return;
        };
        let s = &mut self.sections[open.section];
        s.duration_ms = match (open.time, time, s.start.stamp, stamp) {
            (Some(a), Some(b), _, _) => Some(b - a),
            (_, _, Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        s.open = s.open || open.has_error;
        if open.has_error
            && let Some(parent) = self.stack.last_mut()
        {
            parent.has_error = true;
        }
        self.push_node(Node::Section(open.section, open.nodes));
    }

    /// Closes sections down to and including the innermost of `style`
    /// (with `name`, when given); nothing when none is open.
    fn close_to(
        &mut self,
        style: Style,
        name: Option<&str>,
        time: Option<i64>,
        stamp: Option<i64>,
    ) {
        let found = self.stack.iter().rposition(|o| {
            let s = &self.sections[o.section].start;
            s.style == style && name.is_none_or(|n| n == s.name)
        });
        if let Some(at) = found {
            while self.stack.len() > at {
                self.close(time, stamp);
            }
        }
    }

    fn open(
        &mut self,
        start: Start,
        header: Option<usize>,
        time: Option<i64>,
        offset: u64,
        has_error: bool,
    ) {
        let section = self.sections.len();
        if start.style == Style::Buildkite {
            self.last_buildkite = Some(section);
            self.buildkite_expanded |= start.expanded;
        }
        self.sections.push(Section {
            open: !start.closed,
            start,
            header,
            duration_ms: None,
            unclosed: false,
            time,
        });
        self.stack.push(Open {
            section,
            nodes: Vec::new(),
            time,
            offset,
            has_error,
        });
    }

    /// Takes line `i` of the window (`text`, at `offset`, arrived at `time`).
    fn line(&mut self, i: usize, text: &str, offset: u64, time: Option<i64>) {
        if time.is_some() {
            self.last_time = time;
        }
        let error = is_error(&plain_text(text));
        self.errors.push(error);
        match marker(text) {
            Some(Marker::Start(start)) => {
                // GitHub groups do not nest, Buildkite headers hold what
                // follows up to the next one: the open one of its kind ends.
                if matches!(start.style, Style::GitHub | Style::Buildkite) {
                    self.close_to(start.style, None, time, None);
                }
                self.open(start, Some(i), time, offset, false);
                self.stack
                    .last_mut()
                    .expect("just opened")
                    .nodes
                    .push(Node::Line(i));
            }
            Some(Marker::End { style, name, stamp }) => {
                let found = self.stack.iter().any(|o| {
                    let s = &self.sections[o.section].start;
                    s.style == style && name.as_ref().is_none_or(|n| *n == s.name)
                });
                if found {
                    // Inside the section it ends, below what it closes too.
                    while let Some(top) = self.stack.last() {
                        let s = &self.sections[top.section].start;
                        if s.style == style && name.as_ref().is_none_or(|n| *n == s.name) {
                            break;
                        }
                        self.close(time, stamp);
                    }
                    self.push_node(Node::End(i));
                    self.close(time, stamp);
                } else {
                    // Its start is before the window and the look back.
                    self.push_node(Node::End(i));
                }
            }
            Some(Marker::ExpandPrevious) => {
                if let Some(s) = self.last_buildkite {
                    self.sections[s].open = true;
                }
                self.push_node(Node::End(i));
            }
            None => {
                if error {
                    for open in &mut self.stack {
                        open.has_error = true;
                    }
                }
                self.push_node(Node::Line(i));
            }
        }
    }

    /// Closes what is still open, at the window's end.
    fn finish(mut self, finished: bool, failed: bool) -> Outline {
        while let Some(top) = self.stack.last() {
            let s = top.section;
            let time = self.last_time;
            self.close(time, None);
            self.sections[s].unclosed = true;
        }
        if finished && !self.buildkite_expanded {
            // Buildkite: with no `+++`, the last `---` section is open.
            if let Some(s) = self
                .sections
                .iter_mut()
                .rev()
                .find(|s| s.start.style == Style::Buildkite && !s.start.quiet)
            {
                s.open = true;
            }
        }
        if finished && failed {
            // The last section of a failed job holds its failure: open it
            // and the last section inside it, all the way down.
            let mut nodes = &self.root;
            while let Some(Node::Section(s, inner)) =
                nodes.iter().rev().find(|n| matches!(n, Node::Section(..)))
            {
                self.sections[*s].open = true;
                nodes = inner;
            }
        }
        Outline {
            sections: self.sections,
            nodes: self.root,
            errors: self.errors,
        }
    }
}

/// The sections of a window's `lines` (each at `offsets[i]`, arrived at
/// `times[i]`), inside the sections it `continues`. `finished`: the window
/// is the end of a log no longer written; `failed`: its job failed.
pub(crate) fn outline(
    lines: &[String],
    offsets: &[u64],
    times: Option<&[Option<i64>]>,
    continues: &[Continued],
    open_last: bool,
    finished: bool,
    failed: bool,
) -> Outline {
    let mut folder = Folder::default();
    for c in continues {
        folder.open(c.start.clone(), None, c.time, c.offset, c.has_error);
    }
    for (i, text) in lines.iter().enumerate() {
        let time = times.and_then(|t| t.get(i).copied().flatten());
        let offset = offsets.get(i).copied().unwrap_or(0);
        if open_last && i + 1 == lines.len() {
            // A line still being written may be half a marker: plain text
            // until its end comes (the script reads it again).
            folder.errors.push(false);
            folder.push_node(Node::Line(i));
        } else {
            folder.line(i, text, offset, time);
        }
    }
    folder.finish(finished, failed)
}

/// The sections open where `start` is in the log (outermost first), as
/// far as the [`LOOKBACK_BYTES`] before it show: only that much is read.
pub(crate) fn context_before(log: &dyn ReadLog, start: u64) -> Result<Vec<Continued>, StoreError> {
    if start == 0 {
        return Ok(Vec::new());
    }
    let from = start.saturating_sub(LOOKBACK_BYTES);
    let mut bytes = vec![0u8; (start - from) as usize];
    let filled = read_full(&mut bytes, from, &mut |buf, at| log.read_at(buf, at))?;
    bytes.truncate(filled);
    let mut at = from;
    if from > 0 {
        // The first line is cut: it began earlier.
        match memchr::memchr(b'\n', &bytes) {
            Some(nl) => {
                bytes.drain(..=nl);
                at += nl as u64 + 1;
            }
            None => return Ok(Vec::new()),
        }
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let mut folder = Folder::default();
    if !body.is_empty() {
        for (i, l) in body.split(|&b| b == b'\n').enumerate() {
            folder.line(i, &String::from_utf8_lossy(l), at, None);
            at += l.len() as u64 + 1;
        }
    }
    Ok(folder
        .stack
        .iter()
        .map(|o| Continued {
            start: folder.sections[o.section].start.clone(),
            offset: o.offset,
            time: None,
            has_error: o.has_error,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::lines::BytesLog as Bytes;
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    fn fold(text: &str, finished: bool, failed: bool) -> Outline {
        let l = lines(text);
        outline(&l, &[], None, &[], false, finished, failed)
    }

    /// The tree as `name{…}` with `!` for an open section, line indexes
    /// and `/i` for hidden end lines.
    fn shape(o: &Outline, nodes: &[Node]) -> String {
        nodes
            .iter()
            .map(|n| match n {
                Node::Line(i) => i.to_string(),
                Node::End(i) => format!("/{i}"),
                Node::Section(s, inner) => {
                    let s2 = &o.sections[*s];
                    format!(
                        "{}{}{{{}}}",
                        s2.start.title,
                        if s2.open { "!" } else { "" },
                        shape(o, inner)
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn github_groups_are_closed_unless_they_hold_an_error() {
        let o = fold(
            "before\n::group::one\na\n::endgroup::\n::group::two\nerror: boom\n::endgroup::\nafter",
            true,
            false,
        );
        assert_eq!(shape(&o, &o.nodes), "0 one{1 2 /3} two!{4 5 /6} 7");
        assert!(o.errors[5] && !o.errors[2]);
        // A group without its end runs to the window's end; a new group
        // ends the one before (GitHub's do not nest).
        let o = fold("::group::a\n1\n::group::b\n2", false, false);
        assert_eq!(shape(&o, &o.nodes), "a{0 1} b{2 3}");
        assert!(o.sections[1].unclosed && !o.sections[0].unclosed);
    }

    #[test]
    fn buildkite_headers_hold_what_follows() {
        let o = fold(
            "--- one\na\n+++ two\nb\n~~~ three\nc\n^^^ +++\nd",
            false,
            false,
        );
        assert_eq!(shape(&o, &o.nodes), "one{0 1} two!{2 3} three!{4 5 /6 7}");
        assert!(o.sections[2].start.quiet);
        // A finished log with no `+++`: the last `---` is open.
        let o = fold("--- one\na\n--- two\nb\n~~~ quiet\nc", true, false);
        assert_eq!(shape(&o, &o.nodes), "one{0 1} two!{2 3} quiet{4 5}");
    }

    #[test]
    fn gitlab_sections_nest_and_time_themselves() {
        let o = fold(
            "section_start:100:outer[collapsed=true]\r\x1b[0KOuter\n\
             section_start:101:inner\r\x1b[0K\n\
             x\n\
             section_end:103:inner\r\x1b[0K\n\
             section_end:200:outer\r\x1b[0K\n\
             section_end:300:nowhere\r\x1b[0K",
            false,
            false,
        );
        assert_eq!(shape(&o, &o.nodes), "Outer{0 inner!{1 2 /3} /4} /5");
        assert_eq!(o.sections[0].duration_ms, Some(100_000));
        assert_eq!(o.sections[1].duration_ms, Some(2_000));
        // An end closes the sections left open inside it.
        let o = fold(
            "section_start:1:a[collapsed=true]\r\x1b[0K\nsection_start:2:b[collapsed=true]\r\x1b[0K\nsection_end:5:a\r\x1b[0K\nz",
            false,
            false,
        );
        assert_eq!(shape(&o, &o.nodes), "a{0 b{1} /2} 3");
    }

    #[test]
    fn sidecar_times_win_and_the_failed_jobs_last_section_opens() {
        let l = lines("::group::a\nx\n::endgroup::\n::group::b\ny\nz");
        let times = [
            Some(1_000),
            Some(1_500),
            Some(4_250),
            Some(5_000),
            None,
            Some(9_000),
        ];
        let o = outline(&l, &[], Some(&times), &[], false, true, true);
        assert_eq!(o.sections[0].duration_ms, Some(3_250));
        assert_eq!(o.sections[1].duration_ms, Some(4_000), "to its last line");
        assert_eq!(shape(&o, &o.nodes), "a{0 1 /2} b!{3 4 5}");
        // Not when the job passed, or while it runs.
        let o = outline(&l, &[], Some(&times), &[], false, false, true);
        assert!(!o.sections[1].open);
    }

    #[test]
    fn a_half_written_marker_is_text_until_its_line_ends() {
        let l = lines("::group::a\nx\nsection_start:17");
        let o = outline(&l, &[], None, &[], true, false, false);
        assert_eq!(shape(&o, &o.nodes), "a{0 1 2}");
        let l = lines("x\n::endgro");
        let o = outline(&l, &[], None, &[], true, false, false);
        assert_eq!(shape(&o, &o.nodes), "0 1");
    }

    #[test]
    fn a_window_inside_a_section_continues_it() {
        let text = "::group::outer\nline\n--- bk\nmore\n";
        let log = Bytes(text.as_bytes().to_vec());
        let c = context_before(&log, text.len() as u64).unwrap();
        let titles: Vec<_> = c.iter().map(|c| c.start.title.as_str()).collect();
        assert_eq!(titles, ["outer", "bk"]);
        assert_eq!(c[1].offset, 20);
        // The window's first line ends the inner one, then the outer one.
        let l = lines("x\n::endgroup::\ny");
        let o = outline(&l, &[], None, &c, false, false, false);
        assert_eq!(shape(&o, &o.nodes), "outer{bk{0} /1} 2");
        assert_eq!(o.sections[0].header, None);
        // A marker line cut by the look back's start is not taken for one.
        let mut text = "::group::far away\n".to_owned();
        text.push_str(&"x".repeat(LOOKBACK_BYTES as usize));
        text.push_str("::group::tail\n");
        let log = Bytes(text.clone().into_bytes());
        let c = context_before(&log, text.len() as u64).unwrap();
        assert_eq!(
            c.len(),
            0,
            "the cut line and the empty rest hold no open group"
        );
    }

    #[test]
    fn a_window_opened_at_a_line_continues_the_section_begun_before_it() {
        use super::super::lines::{Bound, LineIndex, LogKey};
        use super::super::window::{WindowAt, read_window};
        let mut text = String::from("section_start:1000:build[collapsed=true]\r\x1b[0KBuilding\n");
        for i in 2..=99 {
            text.push_str(&format!("line {i}\n"));
        }
        text.push_str("section_end:1042:build\r\x1b[0K\nafter\n");
        let log = Bytes(text.into_bytes());
        let key = LogKey::Lane(crate::db::LaneRunId::new(1).unwrap());
        let gone = std::sync::atomic::AtomicBool::new(false);
        let mut bound = Bound::new(u64::MAX, &gone);
        let size = log.0.len() as u64;
        let w = read_window(
            &LineIndex::default(),
            &key,
            &log,
            size,
            WindowAt::Line(80),
            &mut bound,
        )
        .unwrap();
        assert_eq!(w.first_line, 60);
        let c = context_before(&log, w.start).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].offset, c[0].start.title.as_str()), (0, "Building"));
        let o = outline(&w.lines, &w.offsets, None, &c, w.open_last, true, false);
        let Node::Section(0, inner) = &o.nodes[0] else {
            panic!("{:?}", o.nodes)
        };
        // Lines 60..=99 and the end marker, then `after` outside it.
        assert_eq!(inner.len(), 41);
        assert_eq!(inner.last(), Some(&Node::End(40)));
        assert_eq!(o.nodes[1], Node::Line(41));
        let s = &o.sections[0];
        assert_eq!(
            (s.header, s.open, s.duration_ms),
            (None, false, Some(42_000))
        );
    }

    /// A log of 1 GiB that exists only as a pattern, counting what is read.
    struct Huge {
        size: u64,
        read: std::cell::Cell<u64>,
    }

    const PATTERN: &[u8] = b"::group::step\ncompiling crate v0.1.0\nerror: boom\n::endgroup::\n";

    impl ReadLog for Huge {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, StoreError> {
            let n = (buf.len() as u64).min(self.size.saturating_sub(offset)) as usize;
            for (k, b) in buf[..n].iter_mut().enumerate() {
                *b = PATTERN[((offset + k as u64) % PATTERN.len() as u64) as usize];
            }
            self.read.set(self.read.get() + n as u64);
            Ok(n)
        }
    }

    #[test]
    fn a_1_gib_log_is_folded_from_a_bounded_read() {
        use super::super::lines::{Bound, LineIndex, LogKey};
        use super::super::window::{TAIL_BYTES, WindowAt, read_window};
        let log = Huge {
            size: 1 << 30,
            read: std::cell::Cell::new(0),
        };
        let key = LogKey::Lane(crate::db::LaneRunId::new(1).unwrap());
        let gone = std::sync::atomic::AtomicBool::new(false);
        // No counting allowed: only the window and the look back are read.
        let mut bound = Bound::new(0, &gone);
        let w = read_window(
            &LineIndex::default(),
            &key,
            &log,
            log.size,
            WindowAt::Tail,
            &mut bound,
        )
        .unwrap();
        let c = context_before(&log, w.start).unwrap();
        let o = outline(&w.lines, &w.offsets, None, &c, w.open_last, true, false);
        assert!(
            log.read.get() <= TAIL_BYTES + LOOKBACK_BYTES,
            "read {} bytes of a 1 GiB log",
            log.read.get()
        );
        assert!(o.sections.len() > 1000, "{}", o.sections.len());
        // Every whole group holds its error line: all open.
        assert!(o.sections.iter().filter(|s| !s.unclosed).all(|s| s.open));
    }
}
