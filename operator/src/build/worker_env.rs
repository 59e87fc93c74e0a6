//! The worker container's environment, from `webedt_contract::worker` (its own variables) and
//! the provider variables the worker reads as defaults, filled from the same Secrets and spec
//! fields as the API's. Complete like the API's: every variable the operator decides is
//! written, even at its default.

use super::env::{OPENAI_DEFAULT_BASE_URL, secret, value};
use crate::validate::ValidatedWebEDT;
use crate::worker::{ValidatedWorker, WORKER_PORT};
use k8s_openapi::api::core::v1::EnvVar;
use webedt_contract::names;
use webedt_contract::worker as contract;

/// Where the workspace emptyDir is mounted; also the worker process's HOME.
pub const WORKSPACE_DIR: &str = "/workspace";
/// One directory per run (checkout, git directory, the run's own HOME and TMPDIR).
pub const RUNS_DIR: &str = "/workspace/runs";
/// The process's TMPDIR: a subPath of the same volume, so it counts against the same limit.
pub const TMP_DIR: &str = "/tmp";
/// How long runs may finish after SIGTERM; the pod's grace period is this plus a margin.
pub const SHUTDOWN_TIMEOUT_MS: u64 = 30_000;

pub fn worker_env(v: &ValidatedWebEDT, w: &ValidatedWorker) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = v
        .worker_secret_keys()
        .iter()
        .filter(|s| s.var == contract::WORKER_SECRET)
        .map(|s| secret(s.var, &s.key))
        .collect();
    env.extend([
        value(contract::WORKER_HOST, "0.0.0.0"),
        value(contract::WORKER_PORT, WORKER_PORT.to_string()),
        value(contract::WORKER_WORKSPACE_ROOT, RUNS_DIR),
        value(contract::WORKER_MAX_RUNS, w.max_runs.to_string()),
        value(
            contract::WORKER_DISK_MAX_BYTES,
            w.disk_per_run_bytes.to_string(),
        ),
        value(
            contract::WORKER_ALLOW_COMMANDS,
            w.allow_commands.to_string(),
        ),
        value(
            contract::WORKER_ALLOW_UNCONFINED,
            w.allow_unconfined.to_string(),
        ),
        value(contract::WORKER_ALLOW_NETWORK, w.allow_network.to_string()),
        value(
            contract::WORKER_SHUTDOWN_TIMEOUT_MS,
            SHUTDOWN_TIMEOUT_MS.to_string(),
        ),
        // The root filesystem is read-only: everything the process or git writes goes to the
        // size-limited workspace.
        value("HOME", WORKSPACE_DIR),
        value("TMPDIR", TMP_DIR),
    ]);
    env.extend(provider_env(v));
    env.extend(w.env.iter().cloned());
    env
}

/// The provider defaults a run without its own key uses: keys from the API's Secrets, URLs,
/// models and timeouts as the API gets them.
fn provider_env(v: &ValidatedWebEDT) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = v
        .worker_secret_keys()
        .iter()
        .filter(|s| s.var != contract::WORKER_SECRET)
        .map(|s| secret(s.var, &s.key))
        .collect();
    let p = &v.spec.providers;
    if let Some(a) = &p.anthropic {
        env.extend(
            a.base_url
                .as_ref()
                .map(|u| value(names::ANTHROPIC_BASE_URL, u.clone())),
        );
        env.extend(
            a.model
                .as_ref()
                .map(|m| value(names::ANTHROPIC_MODEL, m.clone())),
        );
    }
    if let Some(o) = &p.openai {
        let url = o.base_url.as_deref().unwrap_or(OPENAI_DEFAULT_BASE_URL);
        env.push(value(names::OPENAI_BASE_URL, url));
        env.extend(
            o.model
                .as_ref()
                .map(|m| value(names::OPENAI_MODEL, m.clone())),
        );
    }
    env.extend(
        v.provider_limits
            .to_env()
            .into_iter()
            .filter(|(k, _)| {
                [
                    names::PROVIDER_CONNECT_TIMEOUT_MS,
                    names::PROVIDER_IDLE_TIMEOUT_MS,
                ]
                .contains(k)
            })
            .map(|(k, val)| value(k, val)),
    );
    env
}
