//! The SSRF guard for requests to hosts users name. It lives in the providers crate because the
//! worker needs the very same rules for the git remotes and model base URLs it reaches.

pub use webedt_providers::outbound::*;
