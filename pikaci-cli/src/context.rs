//! Turning flags into library values: the state root, the pipeline, ids.

use std::io::IsTerminal as _;
use std::str::FromStr;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::contract::STATE_ROOT_ENV;
use pikaci_core::{IdError, Pipeline};
use pikaci_store::Store;

use crate::exit::CliError;
use crate::style::ColorChoice;

/// The state root used when neither the flag nor the variable is set.
pub const DEFAULT_STATE_ROOT: &str = ".pikaci";
/// The pipeline file looked for in the current folder.
pub const DEFAULT_PIPELINE: &str = "pikaci.toml";

/// The state root: `--state-root`, else `$PIKACI_STATE_ROOT` (when not empty),
/// else `./.pikaci`; made absolute against `cwd`.
pub fn resolve_state_root(
    flag: Option<&Utf8Path>,
    env: Option<&str>,
    cwd: &Utf8Path,
) -> Utf8PathBuf {
    let chosen = flag
        .map(Utf8Path::to_owned)
        .or_else(|| env.filter(|e| !e.is_empty()).map(Utf8PathBuf::from))
        .unwrap_or_else(|| Utf8PathBuf::from(DEFAULT_STATE_ROOT));
    absolute(&chosen, cwd)
}

/// `path` made absolute against `cwd` (without touching the disk).
pub fn absolute(path: &Utf8Path, cwd: &Utf8Path) -> Utf8PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        cwd.join(path)
    }
}

/// The current folder as UTF-8.
pub fn current_dir() -> Result<Utf8PathBuf, CliError> {
    let dir = std::env::current_dir().map_err(|source| CliError::Internal {
        what: "reading the current folder".into(),
        source,
    })?;
    Utf8PathBuf::from_path_buf(dir)
        .map_err(|p| CliError::Usage(format!("the current folder {} is not UTF-8", p.display())))
}

/// Everything a command needs from its surroundings.
#[derive(Debug, Clone)]
pub struct Context {
    /// The current folder.
    pub cwd: Utf8PathBuf,
    /// The resolved state root.
    pub state_root: Utf8PathBuf,
    /// Whether what goes to stdout is coloured (`--color`, `NO_COLOR`, a terminal).
    pub color: bool,
}

impl Context {
    /// Reads the current folder and the environment once.
    pub fn from_env(
        state_root_flag: Option<&Utf8Path>,
        color: ColorChoice,
    ) -> Result<Self, CliError> {
        let cwd = current_dir()?;
        let env = std::env::var(STATE_ROOT_ENV).ok();
        let state_root = resolve_state_root(state_root_flag, env.as_deref(), &cwd);
        let no_color = std::env::var("NO_COLOR").ok();
        let color = color.enabled(no_color.as_deref(), std::io::stdout().is_terminal());
        Ok(Self {
            cwd,
            state_root,
            color,
        })
    }

    /// The store on the state root.
    pub fn store(&self) -> Store {
        Store::open(self.state_root.clone())
    }

    /// The pipeline file to use: `--config`, else `./pikaci.toml`.
    pub fn pipeline_path(&self, config: Option<&Utf8Path>) -> Utf8PathBuf {
        absolute(config.unwrap_or(Utf8Path::new(DEFAULT_PIPELINE)), &self.cwd)
    }
}

/// `path` with its links resolved, whether or not it exists yet: its
/// longest existing ancestor made canonical, with the rest of it (which
/// cannot hold a link, since it does not exist) appended. Nothing is created.
pub fn canonical_to_be(path: &Utf8Path) -> Utf8PathBuf {
    let mut rest = Vec::new();
    let mut at = path;
    loop {
        if let Ok(found) = std::fs::canonicalize(at)
            && let Ok(mut found) = Utf8PathBuf::from_path_buf(found)
        {
            found.extend(rest.iter().rev());
            return found;
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                at = parent;
            }
            _ => return path.to_owned(),
        }
    }
}

/// Reads and parses a pipeline file; errors name the file, line and key
/// (and carry the text, to be shown with a caret).
pub fn load_pipeline(path: &Utf8Path) -> Result<Pipeline, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            CliError::ConfigMissing {
                path: path.to_string(),
            }
        } else {
            CliError::ConfigRead {
                path: path.to_string(),
                source,
            }
        }
    })?;
    parse_pipeline(text, path)
}

/// Parses a pipeline file's text, keeping the text in the error.
pub fn parse_pipeline(text: String, path: &Utf8Path) -> Result<Pipeline, CliError> {
    Pipeline::parse(&text, path).map_err(|error| CliError::ConfigAt { error, text })
}

/// A pipeline with jobs: one with none is an error, not a run that passes
/// having run nothing.
pub fn require_jobs(pipeline: Pipeline, path: &Utf8Path) -> Result<Pipeline, CliError> {
    if pipeline.jobs.is_empty() {
        return Err(CliError::EmptyPipeline {
            path: path.to_string(),
        });
    }
    Ok(pipeline)
}

/// Parses an id argument, naming the argument on error.
pub fn parse_id<T: FromStr<Err = IdError>>(what: &'static str, s: &str) -> Result<T, CliError> {
    s.parse()
        .map_err(|source| CliError::InvalidId { what, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_root_order_is_flag_then_env_then_default() {
        let cwd = Utf8Path::new("/work/repo");
        assert_eq!(
            resolve_state_root(Some(Utf8Path::new("/f")), Some("/e"), cwd),
            "/f"
        );
        assert_eq!(
            resolve_state_root(Some(Utf8Path::new("rel")), Some("/e"), cwd),
            "/work/repo/rel"
        );
        assert_eq!(resolve_state_root(None, Some("/e"), cwd), "/e");
        assert_eq!(
            resolve_state_root(None, Some(""), cwd),
            "/work/repo/.pikaci"
        );
        assert_eq!(resolve_state_root(None, None, cwd), "/work/repo/.pikaci");
    }

    #[test]
    fn bad_ids_name_the_argument() {
        let err = parse_id::<pikaci_core::RunId>("run id", "../etc").unwrap_err();
        assert!(err.to_string().starts_with("invalid run id: "), "{err}");
        assert_eq!(err.exit_code(), crate::exit::EXIT_USAGE);
    }

    #[test]
    fn a_state_root_to_be_resolves_through_links_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let base = Utf8PathBuf::from_path_buf(dir.path().canonicalize().unwrap()).unwrap();
        std::fs::create_dir(base.join("real")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("link")).unwrap();
        let wanted = base.join("link/state/root");
        assert_eq!(canonical_to_be(&wanted), base.join("real/state/root"));
        assert!(!base.join("real/state").exists());
        assert_eq!(canonical_to_be(&base.join("link")), base.join("real"));
    }
}
