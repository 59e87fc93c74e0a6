//! The environment-variable contract of `webedt-api`.
//!
//! The operator *writes* these variables into every API pod and the API *reads* them at start.
//! Both sides use this crate, so a name, a default or a validation rule exists exactly once:
//! the operator renders typed settings with `to_env()`, the API parses them back with
//! `from_env()`, and a round-trip test keeps the two directions honest.
//!
//! Every rule failure is a [`ConfigError`] that names the variable, because the API prints it as
//! its one-line startup error and exits with code 2.

pub mod database;
mod error;
mod images;
mod limits;
mod lookup;
pub mod names;
mod scale;
mod settings;
mod shares;
mod vars;
pub mod worker;

pub use database::{DatabaseTls, SSL_MODES};
pub use error::ConfigError;
pub use images::ImageSettings;
pub use limits::LimitSettings;
pub use lookup::Lookup;
pub use scale::{PoolerMode, ScaleSettings};
pub use settings::{
    AnthropicSettings, AuthSettings, DemoSettings, GithubOAuth, GithubSettings, HttpSettings,
    LogFormat, MIN_SESSION_SECRET_BYTES, OpenAiSettings, OrphanSettings, PROVIDER_IDS,
    PoolSettings, ProviderLimits, ProviderSettings, Secret, Settings, ShutdownSettings,
    WorkerSettings,
};
pub use shares::ShareSettings;
pub use vars::{VARS, VarDoc};
