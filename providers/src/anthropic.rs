//! Anthropic's Messages API with `stream: true`.
//!
//! Wire format: SSE events `message_start` (input usage), `content_block_start` (a `text` or
//! `tool_use` block), `content_block_delta` (`text_delta`, or `input_json_delta` pieces of a tool
//! call's input), `content_block_stop`, `message_delta` (cumulative output usage),
//! `message_stop` (the end), `ping`, and `error` (a failure mid-stream).

use serde_json::{Value, json};
use std::collections::HashMap;
use webedt_contract::AnthropicSettings;
use webedt_contract::names::ANTHROPIC_API_KEY;

use super::http::{Emit, Http, Target, secret_header, task_stream, truncated};
use super::{Provider, ProviderError, ProviderEvent, ProviderStream, RunRequest};

const LABEL: &str = "Anthropic";
const API_VERSION: &str = "2023-06-01";
/// Upper bound of one answer's length, in tokens (the API requires one).
const MAX_TOKENS: u32 = 8192;

pub struct Anthropic {
    http: Http,
    settings: AnthropicSettings,
}

impl Anthropic {
    pub fn new(http: Http, settings: AnthropicSettings) -> Self {
        Self { http, settings }
    }
}

impl Provider for Anthropic {
    fn id(&self) -> &'static str {
        "anthropic"
    }

    fn label(&self) -> String {
        "Anthropic".into()
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
    settings: AnthropicSettings,
    request: RunRequest,
    emit: Emit,
) -> Result<(), ProviderError> {
    let key = secret_header(settings.api_key.expose(), ANTHROPIC_API_KEY, "")?;
    let messages: Vec<Value> = request
        .conversation()
        .into_iter()
        .map(|t| json!({ "role": t.role.as_str(), "content": t.text }))
        .collect();
    let body = json!({
        "model": request.model,
        "max_tokens": MAX_TOKENS,
        "stream": true,
        "messages": messages,
    });
    let url = format!("{}/v1/messages", settings.base_url);
    let target = Target {
        label: LABEL,
        credential_var: ANTHROPIC_API_KEY,
        secret: Some(settings.api_key.expose().to_string()),
    };
    let response = http
        .send(&target, || {
            http.client()
                .post(&url)
                .header("x-api-key", key.clone())
                .header("anthropic-version", API_VERSION)
                .header("accept", "text/event-stream")
                .json(&body)
        })
        .await?;
    let mut events = http.events(LABEL, response);
    let mut state = State::new(&request.model);
    while let Some(event) = events.next().await? {
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        let kind = data["type"].as_str().unwrap_or(event.event.as_str());
        for out in state.on_event(kind, &data)? {
            emit.send(out).await;
        }
        if state.finished {
            return Ok(());
        }
    }
    Err(truncated(LABEL))
}

#[derive(Default)]
struct Usage {
    input: u64,
    cache_write: u64,
    cache_read: u64,
    output: u64,
}

impl Usage {
    fn update(&mut self, u: &Value) {
        // Counts are cumulative: a later event replaces an earlier one.
        let set = |field: &str, slot: &mut u64| {
            if let Some(n) = u[field].as_u64() {
                *slot = n;
            }
        };
        set("input_tokens", &mut self.input);
        set("cache_creation_input_tokens", &mut self.cache_write);
        set("cache_read_input_tokens", &mut self.cache_read);
        set("output_tokens", &mut self.output);
    }
}

/// A tool call whose input arrives as JSON text in pieces.
struct PendingTool {
    id: String,
    name: String,
    json: String,
    start_input: Value,
}

struct State {
    model: String,
    usage: Usage,
    tools: HashMap<u64, PendingTool>,
    finished: bool,
}

impl State {
    fn new(model: &str) -> Self {
        Self {
            model: model.to_string(),
            usage: Usage::default(),
            tools: HashMap::new(),
            finished: false,
        }
    }

    fn on_event(&mut self, kind: &str, data: &Value) -> Result<Vec<ProviderEvent>, ProviderError> {
        let index = data["index"].as_u64().unwrap_or(0);
        Ok(match kind {
            "message_start" => {
                self.usage.update(&data["message"]["usage"]);
                vec![]
            }
            "content_block_start" => {
                let block = &data["content_block"];
                match block["type"].as_str() {
                    Some("text") => text(block["text"].as_str()),
                    Some("tool_use" | "server_tool_use") => {
                        self.tools.insert(
                            index,
                            PendingTool {
                                id: block["id"].as_str().unwrap_or_default().into(),
                                name: block["name"].as_str().unwrap_or_default().into(),
                                json: String::new(),
                                start_input: block["input"].clone(),
                            },
                        );
                        vec![]
                    }
                    // Results of Anthropic-run tools (e.g. web search) arrive whole.
                    Some(t) if t.ends_with("_tool_result") => vec![ProviderEvent::ToolResult {
                        tool_use_id: block["tool_use_id"].as_str().unwrap_or_default().into(),
                        content: match &block["content"] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        },
                        is_error: block["content"]["type"]
                            .as_str()
                            .is_some_and(|t| t.ends_with("_error")),
                    }],
                    _ => vec![],
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => text(delta["text"].as_str()),
                    Some("input_json_delta") => {
                        if let Some(tool) = self.tools.get_mut(&index) {
                            tool.json
                                .push_str(delta["partial_json"].as_str().unwrap_or_default());
                        }
                        vec![]
                    }
                    // Thinking, signatures, citations: not shown.
                    _ => vec![],
                }
            }
            "content_block_stop" => match self.tools.remove(&index) {
                None => vec![],
                Some(tool) => {
                    let input = if tool.json.trim().is_empty() {
                        match tool.start_input {
                            Value::Null => json!({}),
                            v => v,
                        }
                    } else {
                        serde_json::from_str(&tool.json).unwrap_or(Value::String(tool.json))
                    };
                    vec![ProviderEvent::ToolUse {
                        id: tool.id,
                        name: tool.name,
                        input,
                    }]
                }
            },
            "message_delta" => {
                self.usage.update(&data["usage"]);
                vec![]
            }
            "message_stop" => {
                self.finished = true;
                let u = &self.usage;
                vec![ProviderEvent::Usage {
                    input_tokens: u.input + u.cache_write + u.cache_read,
                    output_tokens: u.output,
                    cost_usd: cost(&self.model, u),
                }]
            }
            "error" => {
                let e = &data["error"];
                let what = e["message"].as_str().unwrap_or("unknown error");
                let kind = e["type"].as_str().unwrap_or("error");
                return Err(ProviderError(match kind {
                    "overloaded_error" => format!(
                        "Anthropic is overloaded and stopped the answer ({what}); try again later. The partial answer is kept."
                    ),
                    _ => format!(
                        "Anthropic stopped the answer with an error ({kind}: {what}). The partial answer is kept."
                    ),
                }));
            }
            // `ping` and anything newer.
            _ => vec![],
        })
    }
}

fn text(t: Option<&str>) -> Vec<ProviderEvent> {
    match t {
        Some(t) if !t.is_empty() => vec![ProviderEvent::Text(t.to_string())],
        _ => vec![],
    }
}

/// Published list prices in USD per million tokens (input, output) of well-known models,
/// matched by prefix so dated snapshots count. Cache writes cost 1.25× input, cache reads 0.1×.
/// Unknown models have no cost (`costUsd: null`) rather than a wrong one.
const PRICES: &[(&str, f64, f64)] = &[
    ("claude-opus-4-5", 5.0, 25.0),
    ("claude-opus-4", 15.0, 75.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-3-7-sonnet", 3.0, 15.0),
    ("claude-3-5-sonnet", 3.0, 15.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("claude-3-5-haiku", 0.8, 4.0),
    ("claude-3-haiku", 0.25, 1.25),
];

fn cost(model: &str, u: &Usage) -> Option<f64> {
    let (_, input, output) = PRICES.iter().find(|(p, _, _)| model.starts_with(p))?;
    let tokens = u.input as f64 * input
        + u.cache_write as f64 * input * 1.25
        + u.cache_read as f64 * input * 0.1
        + u.output as f64 * output;
    Some(tokens / 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_match_by_prefix_and_unknown_models_have_no_cost() {
        let u = Usage {
            input: 1_000_000,
            output: 100_000,
            ..Default::default()
        };
        assert_eq!(cost("claude-sonnet-4-5-20250929", &u), Some(4.5));
        assert_eq!(cost("claude-opus-4-1", &u), Some(22.5));
        assert_eq!(cost("claude-opus-4-5", &u), Some(7.5));
        assert_eq!(cost("my-finetune", &u), None);
    }
}
