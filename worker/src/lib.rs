//! `webedt-worker`: the coding agent. A stateless service that, per run, clones the session's
//! repository into a fresh directory, lets a model read and change it through confined tools,
//! commits after each turn that changed files, pushes the `webedt/…` working branch and reports
//! the changes. The API talks to it over HTTP (the worker protocol), or embeds it in local mode.

pub mod git;
pub mod llm;
pub mod metrics;
pub mod paths;
pub mod protocol;
pub mod sandbox;
pub mod server;
pub mod tools;
pub mod worker;
pub mod workspace;

pub use protocol::{ExecuteRequest, WorkerEvent};
pub use worker::{ProviderDefaults, RunHandle, StartError, Worker};

/// Makes this process the reaper of orphaned descendants (`PR_SET_CHILD_SUBREAPER`): a
/// command's processes whose parent exits are re-parented here, not to init, so the worker
/// reaps them after killing their process group. Called by the binary; an embedding process
/// (the API in local mode) may leave it off, init then reaps them.
pub fn become_subreaper() -> bool {
    // SAFETY: a plain prctl on the calling process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}
