//! The self-hosted worker protocol of the original WebEDT.
//!
//! `POST {AI_WORKER_URL}/execute` with `{type: "execute"|"resume", chatSessionId, prompt,
//! history: [{role, content}], model}` and `Authorization: Bearer {AI_WORKER_SECRET}`, answered
//! with SSE. A coding run adds `workspace: {repositoryUrl, baseBranch, workingBranch,
//! expectedHead, author: {name, email}}` and `provider: {kind, model}` (`webedt-worker`'s
//! protocol). An event's type is its `event:` field, else its data's `type`:
//! `assistant_message`/`text` (`text`, `content`, or Claude-style `message.content[]` blocks),
//! `tool_use` (`id`, `name`, `input`), `tool_result` (`toolUseId`, `content`, `isError`),
//! `changes` (the coding worker's report: `branch`, `baseBranch`, `baseCommit`, `headCommit`,
//! `files`, `diff`, `truncated`), `result`/`completed` (the end: `costUsd`/`total_cost_usd`,
//! `usage`), `error` (`message`); anything else is ignored. A run stopped before the worker finished is also stopped on the
//! worker with `POST /interrupt {chatSessionId}`.

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use webedt_contract::WorkerSettings;
use webedt_contract::names::AI_WORKER_SECRET;

use super::http::{Emit, Http, Target, secret_header, task_stream, truncated};
use super::{Changes, Provider, ProviderError, ProviderEvent, ProviderStream, RunRequest};

const LABEL: &str = "The AI worker";
const INTERRUPT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Worker {
    http: Http,
    settings: WorkerSettings,
}

impl Worker {
    pub fn new(http: Http, settings: WorkerSettings) -> Self {
        Self { http, settings }
    }
}

impl Provider for Worker {
    fn id(&self) -> &'static str {
        "worker"
    }

    fn label(&self) -> String {
        "Self-hosted AI worker".into()
    }

    fn models(&self) -> Vec<String> {
        vec!["worker".into()]
    }

    fn start(&self, request: RunRequest) -> ProviderStream {
        let http = self.http.clone();
        let settings = self.settings.clone();
        let session = request.session;
        // True from the moment the worker may be executing until it said it finished.
        let running = Arc::new(AtomicBool::new(false));
        let on_drop = {
            let (http, settings, running) = (http.clone(), settings.clone(), running.clone());
            Box::new(move || {
                if running.load(Ordering::SeqCst) {
                    interrupt(http, settings, session);
                }
            })
        };
        task_stream(
            move |emit| run(http, settings, request, running, emit),
            Some(on_drop),
        )
    }
}

fn auth(settings: &WorkerSettings) -> Result<Option<reqwest::header::HeaderValue>, ProviderError> {
    settings
        .secret
        .as_ref()
        .map(|s| secret_header(s.expose(), AI_WORKER_SECRET, "Bearer "))
        .transpose()
}

/// Best effort, in the background: the run has already ended here.
fn interrupt(http: Http, settings: WorkerSettings, session: uuid::Uuid) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut request = http
            .client()
            .post(format!("{}/interrupt", settings.url))
            .timeout(INTERRUPT_TIMEOUT)
            .json(&json!({ "chatSessionId": session }));
        if let Ok(Some(a)) = auth(&settings) {
            request = request.header("authorization", a);
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {
                tracing::info!(%session, "asked the AI worker to stop the run")
            }
            Ok(r) => {
                tracing::warn!(%session, status = r.status().as_u16(), "the AI worker refused to stop the run")
            }
            Err(e) => {
                tracing::warn!(%session, error = %e.without_url(), "could not ask the AI worker to stop the run")
            }
        }
    });
}

async fn run(
    http: Http,
    settings: WorkerSettings,
    request: RunRequest,
    running: Arc<AtomicBool>,
    emit: Emit,
) -> Result<(), ProviderError> {
    let auth = auth(&settings)?;
    let history: Vec<Value> = request
        .history
        .iter()
        .filter(|t| !t.text.trim().is_empty())
        .map(|t| json!({ "role": t.role.as_str(), "content": t.text }))
        .collect();
    let body = execute_body(&request, history);
    let url = format!("{}/execute", settings.url);
    let target = Target {
        label: LABEL,
        credential_var: AI_WORKER_SECRET,
        secret: settings.secret.as_ref().map(|s| s.expose().to_string()),
    };
    running.store(true, Ordering::SeqCst);
    let headers: Vec<_> = auth.into_iter().map(|a| ("authorization", a)).collect();
    let mut events = http
        .post_events(&target, &url, &headers, &body)
        .await
        // Refused or unreachable: nothing runs there.
        .inspect_err(|_| running.store(false, Ordering::SeqCst))?;
    while let Some(event) = events.next().await? {
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        let kind = if event.event != "message" {
            event.event.as_str()
        } else {
            data["type"].as_str().unwrap_or_default()
        };
        // A reported error ends the worker's run too.
        let step =
            normalise(kind, &data).inspect_err(|_| running.store(false, Ordering::SeqCst))?;
        match step {
            Step::Events(list) => {
                for e in list {
                    emit.send(e).await;
                }
            }
            Step::Finished(usage) => {
                running.store(false, Ordering::SeqCst);
                emit.send(usage).await;
                return Ok(());
            }
        }
    }
    Err(truncated(LABEL))
}

/// The `/execute` body; a coding run adds its `workspace` (with the user's credential for the
/// repository's host when they connected it) and `provider`.
fn execute_body(request: &RunRequest, history: Vec<Value>) -> Value {
    let mut body = json!({
        "type": if history.is_empty() { "execute" } else { "resume" },
        "chatSessionId": request.session,
        "prompt": request.prompt,
        "history": history,
        "model": request.model,
    });
    if let Some(c) = &request.coding {
        body["workspace"] = json!({
            "repositoryUrl": c.repository_url,
            "baseBranch": c.base_branch,
            "workingBranch": c.working_branch,
            "expectedHead": c.expected_head,
            "author": { "name": c.author_name, "email": c.author_email },
        });
        if let Some(cred) = &c.credential {
            body["workspace"]["credential"] =
                json!({ "username": cred.username, "token": cred.token.expose() });
        }
        if let Some(kind) = &c.provider {
            body["provider"] = json!({ "kind": kind, "model": c.model });
            if let Some(key) = &c.api_key {
                body["provider"]["apiKey"] = json!(key.expose());
                body["provider"]["baseUrl"] = json!(c.base_url);
            }
        }
    }
    body
}

enum Step {
    Events(Vec<ProviderEvent>),
    Finished(ProviderEvent),
}

fn first<'a>(data: &'a Value, keys: &[&str]) -> &'a Value {
    keys.iter()
        .map(|k| &data[*k])
        .find(|v| !v.is_null())
        .unwrap_or(&Value::Null)
}

fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        // Claude-style content blocks: keep their text.
        Value::Array(blocks) if blocks.iter().all(|b| b["text"].is_string()) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    }
}

fn tool_use(v: &Value) -> ProviderEvent {
    ProviderEvent::ToolUse {
        id: first(v, &["id", "toolUseId", "tool_use_id"])
            .as_str()
            .unwrap_or_default()
            .into(),
        name: first(v, &["name", "tool", "toolName"])
            .as_str()
            .unwrap_or_default()
            .into(),
        input: match first(v, &["input", "arguments"]) {
            Value::Null => json!({}),
            i => i.clone(),
        },
    }
}

fn tool_result(v: &Value) -> ProviderEvent {
    ProviderEvent::ToolResult {
        tool_use_id: first(v, &["toolUseId", "tool_use_id", "id"])
            .as_str()
            .unwrap_or_default()
            .into(),
        content: content_text(first(v, &["content", "output", "result"])),
        is_error: first(v, &["isError", "is_error"])
            .as_bool()
            .unwrap_or(false),
    }
}

fn normalise(kind: &str, data: &Value) -> Result<Step, ProviderError> {
    Ok(match kind {
        "assistant_message" | "assistant" | "text" | "message" => {
            let blocks = data["message"]["content"].as_array();
            let mut out = Vec::new();
            if let Some(blocks) = blocks {
                for b in blocks {
                    match b["type"].as_str() {
                        Some("text") => out.extend(text(b["text"].as_str())),
                        Some("tool_use") => out.push(tool_use(b)),
                        Some("tool_result") => out.push(tool_result(b)),
                        _ => {}
                    }
                }
            } else {
                let t = content_text(first(data, &["text", "content", "delta"]));
                out.extend(text(Some(&t)));
            }
            Step::Events(out)
        }
        "tool_use" => Step::Events(vec![tool_use(data)]),
        "tool_result" => Step::Events(vec![tool_result(data)]),
        "changes" => match serde_json::from_value::<Changes>(data.clone()) {
            Ok(c) => Step::Events(vec![ProviderEvent::Changes(c.bounded())]),
            Err(e) => {
                // Not a reason to fail the run (its commits are pushed), but never silent.
                tracing::warn!(error = %e, "the AI worker sent a malformed changes report");
                Step::Events(vec![])
            }
        },
        "result" | "completed" | "complete" | "done" => {
            let usage = first(data, &["usage"]);
            let tokens = |keys: &[&str]| first(usage, keys).as_u64().unwrap_or(0);
            Step::Finished(ProviderEvent::Usage {
                input_tokens: tokens(&["inputTokens", "input_tokens", "prompt_tokens"]),
                output_tokens: tokens(&["outputTokens", "output_tokens", "completion_tokens"]),
                cost_usd: first(data, &["costUsd", "total_cost_usd", "totalCostUsd", "cost"])
                    .as_f64(),
            })
        }
        "error" => {
            let what = content_text(first(data, &["message", "error"]));
            let what = if what.is_empty() {
                "unknown error".to_string()
            } else {
                what
            };
            return Err(ProviderError(format!(
                "{LABEL} stopped the run with an error: {what}"
            )));
        }
        _ => Step::Events(vec![]),
    })
}

fn text(t: Option<&str>) -> Vec<ProviderEvent> {
    match t {
        Some(t) if !t.is_empty() => vec![ProviderEvent::Text(t.to_string())],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webedt_worker::protocol as wp;

    /// A coding run's body is what the worker parses, field for field.
    #[test]
    fn a_coding_run_sends_the_workspace_the_worker_expects() {
        let request = RunRequest {
            session: uuid::Uuid::nil(),
            prompt: "Add a note".into(),
            images: vec![],
            history: vec![],
            model: "demo".into(),
            coding: Some(crate::CodingRun {
                repository_url: "file:///tmp/repo.git".into(),
                base_branch: "main".into(),
                working_branch: "webedt/0123456789abcdef".into(),
                expected_head: Some("a".repeat(40)),
                author_name: "Ada".into(),
                author_email: "ada@example.com".into(),
                provider: Some("demo".into()),
                model: None,
                credential: None,
                api_key: None,
                base_url: None,
            }),
        };
        let body = execute_body(&request, vec![]);
        let parsed: wp::ExecuteRequest = serde_json::from_value(body).unwrap();
        let ws = parsed.workspace.expect("workspace");
        assert_eq!(ws.repository_url, "file:///tmp/repo.git");
        assert_eq!(ws.base_branch, "main");
        assert_eq!(ws.working_branch, "webedt/0123456789abcdef");
        assert_eq!(ws.expected_head, Some("a".repeat(40)));
        assert_eq!(ws.author.name, "Ada");
        assert_eq!(ws.author.email, "ada@example.com");
        assert!(ws.credential.is_none());
        let with_token = RunRequest {
            coding: request.coding.clone().map(|c| crate::CodingRun {
                credential: Some(crate::GitCredential {
                    username: "alice".into(),
                    token: webedt_contract::Secret::new("tok-SECRET"),
                }),
                ..c
            }),
            ..request.clone()
        };
        let ws = serde_json::from_value::<wp::ExecuteRequest>(execute_body(&with_token, vec![]))
            .unwrap()
            .workspace
            .unwrap();
        let cred = ws.credential.expect("credential");
        assert_eq!(cred.username, "alice");
        assert_eq!(cred.token.expose(), "tok-SECRET");
        assert!(!format!("{with_token:?}").contains("tok-SECRET"));
        let p = parsed.provider.expect("provider");
        assert_eq!(p.kind, wp::ProviderKind::Demo);
        assert!(p.model.is_none() && p.api_key.is_none());
        // A chat run keeps the old shape.
        let chat = RunRequest {
            coding: None,
            ..request
        };
        let body = execute_body(&chat, vec![]);
        assert!(body.get("workspace").is_none() && body.get("provider").is_none());
    }

    /// The report exactly as `webedt-worker` serialises it becomes the same report here.
    #[test]
    fn the_workers_changes_event_becomes_a_changes_provider_event() {
        let sent = wp::Changes {
            branch: "webedt/0123456789abcdef".into(),
            base_branch: "main".into(),
            base_commit: "1".repeat(40),
            head_commit: Some("2".repeat(40)),
            files: vec![wp::FileChange {
                path: "README.md".into(),
                status: "modified".into(),
                additions: 2,
                deletions: 0,
            }],
            diff: "diff --git a/README.md b/README.md\n".into(),
            truncated: false,
        };
        let event = wp::WorkerEvent::Changes(sent.clone());
        let data = serde_json::to_value(&event).unwrap();
        let Ok(Step::Events(list)) = normalise(event.kind(), &data) else {
            panic!("not an event list")
        };
        let [ProviderEvent::Changes(got)] = list.as_slice() else {
            panic!("{list:?}")
        };
        // Field for field, and back to the worker's JSON (minus `type`) when stored.
        let mut expected = serde_json::to_value(&sent).unwrap();
        assert_eq!(serde_json::to_value(got).unwrap(), expected);
        expected["type"] = "changes".into();
        assert_eq!(expected, data);
        // A branch that was never pushed has no head.
        let mut unpushed = data.clone();
        unpushed["headCommit"] = Value::Null;
        let Ok(Step::Events(list)) = normalise("changes", &unpushed) else {
            panic!()
        };
        assert!(matches!(&list[0], ProviderEvent::Changes(c) if c.head_commit.is_none()));
        // Malformed: dropped with a warning, not a failed run.
        let Ok(Step::Events(list)) = normalise("changes", &json!({"branch": 1})) else {
            panic!()
        };
        assert!(list.is_empty());
    }
}
