//! Incus settings: `[incus]` from `pikaci.toml`, then environment overrides,
//! then defaults, resolved once into typed [`IncusSettings`].

mod model;
mod resolve;

pub(crate) use model::env_var;
pub use model::{
    DEFAULT_COMMAND_TIMEOUT, DEFAULT_CPU, DEFAULT_IMAGE_ALIAS, DEFAULT_INSTANCE_PREFIX,
    DEFAULT_MEMORY, DEFAULT_PROFILE, DEFAULT_PROJECT, DEFAULT_READINESS_TIMEOUT,
    DEFAULT_STORAGE_POOL, ENV_PREFIX, IncusSettings, IncusSettingsBuilder, MAX_PREFIX_LEN,
    Transfer,
};
