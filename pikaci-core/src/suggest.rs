//! [`did_you_mean`]: the closest of a few known words to a mistyped one, for
//! hints in error messages.

/// How alike two words must be (Jaro-Winkler, 0 to 1) to be suggested; the
/// threshold clap uses for its own "did you mean" hints.
const MIN_SIMILARITY: f64 = 0.7;

/// The candidate closest to `word`, when it is close enough to be what was
/// meant (and is not `word` itself).
///
/// ```
/// use pikaci_core::did_you_mean;
///
/// assert_eq!(did_you_mean("biuld", ["build", "test", "lint"]), Some("build"));
/// assert_eq!(did_you_mean("deploy", ["build", "test"]), None);
/// ```
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= MIN_SIMILARITY)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_closest_and_ignores_the_far() {
        assert_eq!(
            did_you_mean("comand", ["command", "description", "id"]),
            Some("command")
        );
        assert_eq!(did_you_mean("x", ["command", "description"]), None);
        assert_eq!(did_you_mean("id", ["id"]), None);
        assert_eq!(did_you_mean("a", Vec::<&str>::new()), None);
    }
}
