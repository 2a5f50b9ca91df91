//! ANSI escape sequences to HTML: colours and text styles become `<span>`s
//! with classes (`b` bold, `d` dim, `i` italic, `u` underline, `f0`–`f15`
//! foreground, `g0`–`g15` background) or, for 256-colour and true-colour
//! codes, an inline `color`/`background` made from the numbers alone. OSC 8
//! hyperlinks (`\e]8;;URL\e\\text\e]8;;\e\\`) and plain `http(s)://`
//! addresses in the text become links (`rel="noopener nofollow"`), only for
//! the `http`, `https` and `mailto` schemes: any other stays text. Every
//! other escape sequence and control character is dropped; all text is
//! escaped. A carriage return inside a line keeps what was written after it,
//! as a terminal shows a progress bar.
//!
//! The page's script has the same renderer for lines it loads later
//! (`viewer.js`, `Ansi`): the two must agree, and the browser test checks
//! that they do.

use std::fmt::Write as _;

use maud::{Markup, html};

/// A colour as set by an SGR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Colour {
    /// One of the 16 palette colours (a class).
    Palette(u8),
    /// An exact colour (from the 256-colour cube or true colour).
    Rgb(u8, u8, u8),
}

/// The style in effect: carried from line to line, as in a terminal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AnsiState {
    fg: Option<Colour>,
    bg: Option<Colour>,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
}

/// The exact colour of a 256-colour index (16 and up).
fn indexed(n: u8) -> Colour {
    match n {
        0..=15 => Colour::Palette(n),
        16..=231 => {
            let n = n - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            Colour::Rgb(level(n / 36), level((n / 6) % 6), level(n % 6))
        }
        _ => {
            let v = 8 + (n - 232) * 10;
            Colour::Rgb(v, v, v)
        }
    }
}

impl AnsiState {
    /// Applies one SGR sequence's parameters (`1;31`, `38;5;208`, empty).
    fn apply(&mut self, params: &str) {
        let codes: Vec<u16> = params
            .split([';', ':'])
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        let mut i = 0;
        while i < codes.len() {
            let code = codes[i];
            match code {
                0 => *self = Self::default(),
                1 => self.bold = true,
                2 => self.dim = true,
                3 => self.italic = true,
                4 => self.underline = true,
                22 => (self.bold, self.dim) = (false, false),
                23 => self.italic = false,
                24 => self.underline = false,
                30..=37 => self.fg = Some(Colour::Palette((code - 30) as u8)),
                90..=97 => self.fg = Some(Colour::Palette((code - 90 + 8) as u8)),
                40..=47 => self.bg = Some(Colour::Palette((code - 40) as u8)),
                100..=107 => self.bg = Some(Colour::Palette((code - 100 + 8) as u8)),
                39 => self.fg = None,
                49 => self.bg = None,
                38 | 48 => {
                    let colour = match codes.get(i + 1) {
                        Some(5) => {
                            let c = codes.get(i + 2).map(|&n| indexed(n.min(255) as u8));
                            i += 2;
                            c
                        }
                        Some(2) => {
                            let v = |k: usize| codes.get(i + k).map_or(0, |&n| n.min(255) as u8);
                            let c = Colour::Rgb(v(2), v(3), v(4));
                            i += 4;
                            Some(c)
                        }
                        _ => None,
                    };
                    if code == 38 {
                        self.fg = colour;
                    } else {
                        self.bg = colour;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// SGR parameters that set this style from a reset (`0;1;31`), for the
    /// script to carry on where the server stopped.
    pub(crate) fn sgr(&self) -> String {
        let mut codes = vec!["0".to_owned()];
        for (on, code) in [
            (self.bold, 1),
            (self.dim, 2),
            (self.italic, 3),
            (self.underline, 4),
        ] {
            if on {
                codes.push(code.to_string());
            }
        }
        for (colour, base, bright, extended) in [(self.fg, 30, 90, 38), (self.bg, 40, 100, 48)] {
            match colour {
                Some(Colour::Palette(n)) if n < 8 => codes.push((base + u16::from(n)).to_string()),
                Some(Colour::Palette(n)) => codes.push((bright + u16::from(n) - 8).to_string()),
                Some(Colour::Rgb(r, g, b)) => codes.push(format!("{extended};2;{r};{g};{b}")),
                None => {}
            }
        }
        codes.join(";")
    }

    /// The classes and the inline style of a span in this style (`None`
    /// for what it does not need).
    fn attributes(&self) -> (Option<String>, Option<String>) {
        let mut classes: Vec<String> = Vec::new();
        let mut style = String::new();
        for (on, class) in [
            (self.bold, "b"),
            (self.dim, "d"),
            (self.italic, "i"),
            (self.underline, "u"),
        ] {
            if on {
                classes.push(class.to_owned());
            }
        }
        for (colour, class, property) in [(self.fg, 'f', "color"), (self.bg, 'g', "background")] {
            match colour {
                Some(Colour::Palette(n)) => classes.push(format!("{class}{n}")),
                Some(Colour::Rgb(r, g, b)) => {
                    let _ = write!(style, "{property}:#{r:02x}{g:02x}{b:02x};");
                }
                None => {}
            }
        }
        (
            (!classes.is_empty()).then(|| classes.join(" ")),
            (!style.is_empty()).then_some(style),
        )
    }
}

/// A run of text in one style.
#[derive(Debug)]
struct Styled {
    /// The span's classes and inline style; both `None` for plain text.
    class: Option<String>,
    style: Option<String>,
    text: String,
    /// The OSC 8 link it is inside, when its scheme is allowed.
    href: Option<String>,
}

/// The target of an OSC 8 link, when it is one a page may link to.
fn safe_href(uri: &str) -> Option<&str> {
    let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
    let allowed = ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s) && uri.len() > s.len());
    let clean = !uri.chars().any(|c| c.is_control() || c == ' ');
    (allowed && clean).then_some(uri)
}

/// Where an address that starts `s` (`http://…`) ends: at white space or
/// a quote or bracket that cannot be in it, less the punctuation that ends
/// a sentence around it (a `)` or `]` only when it closes nothing inside).
fn url_end(s: &str) -> usize {
    let mut end = s
        .find(|c: char| c <= ' ' || matches!(c, '<' | '>' | '"' | '\'' | '`' | '\x7f'))
        .unwrap_or(s.len());
    loop {
        let url = &s[..end];
        let unbalanced =
            |open: char, close: char| url.matches(close).count() > url.matches(open).count();
        match url.chars().last() {
            Some('.' | ',' | ';' | ':' | '!' | '?') => end -= 1,
            Some(')') if unbalanced('(', ')') => end -= 1,
            Some(']') if unbalanced('[', ']') => end -= 1,
            _ => return end,
        }
    }
}

/// `text` cut into pieces, each an address (`true`) or not.
fn url_pieces(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let (mut done, mut from) = (0, 0);
    while let Some(found) = text[from..].find("http") {
        let at = from + found;
        let rest = &text[at..];
        let scheme = ["https://", "http://"]
            .into_iter()
            .find(|p| rest.starts_with(p));
        let word_start = !text[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        match scheme {
            Some(p) if word_start && url_end(rest) > p.len() => {
                let end = at + url_end(rest);
                if at > done {
                    out.push((&text[done..at], false));
                }
                out.push((&text[at..end], true));
                (done, from) = (end, end);
            }
            _ => from = at + 4,
        }
    }
    if done < text.len() {
        out.push((&text[done..], false));
    }
    out
}

/// A run's text, with its link or the addresses in it made links.
fn linked(run: &Styled) -> Markup {
    html! {
        @if let Some(href) = &run.href {
            a.ln href=(href) rel="noopener nofollow" target="_blank" { (run.text) }
        } @else {
            @for (piece, url) in url_pieces(&run.text) {
                @if url {
                    a.ln href=(piece) rel="noopener nofollow" target="_blank" { (piece) }
                } @else {
                    (piece)
                }
            }
        }
    }
}

/// What a line shows, as text: colours, links and other sequences gone.
pub(crate) fn plain_text(line: &str) -> String {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let shown = line.rfind('\r').map_or(line, |i| &line[i + 1..]);
    let mut runs = Vec::new();
    styled_runs(shown, &mut AnsiState::default(), &mut runs, true);
    runs.into_iter().map(|r| r.text).collect()
}

/// Renders one line (without its `\n`), starting in `state` and leaving
/// the style in effect at its end there.
pub(crate) fn render_line(line: &str, state: &mut AnsiState) -> Markup {
    let line = line.strip_suffix('\r').unwrap_or(line);
    // What was written before the last carriage return is overwritten: only
    // its style changes count.
    let (overwritten, shown) = match line.rfind('\r') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => ("", line),
    };
    let mut sink = Vec::new();
    styled_runs(overwritten, state, &mut sink, false);
    let mut runs = Vec::new();
    styled_runs(shown, state, &mut runs, true);
    html! {
        @for run in &runs {
            @if run.class.is_none() && run.style.is_none() {
                (linked(run))
            } @else {
                span class=[&run.class] style=[&run.style] { (linked(run)) }
            }
        }
    }
}

fn styled_runs(text: &str, state: &mut AnsiState, out: &mut Vec<Styled>, emit: bool) {
    let mut run = String::new();
    // The OSC 8 link the text is in (only within this line).
    let mut link: Option<String> = None;
    let flush =
        |run: &mut String, state: &AnsiState, link: &Option<String>, out: &mut Vec<Styled>| {
            if run.is_empty() || !emit {
                run.clear();
                return;
            }
            let (class, style) = state.attributes();
            out.push(Styled {
                class,
                style,
                text: std::mem::take(run),
                href: link.clone(),
            });
        };
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '\x1b' => match chars.peek().map(|&(_, c)| c) {
                Some('[') => {
                    chars.next();
                    let mut params = String::new();
                    let mut fin = None;
                    for (_, c) in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            fin = Some(c);
                            break;
                        }
                        params.push(c);
                    }
                    if fin == Some('m')
                        && params
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b == b';' || b == b':')
                    {
                        flush(&mut run, state, &link, out);
                        state.apply(&params);
                    }
                }
                Some(']') => {
                    // An operating system command (title, hyperlink): up to BEL or ESC \.
                    chars.next();
                    let mut command = String::new();
                    while let Some((_, c)) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' {
                            if chars.peek().map(|&(_, c)| c) == Some('\\') {
                                chars.next();
                            }
                            break;
                        }
                        command.push(c);
                    }
                    // OSC 8 ; params ; URI: a link starts (an empty URI ends it).
                    if let Some(rest) = command.strip_prefix("8;") {
                        let uri = rest.split_once(';').map_or("", |(_, u)| u);
                        flush(&mut run, state, &link, out);
                        link = safe_href(uri).map(str::to_owned);
                    }
                }
                Some(_) => {
                    // ESC, intermediates (` ` to `/`), a final character: `ESC ( B`.
                    while chars.next_if(|&(_, c)| (' '..='/').contains(&c)).is_some() {}
                    chars.next();
                }
                None => {}
            },
            '\t' => run.push('\t'),
            c if c.is_control() => {}
            c => run.push(c),
        }
    }
    flush(&mut run, state, &link, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(lines: &[&str]) -> Vec<String> {
        let mut state = AnsiState::default();
        lines
            .iter()
            .map(|l| render_line(l, &mut state).into_string())
            .collect()
    }

    #[test]
    fn colours_and_styles_become_classes() {
        assert_eq!(
            html(&["\x1b[31merror\x1b[0m: boom"]),
            ["<span class=\"f1\">error</span>: boom"]
        );
        assert_eq!(
            html(&["\x1b[1;92;44mok\x1b[22m go\x1b[m"]),
            ["<span class=\"b f10 g4\">ok</span><span class=\"f10 g4\"> go</span>"]
        );
        assert_eq!(
            html(&["\x1b[38;5;208mo\x1b[48;2;1;2;3mx\x1b[39;49m."]),
            [
                "<span style=\"color:#ff8700;\">o</span><span style=\"color:#ff8700;background:#010203;\">x</span>."
            ]
        );
        assert_eq!(
            html(&["\x1b[38;5;244mgrey"]),
            ["<span style=\"color:#808080;\">grey</span>"]
        );
    }

    #[test]
    fn a_state_round_trips_through_its_sgr() {
        let mut state = AnsiState::default();
        let _ = render_line("\x1b[1;93;48;5;208mx", &mut state);
        assert_eq!(state.sgr(), "0;1;93;48;2;255;135;0");
        let mut again = AnsiState::default();
        again.apply(&state.sgr());
        assert_eq!(again, state);
        assert_eq!(AnsiState::default().sgr(), "0");
    }

    #[test]
    fn style_carries_across_lines() {
        assert_eq!(
            html(&["\x1b[33mstart", "still", "\x1b[0mdone"]),
            [
                "<span class=\"f3\">start</span>",
                "<span class=\"f3\">still</span>",
                "done"
            ]
        );
    }

    #[test]
    fn everything_is_escaped_and_other_sequences_dropped() {
        assert_eq!(
            html(&["<script>alert('x')</script> & \"q\""]),
            ["&lt;script&gt;alert('x')&lt;/script&gt; &amp; &quot;q&quot;"]
        );
        assert_eq!(
            html(&[
                "a\x1b[2Kb\x1b]0;title\x07c\x1b]8;;ftp://x\x1b\\d\x1b]8;;\x1b\\\x1b(Be\x07\x08f"
            ]),
            ["abcdef"]
        );
        // A hostile SGR cannot inject markup.
        assert_eq!(html(&["\x1b[31\"><b>m<i>"]), ["&gt;m&lt;i&gt;"]);
    }

    #[test]
    fn addresses_and_osc8_hyperlinks_become_links() {
        let link = |href: &str, text: &str| {
            format!(
                "<a class=\"ln\" href=\"{href}\" rel=\"noopener nofollow\" target=\"_blank\">{text}</a>"
            )
        };
        assert_eq!(
            html(&["see https://example.com/a?b=1&c=2 (or http://x.org/p_(q)), then."]),
            [format!(
                "see {} (or {}), then.",
                link(
                    "https://example.com/a?b=1&amp;c=2",
                    "https://example.com/a?b=1&amp;c=2"
                ),
                link("http://x.org/p_(q)", "http://x.org/p_(q)")
            )]
        );
        assert_eq!(
            html(&[
                "\x1b[31mfail: https://ci.example/run/1.\x1b[0m xhttp://no http:// \"https://q.example/\"<"
            ]),
            [format!(
                "<span class=\"f1\">fail: {}.</span> xhttp://no http:// &quot;{}&quot;&lt;",
                link("https://ci.example/run/1", "https://ci.example/run/1"),
                link("https://q.example/", "https://q.example/")
            )]
        );
        // OSC 8: the text between the two sequences links to the URI.
        assert_eq!(
            html(&[
                "open \x1b]8;id=1;https://example.com/x\"y\x1b\\the \x1b[1mdocs\x1b]8;;\x1b\\ now"
            ]),
            [format!(
                "open {}<span class=\"b\">{}</span><span class=\"b\"> now</span>",
                link("https://example.com/x&quot;y", "the "),
                link("https://example.com/x&quot;y", "docs")
            )]
        );
        assert_eq!(
            html(&["\x1b]8;;mailto:a@b.example\x07mail\x1b]8;;\x07"]),
            [link("mailto:a@b.example", "mail")]
        );
        // Other schemes are text.
        for uri in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "http://a b",
        ] {
            assert_eq!(
                html(&[&format!("\x1b]8;;{uri}\x1b\\click\x1b]8;;\x1b\\")]),
                ["click"],
                "{uri}"
            );
        }
        assert_eq!(html(&["javascript:alert(1)"]), ["javascript:alert(1)"]);
        assert_eq!(
            plain_text("\x1b[31merror\x1b[0m: \x1b]8;;http://x\x07a\x1b]8;;\x07\r"),
            "error: a"
        );
    }

    #[test]
    fn carriage_returns_keep_the_last_write() {
        assert_eq!(html(&["10%\r50%\r100% done\r"]), ["100% done"]);
        assert_eq!(
            html(&["\x1b[32m10%\r100%"]),
            ["<span class=\"f2\">100%</span>"]
        );
    }
}
