//! The log viewer as the server renders it: a [`Window`] of numbered lines
//! with ANSI colours, links to load more, and the data the script needs to
//! carry on (where the window is, what style is in effect at its end, and
//! where to read more and follow).

use std::fmt::Write as _;

use super::ansi::{AnsiState, render_line};
use super::format::{escape, query_value};
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

/// One line as HTML: its number (a link to itself), its time (when the log
/// has times: `Some`, maybe unknown) and its text.
pub(crate) fn line_html(
    out: &mut String,
    n: Option<u64>,
    time: Option<Option<i64>>,
    text: &str,
    state: &mut AnsiState,
    open: bool,
) {
    let open = if open { " open" } else { "" };
    let _ = match n {
        Some(n) => write!(
            out,
            "<div class=\"l{open}\" id=\"L{n}\"><a class=n href=\"#L{n}\" data-n=\"{n}\"></a>"
        ),
        // Not counted (the log is too large to count in one request).
        None => write!(out, "<div class=\"l{open}\"><a class=n data-n=\"?\"></a>"),
    };
    match time {
        Some(Some(ms)) => {
            let (shown, exact) = time_texts(ms);
            let _ = write!(out, "<span class=t title=\"{exact}\">{shown}</span>");
        }
        Some(None) => out.push_str("<span class=t></span>"),
        None => {}
    }
    out.push_str("<span class=x>");
    render_line(text, state, out);
    out.push_str("</span></div>");
}

/// The lines of `window`, the links around them and the log element.
pub(crate) fn render(
    window: &Window,
    times: Option<&[Option<i64>]>,
    sources: &Sources,
    opts: &ViewerOptions,
) -> String {
    let mut lines = String::with_capacity(window.lines.iter().map(|l| l.len() + 90).sum());
    let mut state = AnsiState::default();
    let mut sgr = state.sgr();
    let count = window.lines.len() as u64;
    let mut complete_end = window.end;
    for (i, text) in window.lines.iter().enumerate() {
        let open = window.open_last && i + 1 == window.lines.len();
        if open {
            sgr = state.sgr();
            complete_end = window.end - window.open_len;
        }
        let time = times.map(|t| t.get(i).copied().flatten());
        line_html(
            &mut lines,
            window.numbered.then_some(window.first_line + i as u64),
            time,
            text,
            &mut state,
            open,
        );
    }
    if !window.open_last {
        sgr = state.sgr();
    }
    let last_line = window.first_line + count.saturating_sub(1);
    let link = |line: u64| {
        format!(
            "{}?{}&amp;line={line}#L{line}",
            escape(&opts.page),
            escape(&opts.query)
        )
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<div class=\"log{ts}\" id=log tabindex=0 style=\"--nw:{nw}ch\" data-start=\"{start}\" data-end=\"{end}\" \
         data-size=\"{size}\" data-first=\"{first}\" data-numbered=\"{numbered}\" data-live=\"{live}\" data-ansi=\"{sgr}\" data-cut=\"{cut}\" \
         data-raw=\"{raw}\" data-stream=\"{stream}\" data-json=\"{json}\" data-times=\"{has_times}\">",
        ts = if opts.timestamps { " ts" } else { "" },
        nw = digits(last_line.max(9_999)),
        start = window.start,
        end = complete_end,
        size = window.size,
        first = window.first_line,
        numbered = u8::from(window.numbered),
        live = u8::from(opts.live),
        cut = u8::from(window.cut_first),
        raw = escape(sources.raw.as_deref().unwrap_or("")),
        stream = escape(sources.stream.as_deref().unwrap_or("")),
        json = escape(sources.json.as_deref().unwrap_or("")),
        has_times = u8::from(times.is_some()),
    );
    if window.start > 0 && !window.cut_first && window.numbered {
        let earlier = window.first_line.saturating_sub(1000).max(1);
        let _ = write!(
            out,
            "<a class=more id=earlier href=\"{}\">Load earlier lines ({} before)</a>",
            link(earlier),
            window.first_line - 1
        );
    } else if window.cut_first {
        out.push_str("<div class=logend>The first line shown is cut: it began earlier. Download the raw log for all of it.</div>");
    }
    if window.line_missing {
        out.push_str("<div class=logend>That line is not in the log (yet): showing the end.</div>");
    }
    let _ = write!(out, "<div class=lines id=lines>{lines}</div>");
    if window.end < window.size {
        let _ = write!(
            out,
            "<a class=more id=later href=\"{}\">Load later lines</a>",
            link(last_line + 1)
        );
    }
    let end_note = if !opts.exists {
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
    };
    let _ = write!(
        out,
        "<div class=logend id=logend>{}</div></div>",
        escape(&end_note)
    );
    out
}

/// A query string naming a job's log on the lane page.
pub(crate) fn job_query(job: &str, kind: &str) -> String {
    format!("job={}&kind={}", query_value(job), query_value(kind))
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
            query: job_query("build", "guest"),
            live: true,
            timestamps: false,
            exists: true,
        }
    }

    #[test]
    fn lines_are_numbered_linked_coloured_and_escaped() {
        let w = window(&["ok", "\x1b[31m<b>bad</b>", "still red", "part"], 41, true);
        let html = render(&w, None, &Sources::default(), &opts());
        assert!(html.contains("<div class=\"l\" id=\"L41\"><a class=n href=\"#L41\" data-n=\"41\"></a><span class=x>ok</span></div>"), "{html}");
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
        let html = render(&w, Some(&times), &Sources::default(), &opts());
        assert!(
            html.contains("<a class=n href=\"#L1\" data-n=\"1\"></a><span class=t title=\"2026-03-24 16:12:38.123 UTC\">16:12:38.123</span><span class=x>one</span>"),
            "{html}"
        );
        assert!(
            html.contains("data-n=\"2\"></a><span class=t></span><span class=x>two</span>"),
            "{html}"
        );
        assert!(html.contains("data-times=\"1\""));
    }
}
