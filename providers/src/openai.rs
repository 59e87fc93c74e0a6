//! Any OpenAI-compatible server: `POST {OPENAI_BASE_URL}/chat/completions` with `stream: true`
//! (OpenAI, Ollama, vLLM, llama.cpp, LiteLLM). The key is optional.
//!
//! Wire format: `data: {…"choices":[{"delta":{"content":"…"}}]…}` lines, tool calls as
//! `delta.tool_calls[]` pieces keyed by `index`, a `finish_reason`, usage in a last chunk when
//! `stream_options.include_usage` is honoured, an `{"error":{…}}` chunk on failure mid-stream,
//! and `data: [DONE]`.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use webedt_contract::OpenAiSettings;
use webedt_contract::names::{OPENAI_API_KEY, OPENAI_BASE_URL};

use super::http::{Emit, Http, Target, secret_header, task_stream, truncated};
use super::{Provider, ProviderError, ProviderEvent, ProviderStream, RunRequest};

const LABEL: &str = "The OpenAI-compatible server";

pub struct OpenAi {
    http: Http,
    settings: OpenAiSettings,
}

impl OpenAi {
    pub fn new(http: Http, settings: OpenAiSettings) -> Self {
        Self { http, settings }
    }
}

impl Provider for OpenAi {
    fn id(&self) -> &'static str {
        "openai"
    }

    fn label(&self) -> String {
        if self.settings.base_url.starts_with("https://api.openai.com") {
            "OpenAI".into()
        } else {
            "OpenAI-compatible".into()
        }
    }

    fn models(&self) -> Vec<String> {
        vec![self.settings.model.clone()]
    }

    fn start(&self, request: RunRequest) -> ProviderStream {
        let http = self.http.clone();
        let settings = self.settings.clone();
        task_stream(move |emit| run(http, settings, request, emit), None)
    }
}

async fn run(
    http: Http,
    settings: OpenAiSettings,
    request: RunRequest,
    emit: Emit,
) -> Result<(), ProviderError> {
    let auth = match &settings.api_key {
        Some(k) => Some(secret_header(k.expose(), OPENAI_API_KEY, "Bearer ")?),
        None => None,
    };
    let messages: Vec<Value> = request
        .conversation()
        .into_iter()
        .map(|t| json!({ "role": t.role.as_str(), "content": t.text }))
        .collect();
    let body = json!({
        "model": request.model,
        "stream": true,
        "stream_options": { "include_usage": true },
        "messages": messages,
    });
    let url = format!("{}/chat/completions", settings.base_url);
    let target = Target {
        label: LABEL,
        credential_var: if auth.is_some() {
            OPENAI_API_KEY
        } else {
            // No key configured: a 401 means the server wants one.
            OPENAI_BASE_URL
        },
        secret: settings.api_key.as_ref().map(|k| k.expose().to_string()),
    };
    let response = http
        .send(&target, || {
            let mut r = http
                .client()
                .post(&url)
                .header("accept", "text/event-stream")
                .json(&body);
            if let Some(a) = &auth {
                r = r.header("authorization", a.clone());
            }
            r
        })
        .await?;
    let mut events = http.events(LABEL, response);
    let mut state = State::default();
    while let Some(event) = events.next().await? {
        let data = event.data.trim();
        if data == "[DONE]" {
            for out in state.finish() {
                emit.send(out).await;
            }
            return Ok(());
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        for out in state.on_chunk(&chunk)? {
            emit.send(out).await;
        }
    }
    // Some servers close without `[DONE]` after a finished answer; that is complete.
    if state.finish_reason.is_some() {
        for out in state.finish() {
            emit.send(out).await;
        }
        return Ok(());
    }
    Err(truncated(LABEL))
}

#[derive(Default)]
struct PendingTool {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Default)]
struct State {
    tools: BTreeMap<u64, PendingTool>,
    usage: Option<(u64, u64)>,
    finish_reason: Option<String>,
}

impl State {
    fn on_chunk(&mut self, chunk: &Value) -> Result<Vec<ProviderEvent>, ProviderError> {
        if let Some(e) = chunk.get("error") {
            let what = e["message"]
                .as_str()
                .or(e.as_str())
                .unwrap_or("unknown error");
            return Err(ProviderError(format!(
                "{LABEL} stopped the answer with an error ({what}). The partial answer is kept."
            )));
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some((
                u["prompt_tokens"].as_u64().unwrap_or(0),
                u["completion_tokens"].as_u64().unwrap_or(0),
            ));
        }
        let mut out = Vec::new();
        let Some(choice) = chunk["choices"].get(0) else {
            return Ok(out);
        };
        let delta = &choice["delta"];
        if let Some(t) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            out.push(ProviderEvent::Text(t.to_string()));
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().unwrap_or(0);
            let tool = self.tools.entry(index).or_default();
            if let Some(id) = call["id"].as_str() {
                tool.id = id.to_string();
            }
            if let Some(name) = call["function"]["name"].as_str() {
                tool.name.push_str(name);
            }
            if let Some(args) = call["function"]["arguments"].as_str() {
                tool.arguments.push_str(args);
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_string());
            out.extend(self.flush_tools());
        }
        Ok(out)
    }

    fn flush_tools(&mut self) -> Vec<ProviderEvent> {
        std::mem::take(&mut self.tools)
            .into_values()
            .map(|t| ProviderEvent::ToolUse {
                id: t.id,
                name: t.name,
                input: if t.arguments.trim().is_empty() {
                    json!({})
                } else {
                    serde_json::from_str(&t.arguments).unwrap_or(Value::String(t.arguments))
                },
            })
            .collect()
    }

    fn finish(&mut self) -> Vec<ProviderEvent> {
        let mut out = self.flush_tools();
        let (input_tokens, output_tokens) = self.usage.unwrap_or((0, 0));
        // Prices differ per server and deployment: the cost is unknown.
        out.push(ProviderEvent::Usage {
            input_tokens,
            output_tokens,
            cost_usd: None,
        });
        out
    }
}
