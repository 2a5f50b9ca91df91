//! Colour and symbols for people: on when stdout is a terminal (or
//! `--color always`), off with `--color never`, `NO_COLOR` or a pipe.

use std::fmt::Display;

use clap::ValueEnum;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always colour (also into a pipe).
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour: `always` wins, `never` and a non-empty `NO_COLOR`
    /// (<https://no-color.org>) turn it off, else a terminal decides.
    pub fn enabled(self, no_color: Option<&str>, is_terminal: bool) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => no_color.is_none_or(str::is_empty) && is_terminal,
        }
    }
}

/// How text is painted: plain words, or colours and symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    color: bool,
}

const RESET: &str = "\x1b[0m";

impl Style {
    pub(crate) fn new(color: bool) -> Self {
        Self { color }
    }

    /// Whether colours and symbols are on.
    pub(crate) fn color(self) -> bool {
        self.color
    }

    fn paint(self, code: &str, text: impl Display) -> String {
        if self.color {
            format!("\x1b[{code}m{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    pub(crate) fn green(self, text: impl Display) -> String {
        self.paint("32", text)
    }

    pub(crate) fn red(self, text: impl Display) -> String {
        self.paint("1;31", text)
    }

    pub(crate) fn yellow(self, text: impl Display) -> String {
        self.paint("33", text)
    }

    pub(crate) fn dim(self, text: impl Display) -> String {
        self.paint("2", text)
    }

    pub(crate) fn bold(self, text: impl Display) -> String {
        self.paint("1", text)
    }

    /// A symbol before a word when colours are on (`✓ pass`), the word alone
    /// otherwise, so plain output stays greppable.
    pub(crate) fn mark(self, symbol: &str, word: &str) -> String {
        if self.color {
            format!("{symbol} {word}")
        } else {
            word.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_and_pipes_turn_auto_off_but_not_always() {
        assert!(ColorChoice::Auto.enabled(None, true));
        assert!(ColorChoice::Auto.enabled(Some(""), true));
        assert!(!ColorChoice::Auto.enabled(Some("1"), true));
        assert!(!ColorChoice::Auto.enabled(None, false));
        assert!(ColorChoice::Always.enabled(Some("1"), false));
        assert!(!ColorChoice::Never.enabled(None, true));
    }

    #[test]
    fn plain_style_adds_nothing() {
        let s = Style::new(false);
        assert_eq!(s.red("FAIL"), "FAIL");
        assert_eq!(s.mark("✗", "FAIL"), "FAIL");
        let s = Style::new(true);
        assert_eq!(s.red("FAIL"), "\x1b[1;31mFAIL\x1b[0m");
        assert_eq!(s.mark("✗", "FAIL"), "✗ FAIL");
    }
}
