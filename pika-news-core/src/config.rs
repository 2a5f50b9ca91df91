//! `pika-news.toml`: where the service listens, its database, and the forge repository.

use crate::forge::MergePolicy;
use crate::login::Npub;
use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::TomlLocation;
use serde::Deserialize;

use crate::data_dir::DataDir;
use crate::http_limits::HttpLimits;
use crate::sandbox::LaneSettings;
use crate::sandbox::settings::UidRange;

/// The default listen address.
pub const DEFAULT_BIND_ADDRESS: &str = "127.0.0.1";
/// The default listen port.
pub const DEFAULT_BIND_PORT: u16 = 8787;
/// The default `default_branch`, as upstream pika's.
pub const DEFAULT_BRANCH: &str = "master";

/// A loaded configuration, with every path absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where to listen.
    pub bind_address: String,
    /// Which port.
    pub bind_port: u16,
    /// The SQLite database file.
    pub database: Utf8PathBuf,
    /// Whether pages and read routes answer without a token.
    pub public_read: bool,
    /// The repository served.
    pub forge_repo: ForgeRepo,
    /// `[lanes]`: who lanes run as, and how long they get to stop.
    pub lanes: LaneSettings,
    /// `[http]`: connection timeouts and limits.
    pub http: HttpLimits,
    /// Nostr keys that may always log in with `ph login`, as admins
    /// (upstream pika-git's `bootstrap_admin_npubs`).
    pub bootstrap_admin_npubs: Vec<Npub>,
    /// `[http] public_url`: the address browsers reach the service at (behind
    /// a proxy, not the bind address). When it is https the page cookie is
    /// `Secure`.
    pub public_url: Option<PublicUrl>,
}

/// The service's public address: an `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PublicUrl(String);

impl PublicUrl {
    /// Whether browsers reach the service over https.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PublicUrl {
    type Error = String;

    fn try_from(url: String) -> Result<Self, String> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| format!("public_url `{url}` must start with https:// or http://"))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(format!("public_url `{url}` names no host"));
        }
        Ok(Self(url))
    }
}

/// `[forge_repo] commit_url`: where a commit's web page is, `{sha}`
/// standing for its id (`https://github.com/sledtools/pika/commit/{sha}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct CommitUrl(String);

impl CommitUrl {
    /// The page of commit `sha`.
    pub fn for_commit(&self, sha: &str) -> String {
        self.0.replace("{sha}", sha)
    }
}

impl TryFrom<String> for CommitUrl {
    type Error = String;

    fn try_from(url: String) -> Result<Self, String> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(format!(
                "commit_url `{url}` must start with https:// or http://"
            ));
        }
        if !url.contains("{sha}") {
            return Err(format!(
                "commit_url `{url}` must contain {{sha}}, where the commit id goes"
            ));
        }
        Ok(Self(url))
    }
}

/// `[forge_repo]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeRepo {
    /// The repository's name, e.g. `sledtools/pika`.
    pub repo: String,
    /// The canonical bare repository.
    pub canonical_git_dir: Utf8PathBuf,
    /// The default branch.
    pub default_branch: String,
    /// How many lanes may run at once.
    pub ci_concurrency: u32,
    /// A lane's wall-clock limit, in seconds.
    pub lane_timeout_secs: u64,
    /// The pikaci state root of this repository.
    pub pikaci_state_root: Utf8PathBuf,
    /// The `pikaci` binary pikaci lanes run.
    pub pikaci_bin: Utf8PathBuf,
    /// Extra environment variable names a lane's child may keep.
    pub env_allow: Vec<String>,
    /// Where worktrees and lane logs go.
    pub data_dir: DataDir,
    /// How often the poller looks for new branch heads, in seconds.
    pub poll_interval_secs: u64,
    /// `lanes_manifest`: the manifest of lanes for heads that define none
    /// (no `ci/forge-lanes.toml`, no pikaci.toml target with a CI trigger),
    /// read for each new head.
    pub lanes_manifest: Option<Utf8PathBuf>,
    /// Which heads the server merges, and for whom (default `green-or-admin`).
    pub merge_policy: MergePolicy,
    /// `commit_url`: where the pages link a commit to; `None`: to its CI
    /// status on this server.
    pub commit_url: Option<CommitUrl>,
}

/// What is wrong with a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {file}")]
    Read {
        /// The file.
        file: Utf8PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Bad TOML, an unknown key or a bad value.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        file: Utf8PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong (it names the key).
        message: String,
    },
    /// `[forge_repo] lanes_manifest` names a file that cannot be read.
    #[error("{file}: [forge_repo] lanes_manifest {manifest} cannot be read")]
    LanesManifestRead {
        /// The configuration file.
        file: Utf8PathBuf,
        /// The manifest it names.
        manifest: Utf8PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `[forge_repo] lanes_manifest` is not a valid manifest.
    #[error(
        "{file}: [forge_repo] lanes_manifest is not valid: {manifest}:{line}:{column}: {message}"
    )]
    LanesManifestInvalid {
        /// The configuration file.
        file: Utf8PathBuf,
        /// The manifest it names.
        manifest: Utf8PathBuf,
        /// 1-based line in the manifest.
        line: usize,
        /// 1-based column in the manifest.
        column: usize,
        /// What is wrong (it names the key).
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    bind_address: Option<String>,
    bind_port: Option<u16>,
    database: Option<Utf8PathBuf>,
    #[serde(default)]
    public_read: bool,
    forge_repo: RawForgeRepo,
    #[serde(default)]
    lanes: RawLanes,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    bootstrap_admin_npubs: Vec<Npub>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLanes {
    run_as_user: Option<String>,
    uid_range: Option<UidRange>,
    gid: Option<u32>,
    path: Option<String>,
    lease_secs: Option<u64>,
    memory_max: Option<crate::lanes::limits::ByteSize>,
    pids_max: Option<u64>,
    cpu_weight: Option<crate::lanes::limits::CpuWeight>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    header_read_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    send_timeout_secs: Option<u64>,
    public_url: Option<PublicUrl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForgeRepo {
    repo: String,
    canonical_git_dir: Utf8PathBuf,
    #[serde(default = "default_branch")]
    default_branch: String,
    #[serde(default = "default_concurrency")]
    ci_concurrency: u32,
    #[serde(default = "default_lane_timeout")]
    lane_timeout_secs: u64,
    pikaci_state_root: Option<Utf8PathBuf>,
    pikaci_bin: Option<Utf8PathBuf>,
    #[serde(default)]
    env_allow: Vec<String>,
    data_dir: Option<Utf8PathBuf>,
    #[serde(default = "default_poll")]
    poll_interval_secs: u64,
    lanes_manifest: Option<Utf8PathBuf>,
    #[serde(default)]
    merge_policy: MergePolicy,
    commit_url: Option<CommitUrl>,
}

fn default_poll() -> u64 {
    30
}

fn default_branch() -> String {
    DEFAULT_BRANCH.to_owned()
}
fn default_concurrency() -> u32 {
    1
}
fn default_lane_timeout() -> u64 {
    3600
}

/// The state root pika-news gives a repository:
/// `parent(canonical_git_dir)/pikaci-state/<slug>`, where the slug maps every
/// character of the repository name outside `[A-Za-z0-9_-]` to `-`, and a
/// path with no parent uses `.`.
pub fn pikaci_state_root(repo: &str, canonical_git_dir: &Utf8Path) -> Utf8PathBuf {
    let slug: String = repo
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let parent = canonical_git_dir
        .parent()
        .filter(|p| !p.as_str().is_empty())
        .unwrap_or(Utf8Path::new("."));
    parent.join("pikaci-state").join(slug)
}

/// `path` made absolute against `base`, without `.` components (so a
/// configuration loaded as `./pika-news.toml` names `/dir/file`, not
/// `/dir/./file`); `..` is kept, as it may cross a link.
fn absolute(path: &Utf8Path, base: &Utf8Path) -> Utf8PathBuf {
    if path.is_absolute() {
        path.components().collect()
    } else {
        base.join(path).components().collect()
    }
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(file: &Utf8Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.to_owned(),
            source,
        })?;
        let base = file
            .parent()
            .filter(|p| !p.as_str().is_empty())
            .unwrap_or(Utf8Path::new("."));
        let base = if base.is_absolute() {
            base.to_owned()
        } else {
            let cwd = std::env::current_dir()
                .ok()
                .and_then(|d| Utf8PathBuf::from_path_buf(d).ok())
                .unwrap_or_else(|| Utf8PathBuf::from("."));
            absolute(base, &cwd)
        };
        Self::parse(&text, file, &base)
    }

    /// Reads and parses `[forge_repo] lanes_manifest`, when one is named
    /// (`file` is the configuration that names it), so a server does not
    /// start with a manifest that every head without lanes of its own would
    /// fail on. Only serving checks it: the other commands (tokens, hooks)
    /// must work while the manifest is being fixed. The server still reads
    /// the file again for each new head (an edit needs no restart).
    pub fn check_lanes_manifest(&self, file: &Utf8Path) -> Result<(), ConfigError> {
        let Some(manifest) = &self.forge_repo.lanes_manifest else {
            return Ok(());
        };
        let text =
            std::fs::read_to_string(manifest).map_err(|source| ConfigError::LanesManifestRead {
                file: file.to_owned(),
                manifest: manifest.clone(),
                source,
            })?;
        crate::lanes::manifest::parse_manifest(&text).map_err(|e| {
            ConfigError::LanesManifestInvalid {
                file: file.to_owned(),
                manifest: manifest.clone(),
                line: e.line,
                column: e.column,
                message: e.message,
            }
        })?;
        Ok(())
    }

    /// Parses `text`; relative paths are made absolute against `base` (the
    /// configuration file's folder), so the server and its children agree.
    pub fn parse(text: &str, file: &Utf8Path, base: &Utf8Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let at = TomlLocation::of_error(text, &e);
            ConfigError::Invalid {
                file: file.to_owned(),
                line: at.line,
                column: at.column,
                message: e.message().trim().to_owned(),
            }
        })?;
        let fr = raw.forge_repo;
        let canonical_git_dir = absolute(&fr.canonical_git_dir, base);
        let pikaci_state_root = match fr.pikaci_state_root {
            Some(p) => absolute(&p, base),
            None => absolute(&pikaci_state_root(&fr.repo, &canonical_git_dir), base),
        };
        Ok(Self {
            bind_address: raw
                .bind_address
                .unwrap_or_else(|| DEFAULT_BIND_ADDRESS.to_owned()),
            bind_port: raw.bind_port.unwrap_or(DEFAULT_BIND_PORT),
            database: absolute(
                &raw.database.unwrap_or_else(|| "pika-news.sqlite".into()),
                base,
            ),
            public_read: raw.public_read,
            forge_repo: ForgeRepo {
                repo: fr.repo,
                canonical_git_dir,
                default_branch: fr.default_branch,
                ci_concurrency: fr.ci_concurrency.max(1),
                lane_timeout_secs: fr.lane_timeout_secs,
                pikaci_state_root,
                pikaci_bin: fr.pikaci_bin.map_or_else(
                    || "pikaci".into(),
                    |p| {
                        if p.as_str().contains('/') {
                            absolute(&p, base)
                        } else {
                            p
                        }
                    },
                ),
                env_allow: fr.env_allow,
                data_dir: DataDir::new(absolute(
                    &fr.data_dir.unwrap_or_else(|| "pika-news-data".into()),
                    base,
                )),
                poll_interval_secs: fr.poll_interval_secs.max(1),
                lanes_manifest: fr.lanes_manifest.map(|p| absolute(&p, base)),
                merge_policy: fr.merge_policy,
                commit_url: fr.commit_url,
            },
            lanes: LaneSettings {
                limits: crate::lanes::limits::LaneLimits {
                    memory_max: raw.lanes.memory_max,
                    pids_max: raw.lanes.pids_max,
                    cpu_weight: raw.lanes.cpu_weight,
                },
                ..LaneSettings::new(raw.lanes.run_as_user, raw.lanes.lease_secs)
                    .with_uid_range(raw.lanes.uid_range, raw.lanes.gid)
                    .with_lane_path(raw.lanes.path)
            },
            http: HttpLimits::from_settings(
                raw.http.header_read_timeout_secs,
                raw.http.idle_timeout_secs,
                raw.http.max_connections,
                raw.http.send_timeout_secs,
            ),
            bootstrap_admin_npubs: raw.bootstrap_admin_npubs,
            public_url: raw.http.public_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_root_derivation_follows_the_contract() {
        assert_eq!(
            pikaci_state_root("sledtools/pika", Utf8Path::new("/srv/git/pika.git")),
            "/srv/git/pikaci-state/sledtools-pika"
        );
        assert_eq!(
            pikaci_state_root("a.b c_d-e", Utf8Path::new("/x/r.git")),
            "/x/pikaci-state/a-b-c_d-e"
        );
        assert_eq!(
            pikaci_state_root("r", Utf8Path::new("repo.git")),
            "./pikaci-state/r"
        );
    }

    #[test]
    fn defaults_and_relative_paths() {
        let c = Config::parse(
            "[forge_repo]\nrepo = \"sledtools/pika\"\ncanonical_git_dir = \"git/pika.git\"\n",
            Utf8Path::new("pika-news.toml"),
            Utf8Path::new("/etc/pika"),
        )
        .unwrap();
        assert_eq!(
            (c.bind_address.as_str(), c.bind_port, c.public_read),
            ("127.0.0.1", 8787, false)
        );
        assert_eq!(c.database, "/etc/pika/pika-news.sqlite");
        assert_eq!(c.forge_repo.canonical_git_dir, "/etc/pika/git/pika.git");
        assert_eq!(
            c.forge_repo.pikaci_state_root,
            "/etc/pika/git/pikaci-state/sledtools-pika"
        );
        assert_eq!(c.forge_repo.default_branch, "master");
        assert_eq!(c.forge_repo.lanes_manifest, None);
        let c = Config::parse(
            "[forge_repo]\nrepo = \"r\"\ncanonical_git_dir = \"g\"\nlanes_manifest = \"pika-lanes.toml\"\n",
            Utf8Path::new("pika-news.toml"),
            Utf8Path::new("/etc/pika"),
        )
        .unwrap();
        assert_eq!(
            c.forge_repo.lanes_manifest.as_deref(),
            Some(Utf8Path::new("/etc/pika/pika-lanes.toml"))
        );
    }

    #[test]
    fn paths_from_a_configuration_named_with_dots_carry_no_dot_components() {
        let c = Config::parse(
            "[forge_repo]\nrepo = \"r\"\ncanonical_git_dir = \"./g\"\nlanes_manifest = \"./ci/./lanes.toml\"\n",
            Utf8Path::new("./pika-news.toml"),
            Utf8Path::new("/etc/pika/."),
        )
        .unwrap();
        assert_eq!(c.forge_repo.canonical_git_dir, "/etc/pika/g");
        assert_eq!(
            c.forge_repo.lanes_manifest.as_deref(),
            Some(Utf8Path::new("/etc/pika/ci/lanes.toml"))
        );
    }

    #[test]
    fn an_https_public_url_makes_the_cookie_secure_and_a_bad_one_is_refused() {
        let parse = |http: &str| {
            Config::parse(
                &format!(
                    "[forge_repo]\nrepo = \"r\"\ncanonical_git_dir = \"/g\"\n[http]\n{http}\n"
                ),
                Utf8Path::new("pn.toml"),
                Utf8Path::new("/etc"),
            )
        };
        let c = parse("public_url = \"https://ci.example.org/\"").unwrap();
        assert!(c.public_url.as_ref().is_some_and(PublicUrl::is_https));
        let c = parse("public_url = \"http://127.0.0.1:8787\"").unwrap();
        assert!(!c.public_url.unwrap().is_https());
        assert_eq!(parse("").unwrap().public_url, None);
        for bad in ["ci.example.org", "https://", "ftp://x"] {
            let msg = parse(&format!("public_url = \"{bad}\""))
                .unwrap_err()
                .to_string();
            assert!(
                msg.starts_with("pn.toml:5:") && msg.contains("public_url"),
                "{msg}"
            );
        }
    }

    #[test]
    fn a_commit_url_names_where_a_commit_is_and_a_bad_one_is_refused() {
        let parse = |line: &str| {
            Config::parse(
                &format!("[forge_repo]\nrepo = \"r\"\ncanonical_git_dir = \"/g\"\n{line}\n"),
                Utf8Path::new("pn.toml"),
                Utf8Path::new("/etc"),
            )
        };
        let c = parse("commit_url = \"https://example.org/r/commit/{sha}?x=1\"").unwrap();
        assert_eq!(
            c.forge_repo.commit_url.unwrap().for_commit("abc"),
            "https://example.org/r/commit/abc?x=1"
        );
        assert_eq!(parse("").unwrap().forge_repo.commit_url, None);
        for bad in ["https://example.org/commit/", "javascript:alert(1)//{sha}"] {
            let msg = parse(&format!("commit_url = \"{bad}\""))
                .unwrap_err()
                .to_string();
            assert!(
                msg.starts_with("pn.toml:4:") && msg.contains("commit_url"),
                "{msg}"
            );
        }
    }

    #[test]
    fn dot_segments_are_dropped() {
        let c = Config::parse(
            "database = \"./db/news.sqlite\"\n[forge_repo]\nrepo = \"r\"\ncanonical_git_dir = \"./git/r.git\"\n",
            Utf8Path::new("pika-news.toml"),
            Utf8Path::new("/srv/./pika"),
        )
        .unwrap();
        assert_eq!(c.database, "/srv/pika/db/news.sqlite");
        assert_eq!(
            c.forge_repo.pikaci_state_root,
            "/srv/pika/git/pikaci-state/r"
        );
    }

    #[test]
    fn lanes_take_a_uid_range_a_group_and_a_path() {
        let base = "[forge_repo]\nrepo = \"r\"\ncanonical_git_dir = \"/g\"\n[lanes]\n";
        let c = Config::parse(
            &format!(
                "{base}uid_range = \"200000-200999\"\ngid = 5000\npath = \"/opt/ci/bin:/usr/bin\"\n"
            ),
            Utf8Path::new("pn.toml"),
            Utf8Path::new("/"),
        )
        .unwrap();
        assert_eq!(
            c.lanes.uid_range,
            Some(UidRange::new(200000, 200999).unwrap())
        );
        assert_eq!(c.lanes.lane_gid, Some(5000));
        assert_eq!(c.lanes.lane_path.as_deref(), Some("/opt/ci/bin:/usr/bin"));
        let err = Config::parse(
            &format!("{base}uid_range = \"5-3\"\n"),
            Utf8Path::new("pn.toml"),
            Utf8Path::new("/"),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("pn.toml:5:") && err.to_string().contains("200000-200999"),
            "{err}"
        );
        // Both ways of choosing the lanes' user: refused when the service starts.
        let c = Config::parse(
            &format!("{base}uid_range = \"200000-200999\"\nrun_as_user = \"pika-lane\"\n"),
            Utf8Path::new("pn.toml"),
            Utf8Path::new("/"),
        )
        .unwrap();
        let err = crate::sandbox::LaneAccounts::from_settings(&c.lanes).unwrap_err();
        assert!(err.to_string().contains("keep one"), "{err}");
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let err = Config::parse(
            "bind_port = 1\npublic_reed = true\n[forge_repo]\nrepo = \"r\"\ncanonical_git_dir = \"/g\"\n",
            Utf8Path::new("pn.toml"),
            Utf8Path::new("/"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("pn.toml:2:") && msg.contains("public_reed"),
            "{msg}"
        );
        let err = Config::parse(
            "bind_port = \"x\"\n",
            Utf8Path::new("pn.toml"),
            Utf8Path::new("/"),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("pn.toml:1:"), "{err}");
    }
}
