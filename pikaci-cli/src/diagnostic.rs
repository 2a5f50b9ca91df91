//! Errors shown like rustc's: a pipeline error with the line of the file it
//! is about, a caret under the place, and a `help:` line with the hint.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use pikaci_core::PipelineError;

/// `err` (found in `text`) rendered with its source line and caret; colours
/// when `color`. Without a span it is the one-line message and the hint.
pub(crate) fn pipeline_error(err: &PipelineError, text: &str, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let headline = pikaci_core::escape_controls(&err.headline()).into_owned();
    let help = err
        .help()
        .map(|h| pikaci_core::escape_controls(h).into_owned());
    let path = err.file().to_string();
    let Some(span) = err.span().filter(|s| s.start <= text.len()) else {
        let mut report = vec![Group::with_title(
            Level::ERROR.primary_title(err.to_string()),
        )];
        if let Some(help) = &help {
            report.push(Group::with_title(
                Level::HELP.secondary_title(help.as_str()),
            ));
        }
        return renderer.render(&report);
    };
    // An empty span (the end of the file) still gets a caret.
    let span = span.start..span.end.max(span.start).min(text.len());
    let mut title = Level::ERROR.primary_title(headline.as_str()).element(
        Snippet::source(text)
            .path(path.as_str())
            .fold(true)
            .annotation(AnnotationKind::Primary.span(span)),
    );
    if let Some(help) = &help {
        title = title.element(Level::HELP.message(help.as_str()));
    }
    renderer.render(&[title])
}

#[cfg(test)]
mod tests {
    use camino::Utf8Path;
    use pikaci_core::Pipeline;

    use super::*;

    #[test]
    fn an_unknown_key_gets_its_line_a_caret_and_a_hint() {
        let text = "[[job]]\nid = \"a\"\ncommand = \"true\"\ntimout_secs = 5\n";
        let err = Pipeline::parse(text, Utf8Path::new("pikaci.toml")).unwrap_err();
        let shown = pipeline_error(&err, text, false);
        let want = "\
error: key `timout_secs`: unknown field `timout_secs`, expected one of `id`, `description`, `command`, `timeout_secs`, `executor`, `run_as_root`, `writable_workspace`, `env`, `needs`, `max_log_bytes`
 --> pikaci.toml:4:1
  |
4 | timout_secs = 5
  | ^^^^^^^^^^^
  |
  = help: did you mean `timeout_secs`?
";
        assert_eq!(shown.trim_end(), want.trim_end(), "{shown}");
    }
}
