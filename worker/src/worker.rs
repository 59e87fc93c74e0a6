//! The worker: accepts runs, executes each in its own task and directory, streams its events.
//! Nothing outlives a run but its pushed commits: the only in-memory state is the table of
//! runs executing now (for `/interrupt`) and metrics.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;
use webedt_contract::worker::WorkerConfig;

use crate::git::remove_dir;
use crate::llm::{self, Client, Message, Request, ToolResult};
use crate::metrics::Metrics;
use crate::protocol::{ExecuteRequest, ProviderKind, ProviderSpec, Secret, Usage, WorkerEvent};
use crate::sandbox::Confinement;
use crate::tools::{CommandRunner, EVENT_RESULT_MAX, Tools, cap};
use crate::workspace::{self, Repo, RunDir};

const SYSTEM_PROMPT: &str = "You are WebEDT's coding agent. You work in a git checkout of the \
user's repository through the tools you are given; paths are relative to the repository root. \
Read before you edit, make focused changes, and say briefly what you changed when you are done. \
Your changes are committed and pushed for you after each turn; do not try to run git commit or push.";
const MAX_ANSWER_TOKENS: u32 = 8192;

/// The worker's own provider settings, used when a run names no key or URL.
#[derive(Debug, Clone, Default)]
pub struct ProviderDefaults {
    pub anthropic_key: Option<Secret>,
    pub anthropic_base_url: Option<String>,
    pub anthropic_model: Option<String>,
    pub openai_key: Option<Secret>,
    pub openai_base_url: Option<String>,
    pub openai_model: Option<String>,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    /// Pause between the demo's words (0 in tests).
    pub demo_delay: Duration,
}

impl ProviderDefaults {
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let ms = |k: &str, d: u64| get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        Self {
            anthropic_key: get("ANTHROPIC_API_KEY").map(Secret::new),
            anthropic_base_url: get("ANTHROPIC_BASE_URL"),
            anthropic_model: get("ANTHROPIC_MODEL"),
            openai_key: get("OPENAI_API_KEY").map(Secret::new),
            openai_base_url: get("OPENAI_BASE_URL"),
            openai_model: get("OPENAI_MODEL"),
            connect_timeout: Duration::from_millis(ms("PROVIDER_CONNECT_TIMEOUT_MS", 10_000)),
            idle_timeout: Duration::from_millis(ms("PROVIDER_IDLE_TIMEOUT_MS", 120_000)),
            demo_delay: Duration::from_millis(20),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("this worker is running its maximum of {0} runs; try again shortly")]
    Busy(usize),
    #[error("this worker is shutting down")]
    ShuttingDown,
}

/// A started run: its events, in order, ending with `result` or `error`. Dropping it (a closed
/// connection) interrupts the run.
pub struct RunHandle {
    pub events: mpsc::Receiver<WorkerEvent>,
    _guard: DropGuard,
}

#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    config: WorkerConfig,
    root: PathBuf,
    confinement: Confinement,
    providers: ProviderDefaults,
    http: llm::Http,
    runs: Mutex<HashMap<u64, (String, CancellationToken)>>,
    next_id: std::sync::atomic::AtomicU64,
    tracker: TaskTracker,
    draining: AtomicBool,
    pub metrics: Metrics,
    /// The SSRF guard for git remotes (OUTBOUND_ALLOWED_HOSTS).
    outbound: webedt_providers::outbound::Outbound,
}

impl Worker {
    /// Creates the workspace root and removes what a crashed predecessor left in it.
    pub fn new(config: WorkerConfig, providers: ProviderDefaults) -> std::io::Result<Self> {
        let root = PathBuf::from(&config.workspace_root);
        std::fs::create_dir_all(&root)?;
        let root = root.canonicalize()?;
        for entry in std::fs::read_dir(&root)?.flatten() {
            tracing::info!(path = %entry.path().display(), "removing a leftover run directory");
            remove_dir(&entry.path());
        }
        let confinement = Confinement::detect();
        tracing::info!(
            ?confinement,
            commands = config.allow_commands,
            "worker ready"
        );
        let http = llm::http(providers.connect_timeout, providers.idle_timeout);
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                confinement,
                providers,
                http,
                runs: Mutex::new(HashMap::new()),
                next_id: Default::default(),
                tracker: TaskTracker::new(),
                draining: AtomicBool::new(false),
                metrics: Metrics::new(),
                outbound: webedt_providers::outbound::Outbound::new(&config.outbound_allowed_hosts),
                config,
            }),
        })
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn confinement(&self) -> Confinement {
        self.inner.confinement
    }

    /// Commands are offered when enabled and either confined or explicitly allowed unconfined.
    pub fn commands_enabled(&self) -> bool {
        let c = &self.inner.config;
        c.allow_commands && (self.inner.confinement.complete() || c.allow_unconfined)
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    pub fn health(&self) -> Value {
        let c = self.inner.confinement;
        let cfg = &self.inner.config;
        json!({
            "status": if self.is_draining() { "draining" } else { "ok" },
            "version": env!("CARGO_PKG_VERSION"),
            "runs": self.inner.runs.lock().expect("runs lock").len(),
            "maxRuns": cfg.max_runs,
            "confinement": {
                "landlock": c.landlock,
                "landlockAbi": c.landlock_abi,
                "seccomp": c.seccomp,
                "commands": if !cfg.allow_commands { "disabled" }
                    else if c.complete() { "confined" }
                    else if cfg.allow_unconfined { "unconfined" }
                    else { "refused: confinement unavailable" },
                "network": cfg.allow_network,
            },
            "gitProtocols": cfg.git_protocols,
        })
    }

    /// Best effort: stops this worker's run of that chat session, if it has one.
    pub fn interrupt(&self, chat_session_id: &str) -> bool {
        let runs = self.inner.runs.lock().expect("runs lock");
        let mut found = false;
        for (session, token) in runs.values() {
            if session == chat_session_id {
                token.cancel();
                found = true;
            }
        }
        found
    }

    /// Stops accepting runs, waits up to `timeout` for them, then interrupts the rest.
    pub async fn shutdown(&self, timeout: Duration) {
        self.inner.draining.store(true, Ordering::SeqCst);
        self.inner.tracker.close();
        if tokio::time::timeout(timeout, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown: interrupting runs still in progress");
            for (_, token) in self.inner.runs.lock().expect("runs lock").values() {
                token.cancel();
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), self.inner.tracker.wait()).await;
        }
    }

    pub fn start(&self, request: ExecuteRequest) -> Result<RunHandle, StartError> {
        if self.is_draining() {
            return Err(StartError::ShuttingDown);
        }
        let cancel = CancellationToken::new();
        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        {
            let mut runs = self.inner.runs.lock().expect("runs lock");
            if runs.len() >= self.inner.config.max_runs {
                return Err(StartError::Busy(self.inner.config.max_runs));
            }
            runs.insert(id, (request.chat_session_id.clone(), cancel.clone()));
        }
        let (tx, rx) = mpsc::channel(256);
        let inner = self.inner.clone();
        let token = cancel.clone();
        self.inner.metrics.active.inc();
        self.inner.tracker.spawn(async move {
            let started = Instant::now();
            let outcome = execute(&inner, request, &token, &tx).await;
            let label = match &outcome {
                Ok(()) => "completed",
                Err(_) if token.is_cancelled() => "interrupted",
                Err(_) => "failed",
            };
            if let Err(message) = outcome {
                tracing::info!(outcome = label, %message, "run ended");
                let _ = tx.send(WorkerEvent::error(message)).await;
            }
            inner.metrics.runs.with_label_values(&[label]).inc();
            inner
                .metrics
                .run_seconds
                .with_label_values(&[label])
                .observe(started.elapsed().as_secs_f64());
            inner.metrics.active.dec();
            inner.runs.lock().expect("runs lock").remove(&id);
        });
        Ok(RunHandle {
            events: rx,
            _guard: cancel.drop_guard(),
        })
    }
}

fn client(
    inner: &Inner,
    http: llm::Http,
    spec: Option<&ProviderSpec>,
    legacy_model: Option<&str>,
) -> Result<(Client, String), String> {
    let p = &inner.providers;
    let kind = match spec {
        Some(s) => s.kind,
        None if p.anthropic_key.is_some() => ProviderKind::Anthropic,
        None if p.openai_base_url.is_some() || p.openai_key.is_some() => ProviderKind::Openai,
        None => ProviderKind::Demo,
    };
    let model = spec.and_then(|s| s.model.clone()).or_else(|| {
        legacy_model
            .filter(|m| !m.is_empty() && *m != "worker")
            .map(str::to_string)
    });
    let key = spec.and_then(|s| s.api_key.clone());
    let base = spec.and_then(|s| s.base_url.clone());
    Ok(match kind {
        ProviderKind::Demo => (
            Client::Demo(llm::demo::Demo {
                delay: p.demo_delay,
            }),
            "demo".into(),
        ),
        ProviderKind::Anthropic => (
            Client::Anthropic {
                http,
                key: key.or_else(|| p.anthropic_key.clone()).ok_or(
                    "Anthropic needs an API key: the run brought none and the worker has no ANTHROPIC_API_KEY",
                )?,
                base_url: base
                    .or_else(|| p.anthropic_base_url.clone())
                    .unwrap_or_else(|| "https://api.anthropic.com".into()),
            },
            model
                .or_else(|| p.anthropic_model.clone())
                .unwrap_or_else(|| "claude-sonnet-4-5".into()),
        ),
        ProviderKind::Openai => (
            Client::OpenAi {
                http,
                key: key.or_else(|| p.openai_key.clone()),
                base_url: base
                    .or_else(|| p.openai_base_url.clone())
                    .unwrap_or_else(|| "https://api.openai.com/v1".into()),
            },
            model
                .or_else(|| p.openai_model.clone())
                .unwrap_or_else(|| "gpt-4o-mini".into()),
        ),
    })
}

/// The conversation before this run: alternating turns starting with the user, then the prompt.
fn conversation(request: &ExecuteRequest) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    let turns = request
        .history
        .iter()
        .map(|t| (t.role == "assistant", t.content.as_str()))
        .chain(std::iter::once((false, request.prompt.as_str())));
    for (assistant, text) in turns {
        if text.trim().is_empty() || (out.is_empty() && assistant) {
            continue;
        }
        match (out.last_mut(), assistant) {
            (Some(Message::User(t)), false) | (Some(Message::Assistant { text: t, .. }), true) => {
                t.push_str("\n\n");
                t.push_str(text);
            }
            (_, false) => out.push(Message::User(text.into())),
            (_, true) => out.push(Message::Assistant {
                text: text.into(),
                calls: vec![],
            }),
        }
    }
    out
}

/// Elides the oldest tool results until the conversation fits `max` characters.
fn trim(messages: &mut [Message], max: usize) {
    let mut total: usize = messages.iter().map(Message::chars).sum();
    for m in messages.iter_mut() {
        if total <= max {
            return;
        }
        if let Message::ToolResults(results) = m {
            for r in results {
                let before = r.content.len();
                if before > 100 {
                    r.content =
                        "[output elided to fit the context; call the tool again if needed]".into();
                    total -= before - r.content.len();
                }
            }
        }
    }
}

fn commit_message(prompt: &str, turn: u32) -> String {
    let first = prompt
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("Changes");
    let mut summary: String = first.trim().chars().take(72).collect();
    if first.trim().chars().count() > 72 {
        summary.truncate(summary.len() - summary.chars().last().map_or(0, char::len_utf8));
        summary.push('…');
    }
    format!("{summary}\n\nMade by the WebEDT coding agent (turn {turn}).\n")
}

async fn execute(
    inner: &Inner,
    request: ExecuteRequest,
    cancel: &CancellationToken,
    tx: &mpsc::Sender<WorkerEvent>,
) -> Result<(), String> {
    let started = Instant::now();
    let cfg = &inner.config;
    // A base URL in the request is the user's own provider (the worker's configured ones come
    // from its environment): a host a user named, so it goes through the SSRF guard.
    let http = match request
        .provider
        .as_ref()
        .and_then(|p| p.base_url.as_deref())
    {
        Some(base) => {
            llm::http_for_user_base_url(
                &inner.outbound,
                base,
                inner.providers.connect_timeout,
                inner.providers.idle_timeout,
            )
            .await?
        }
        None => inner.http.clone(),
    };
    let (client, model) = client(
        inner,
        http,
        request.provider.as_ref(),
        request.model.as_deref(),
    )?;
    if let Some(spec) = &request.workspace {
        workspace::validate(spec, &cfg.git_protocols).await?;
    }
    // The deadline interrupts like a closed connection does, remembering why.
    let timed_out = Arc::new(AtomicBool::new(false));
    let stop = cancel.child_token();
    let timer = {
        let (stop, timed_out) = (stop.clone(), timed_out.clone());
        let limit = Duration::from_secs(cfg.max_run_seconds);
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            timed_out.store(true, Ordering::SeqCst);
            stop.cancel();
        })
    };
    let run_id = format!("run-{}", uuid::Uuid::new_v4().simple());
    let dir = RunDir::create(&inner.root, &run_id)
        .map_err(|e| format!("could not create the run directory: {e}"))?;
    let result = execute_in(inner, &request, &client, &model, &dir, &stop, tx).await;
    timer.abort();
    remove_dir(&dir.root);
    match result {
        Ok(usage) => {
            let _ = tx
                .send(WorkerEvent::Result {
                    usage: usage.0,
                    cost_usd: None,
                    turns: usage.1,
                    duration_ms: started.elapsed().as_millis() as u64,
                })
                .await;
            Ok(())
        }
        Err(_) if timed_out.load(Ordering::SeqCst) => Err(format!(
            "the run reached its time limit of {} s (WORKER_MAX_RUN_SECONDS) and was stopped",
            cfg.max_run_seconds
        )),
        Err(e) => Err(e),
    }
}

async fn execute_in(
    inner: &Inner,
    request: &ExecuteRequest,
    client: &Client,
    model: &str,
    dir: &RunDir,
    stop: &CancellationToken,
    tx: &mpsc::Sender<WorkerEvent>,
) -> Result<(Usage, u32), String> {
    let cfg = &inner.config;
    let interrupted = || "the run was interrupted".to_string();
    let mut repo: Option<Repo> = match &request.workspace {
        None => None,
        Some(spec) => Some(tokio::select! {
            r = workspace::prepare(dir, spec, &cfg.git_protocols, &inner.outbound) => r?,
            _ = stop.cancelled() => return Err(interrupted()),
        }),
    };
    let work = match &repo {
        Some(_) => dir
            .work
            .canonicalize()
            .map_err(|e| format!("the checkout is missing: {e}"))?,
        None => dir.work.clone(),
    };
    let tools = repo.as_ref().map(|r| Tools {
        work: work.clone(),
        git: Some(r.git.clone()),
        commands: (cfg.allow_commands && (inner.confinement.complete() || cfg.allow_unconfined))
            .then(|| CommandRunner {
                confinement: inner.confinement,
                workspace_root: inner.root.clone(),
                work: work.clone(),
                home: dir.home.clone(),
                tmp: dir.tmp.clone(),
                git_dir: dir.git_dir.clone(),
                allow_network: cfg.allow_network,
                timeout: Duration::from_millis(cfg.command_timeout_ms),
            }),
    });
    let specs = tools.as_ref().map(|t| t.specs()).unwrap_or_default();
    let mut messages = conversation(request);
    let mut usage = Usage::default();
    let mut turn = 0;
    let outcome: Result<(), String> = async {
        loop {
            if turn >= cfg.max_turns {
                return Err(format!(
                    "the run reached its limit of {} turns (WORKER_MAX_TURNS) and was stopped",
                    cfg.max_turns
                ));
            }
            if usage.input_tokens + usage.output_tokens >= cfg.max_tokens {
                return Err(format!(
                    "the run used its budget of {} tokens (WORKER_MAX_TOKENS) and was stopped",
                    cfg.max_tokens
                ));
            }
            turn += 1;
            trim(&mut messages, cfg.context_max_chars);
            let req = Request {
                model,
                system: Some(SYSTEM_PROMPT),
                messages: &messages,
                tools: &specs,
                max_tokens: Some(MAX_ANSWER_TOKENS),
            };
            let reply = tokio::select! {
                r = client.complete(&req, tx) => r?,
                _ = stop.cancelled() => return Err(interrupted()),
            };
            usage.input_tokens += reply.usage.input_tokens;
            usage.output_tokens += reply.usage.output_tokens;
            let calls = reply.calls.clone();
            messages.push(Message::Assistant {
                text: reply.text,
                calls: reply.calls,
            });
            if calls.is_empty() {
                return Ok(());
            }
            let Some(tools) = &tools else {
                return Err("the model called a tool, but this run has no repository".into());
            };
            let mut results = Vec::with_capacity(calls.len());
            for call in &calls {
                let _ = tx
                    .send(WorkerEvent::ToolUse {
                        id: call.id.clone(),
                        name: call.name.clone(),
                        input: call
                            .input
                            .clone()
                            .unwrap_or_else(|raw| Value::String(cap(&raw, EVENT_RESULT_MAX))),
                    })
                    .await;
                let outcome = tools.call(&call.name, call.input.as_ref().map_err(String::as_str), stop).await;
                if stop.is_cancelled() {
                    return Err(interrupted());
                }
                let known = specs.iter().any(|s| s.name == call.name);
                inner
                    .metrics
                    .tool_calls
                    .with_label_values(&[
                        if known { call.name.as_str() } else { "unknown" },
                        if outcome.is_error { "error" } else { "ok" },
                    ])
                    .inc();
                let _ = tx
                    .send(WorkerEvent::ToolResult {
                        tool_use_id: call.id.clone(),
                        content: cap(&outcome.content, EVENT_RESULT_MAX),
                        is_error: outcome.is_error,
                    })
                    .await;
                results.push(ToolResult {
                    id: call.id.clone(),
                    content: outcome.content,
                    is_error: outcome.is_error,
                });
            }
            messages.push(Message::ToolResults(results));
            if let Some(repo) = &mut repo {
                commit_and_push(repo, &request.prompt, turn, tx).await?;
                let used = workspace::disk_usage(&dir.root);
                if used > cfg.disk_max_bytes {
                    return Err(format!(
                        "the run uses {used} bytes of disk, over its limit of {} (WORKER_DISK_MAX_BYTES)",
                        cfg.disk_max_bytes
                    ));
                }
            }
        }
    }
    .await;
    if let Some(repo) = &mut repo {
        // The last report, also after a failure: what was pushed stays the session's state.
        if !stop.is_cancelled() && outcome.is_ok() {
            commit_and_push(repo, &request.prompt, turn, tx).await?;
        }
        if let Ok(c) = report(repo).await {
            let _ = tx.send(WorkerEvent::Changes(c)).await;
        }
    }
    outcome.map(|()| (usage, turn))
}

async fn report(repo: &Repo) -> Result<crate::protocol::Changes, String> {
    repo.git
        .changes(
            &repo.base_commit,
            &repo.spec.working_branch,
            &repo.spec.base_branch,
            repo.pushed_head.clone(),
        )
        .await
        .map_err(|e| e.0)
}

/// Commits what the turn changed and pushes it, then reports the branch (so the session
/// learns each pushed head even if the run is stopped later).
async fn commit_and_push(
    repo: &mut Repo,
    prompt: &str,
    turn: u32,
    tx: &mpsc::Sender<WorkerEvent>,
) -> Result<(), String> {
    let msg = commit_message(prompt, turn);
    let Some(sha) = repo
        .git
        .commit_all(&repo.spec.author, &msg)
        .await
        .map_err(|e| e.0)?
    else {
        return Ok(());
    };
    repo.git
        .push(&repo.spec.working_branch)
        .await
        .map_err(|e| e.0)?;
    tracing::info!(branch = %repo.spec.working_branch, commit = %sha, "pushed");
    repo.pushed_head = Some(sha);
    if let Ok(c) = report(repo).await {
        let _ = tx.send(WorkerEvent::Changes(c)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::HistoryTurn;

    #[test]
    fn conversation_alternates_and_ends_with_the_prompt() {
        let r = ExecuteRequest {
            kind: None,
            chat_session_id: "s".into(),
            prompt: "third".into(),
            history: vec![
                HistoryTurn {
                    role: "assistant".into(),
                    content: "cut".into(),
                },
                HistoryTurn {
                    role: "user".into(),
                    content: "first".into(),
                },
                HistoryTurn {
                    role: "user".into(),
                    content: "second".into(),
                },
                HistoryTurn {
                    role: "assistant".into(),
                    content: "answer".into(),
                },
            ],
            model: None,
            workspace: None,
            provider: None,
        };
        assert_eq!(
            conversation(&r),
            vec![
                Message::User("first\n\nsecond".into()),
                Message::Assistant {
                    text: "answer".into(),
                    calls: vec![]
                },
                Message::User("third".into()),
            ]
        );
        assert!(
            commit_message(&"x".repeat(100), 2)
                .starts_with(&format!("{}…\n\nMade", "x".repeat(71)))
        );
    }
}
