//! The log viewer as the server renders it: a [`Window`] of numbered lines
//! with ANSI colours and links, folded into the sections its markers make
//! ([`super::sections`]: a `<details>` each, its header line the
//! `<summary>`), links to load more, and the data the script needs to carry
//! on (where the window is, what style is in effect at its end, and where
//! to read more and follow).

use jiff::SignedDuration;
use maud::{Markup, html};

use super::ansi::{AnsiState, render_line};
use super::format::duration;
use super::sections::{Continued, Node, Outline, Section, outline};
use super::window::Window;

/// Where the script reads more of the log.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources {
    /// The raw route (ranges), for a job log.
    pub raw: Option<String>,
    /// The stream route (Server-Sent Events), for a job log.
    pub stream: Option<String>,
    /// The JSON route (offset/limit), for a lane log.
    pub json: Option<String>,
}

/// How the viewer is shown.
#[derive(Debug, Clone)]
pub(crate) struct ViewerOptions {
    /// The page's own address without a query (for links to other windows).
    pub page: String,
    /// The query that names this log on the page (`job=..&kind=..`).
    pub query: String,
    /// Whether the log is still being written.
    pub live: bool,
    /// Whether timestamps are shown from the start.
    pub timestamps: bool,
    /// Whether the log exists at all.
    pub exists: bool,
    /// Whether its job failed (its last section is shown open).
    pub failed: bool,
}

fn digits(n: u64) -> usize {
    n.to_string().len()
}

fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", n as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", n as f64 / 1_073_741_824.0),
    }
}

/// A line's arrival time as shown (`16:12:38.123`) and on hover
/// (`2026-03-24 16:12:38.123 UTC`).
fn time_texts(ms: i64) -> (String, String) {
    let t = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    (
        t.strftime("%H:%M:%S%.3f").to_string(),
        t.strftime("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
    )
}

/// One line: its number (a link to itself), its time (when the log has
/// times: `Some`, maybe unknown) and its text.
fn line_html(
    n: Option<u64>,
    time: Option<Option<i64>>,
    text: &str,
    state: &mut AnsiState,
    class: &str,
) -> Markup {
    html! {
        div class=(class) id=[n.map(|n| format!("L{n}"))] {
            (gutter(n, time))
            span.x { (render_line(text, state)) }
        }
    }
}

/// A line's number (a link to itself) and its time, when the log has times
/// (`Some`, maybe unknown).
fn gutter(n: Option<u64>, time: Option<Option<i64>>) -> Markup {
    html! {
        @match n {
            // The number is drawn from data-n (so it is not copied with
            // the text); the label names the link for screen readers.
            Some(n) => a.n href={ "#L" (n) } data-n=(n) aria-label={ "Line " (n) } {},
            // Not counted (the log is too large to count in one request).
            None => a.n data-n="?" {},
        }
        @match time.map(|t| t.map(time_texts)) {
            Some(Some((shown, exact))) => span.t title=(exact) { (shown) },
            Some(None) => span.t {},
            None => {},
        }
    }
}

/// What the lines of a window are rendered into, and what the script
/// needs to carry on after them.
struct Lines {
    html: Markup,
    /// The SGR state in effect where the script carries on.
    sgr: String,
    /// The byte where the script carries on (before an open last line).
    complete_end: u64,
}

/// Renders a window's lines in order, carrying the style from line to line.
struct Renderer<'a> {
    window: &'a Window,
    times: Option<&'a [Option<i64>]>,
    outline: &'a Outline,
    state: AnsiState,
    /// The style where an open last line starts, once met.
    sgr: Option<String>,
}

impl Renderer<'_> {
    fn number(&self, i: usize) -> Option<u64> {
        self.window
            .numbered
            .then_some(self.window.first_line + i as u64)
    }

    fn time(&self, i: usize) -> Option<Option<i64>> {
        self.times.map(|t| t.get(i).copied().flatten())
    }

    fn line(&mut self, i: usize, hidden: bool) -> Markup {
        let open = self.window.open_last && i + 1 == self.window.lines.len();
        if open {
            // The script reads the open line again: it carries on from its
            // start, in the style in effect there.
            self.sgr = Some(self.state.sgr());
        }
        let mut class = String::from("l");
        for (on, c) in [
            (open, " open"),
            (hidden, " se"),
            (self.outline.errors.get(i) == Some(&true), " err"),
        ] {
            if on {
                class.push_str(c);
            }
        }
        line_html(
            self.number(i),
            self.time(i),
            &self.window.lines[i],
            &mut self.state,
            &class,
        )
    }

    /// A section's header: its line (a `<summary>`), or a stand-in for one
    /// before the window.
    fn header(&mut self, section: &Section) -> Markup {
        let took = section
            .duration_ms
            .map(|ms| duration(SignedDuration::from_millis(ms)));
        let dur = html! { @if let Some(t) = took { span.dur { (t) } } };
        let Some(i) = section.header else {
            return html! {
                summary.sh.cont { span.x { (section.start.title) " (continued from earlier)" } (dur) }
            };
        };
        let n = self.number(i);
        let time = self.time(i);
        html! {
            summary class="l sh" id=[n.map(|n| format!("L{n}"))] {
                (gutter(n, time))
                span.x { (render_line(&section.start.title, &mut self.state)) }
                (dur)
            }
        }
    }

    fn nodes(&mut self, nodes: &[Node]) -> Markup {
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            out.push(match node {
                Node::Line(i) => self.line(*i, false),
                Node::End(i) => self.line(*i, true),
                Node::Section(s, inner) => {
                    let section = &self.outline.sections[*s];
                    let class = if section.start.quiet {
                        "sec quiet"
                    } else {
                        "sec"
                    };
                    let header = self.header(section);
                    // The header line is the summary, not a row of its own.
                    let inner = match (section.header, inner.first()) {
                        (Some(h), Some(Node::Line(i))) if h == *i => &inner[1..],
                        _ => &inner[..],
                    };
                    let body = self.nodes(inner);
                    html! {
                        details class=(class) open[section.open]
                            data-style=(section.start.style.as_str())
                            data-name=(section.start.name)
                            data-unclosed=[section.unclosed.then_some("1")]
                            data-t=[section.time] data-stamp=[section.start.stamp] {
                            (header)
                            (body)
                        }
                    }
                }
            });
        }
        html! { @for m in out { (m) } }
    }
}

fn lines(
    window: &Window,
    times: Option<&[Option<i64>]>,
    continues: &[Continued],
    opts: &ViewerOptions,
) -> Lines {
    let finished = !opts.live && window.end == window.size;
    let outline = outline(
        &window.lines,
        &window.offsets,
        times,
        continues,
        window.open_last,
        finished,
        opts.failed,
    );
    let mut r = Renderer {
        window,
        times,
        outline: &outline,
        state: AnsiState::default(),
        sgr: None,
    };
    let html = r.nodes(&outline.nodes);
    let complete_end = if r.sgr.is_some() {
        window.end - window.open_len
    } else {
        window.end
    };
    Lines {
        html,
        sgr: r.sgr.take().unwrap_or_else(|| r.state.sgr()),
        complete_end,
    }
}

/// What the viewer says below the last line.
fn end_note(window: &Window, last_line: u64, opts: &ViewerOptions) -> String {
    if !opts.exists {
        if opts.live {
            "No output yet: waiting for the first line.".to_owned()
        } else {
            "This log is empty.".to_owned()
        }
    } else if opts.live {
        format!("{} so far · following live", human_bytes(window.size))
    } else {
        format!(
            "End of log · {} lines · {}",
            last_line,
            human_bytes(window.size)
        )
    }
}

/// The lines of `window`, the links around them and the log element.
pub(crate) fn render(
    window: &Window,
    times: Option<&[Option<i64>]>,
    continues: &[Continued],
    sources: &Sources,
    opts: &ViewerOptions,
) -> Markup {
    let lines = lines(window, times, continues, opts);
    let count = window.lines.len() as u64;
    let last_line = window.first_line + count.saturating_sub(1);
    let link = |line: u64| format!("{}?{}&line={line}#L{line}", opts.page, opts.query);
    let earlier = (window.start > 0 && !window.cut_first && window.numbered)
        .then(|| window.first_line.saturating_sub(1000).max(1));
    html! {
        div class=(if opts.timestamps { "log ts" } else { "log" }) #log tabindex="0"
            style={ "--nw:" (digits(last_line.max(9_999))) "ch" }
            data-start=(window.start) data-end=(lines.complete_end) data-size=(window.size)
            data-first=(window.first_line) data-numbered=(u8::from(window.numbered))
            data-live=(u8::from(opts.live)) data-ansi=(lines.sgr)
            data-cut=(u8::from(window.cut_first))
            data-raw=(sources.raw.as_deref().unwrap_or(""))
            data-stream=(sources.stream.as_deref().unwrap_or(""))
            data-json=(sources.json.as_deref().unwrap_or(""))
            data-times=(u8::from(times.is_some())) {
            @if let Some(earlier) = earlier {
                a.more #earlier href=(link(earlier)) {
                    "Load earlier lines (" (window.first_line - 1) " before)"
                }
            } @else if window.cut_first {
                div.logend { "The first line shown is cut: it began earlier. Download the raw log for all of it." }
            }
            @if window.line_missing {
                div.logend { "That line is not in the log (yet): showing the end." }
            }
            div.lines #lines { (lines.html) }
            @if window.end < window.size {
                a.more #later href=(link(last_line + 1)) { "Load later lines" }
            }
            div.logend #logend { (end_note(window, last_line, opts)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(lines: &[&str], first: u64, open: bool) -> Window {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let mut size = body.len() as u64;
        let open_len = if open {
            let l = lines.last().unwrap().len() as u64;
            size -= 1;
            l
        } else {
            0
        };
        Window {
            start: 100,
            end: 100 + size,
            size: 100 + size,
            first_line: first,
            numbered: true,
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
            offsets: Vec::new(),
            open_last: open,
            open_len,
            cut_first: false,
            line_missing: false,
        }
    }

    fn opts() -> ViewerOptions {
        ViewerOptions {
            page: "/news/branch/1/ci/lane/2".into(),
            query: crate::links::job_query("build", "guest"),
            live: true,
            timestamps: false,
            exists: true,
            failed: false,
        }
    }

    #[test]
    fn lines_are_numbered_linked_coloured_and_escaped() {
        let w = window(&["ok", "\x1b[31m<b>bad</b>", "still red", "part"], 41, true);
        let html = render(&w, None, &[], &Sources::default(), &opts()).into_string();
        assert!(html.contains("<div class=\"l\" id=\"L41\"><a class=\"n\" href=\"#L41\" data-n=\"41\" aria-label=\"Line 41\"></a><span class=\"x\">ok</span></div>"), "{html}");
        assert!(
            html.contains("<span class=\"f1\">&lt;b&gt;bad&lt;/b&gt;</span>"),
            "{html}"
        );
        assert!(html.contains("id=\"L43\""));
        assert!(html.contains("<div class=\"l open\" id=\"L44\">"), "{html}");
        // The script carries on from the open line's start, in red.
        let end = w.end - 4;
        assert!(html.contains(&format!("data-end=\"{end}\"")), "{html}");
        assert!(html.contains("data-ansi=\"0;31\""), "{html}");
        assert!(
            html.contains(
                "href=\"/news/branch/1/ci/lane/2?job=build&amp;kind=guest&amp;line=1#L1\""
            ),
            "{html}"
        );
        assert!(!html.contains("<b>"));
        assert!(html.contains("data-times=\"0\""));
    }

    #[test]
    fn lines_carry_their_arrival_times() {
        let w = window(&["one", "two"], 1, false);
        let times = [Some(1_774_368_758_123), None];
        let html = render(&w, Some(&times), &[], &Sources::default(), &opts()).into_string();
        assert!(
            html.contains("<a class=\"n\" href=\"#L1\" data-n=\"1\" aria-label=\"Line 1\"></a><span class=\"t\" title=\"2026-03-24 16:12:38.123 UTC\">16:12:38.123</span><span class=\"x\">one</span>"),
            "{html}"
        );
        assert!(
            html.contains("data-n=\"2\" aria-label=\"Line 2\"></a><span class=\"t\"></span><span class=\"x\">two</span>"),
            "{html}"
        );
        assert!(html.contains("data-times=\"1\""));
    }

    #[test]
    fn sections_fold_with_their_header_as_summary() {
        let w = window(
            &[
                "::group::Build",
                "compiling",
                "::endgroup::",
                "::group::Test",
                "test b ... FAILED",
                "::endgroup::",
                "done",
            ],
            1,
            false,
        );
        let times = [
            Some(0),
            None,
            Some(61_000),
            Some(61_000),
            None,
            Some(63_500),
            None,
        ];
        let html = render(&w, Some(&times), &[], &Sources::default(), &opts()).into_string();
        assert!(
            html.contains("<details class=\"sec\" data-style=\"github\" data-name=\"Build\" data-t=\"0\"><summary class=\"l sh\" id=\"L1\">"),
            "{html}"
        );
        assert!(
            html.contains(
                "<span class=\"x\">Build</span><span class=\"dur\">1m 01s</span></summary>"
            ),
            "{html}"
        );
        assert!(!html.contains("::group::"), "{html}");
        // The end marker keeps its number, hidden (`.se`).
        assert!(html.contains("<div class=\"l se\" id=\"L3\">"), "{html}");
        assert!(
            html.contains("<details class=\"sec\" open data-style=\"github\" data-name=\"Test\" data-t=\"61000\">"),
            "the failure's section is open: {html}"
        );
        assert!(html.contains("<div class=\"l err\" id=\"L5\">"), "{html}");
        assert!(html.contains("<span class=\"dur\">2.5s</span>"), "{html}");
        assert!(
            html.contains("</details><div class=\"l\" id=\"L7\">"),
            "{html}"
        );
    }

    #[test]
    fn section_names_are_escaped() {
        let w = window(&["::group::<img src=x onerror=alert(1)>\"", "x"], 1, false);
        let html = render(&w, None, &[], &Sources::default(), &opts()).into_string();
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("data-name=\"&lt;img src=x onerror=alert(1)&gt;&quot;\""),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"x\">&lt;img src=x onerror=alert(1)&gt;&quot;</span>"),
            "{html}"
        );
    }
}
