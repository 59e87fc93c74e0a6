//! Anthropic's Messages API for chat runs: the wire format is [`crate::wire::anthropic`]; this
//! file adds the transport, the key, and the cost of an answer.

use reqwest::header::HeaderValue;
use serde_json::Value;
use webedt_contract::AnthropicSettings;
use webedt_contract::names::ANTHROPIC_API_KEY;

use super::http::{Emit, Http, Target, secret_header, task_stream, truncated};
use super::wire::{Request, TokenUsage as Usage, anthropic};
use super::{
    Provider, ProviderError, ProviderEvent, ProviderStream, RunRequest, provider_event,
    wire_messages,
};

const LABEL: &str = "Anthropic";

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
    let messages = wire_messages(&request);
    let body = anthropic::body(&Request {
        model: &request.model,
        system: None,
        messages: &messages,
        tools: &[],
        max_tokens: None,
    });
    let url = format!("{}/v1/messages", settings.base_url);
    let target = Target {
        label: LABEL,
        credential_var: ANTHROPIC_API_KEY,
        secret: Some(settings.api_key.expose().to_string()),
    };
    let headers = [
        ("x-api-key", key),
        (
            "anthropic-version",
            HeaderValue::from_static(anthropic::API_VERSION),
        ),
    ];
    let mut events = http.post_events(&target, &url, &headers, &body).await?;
    let mut decoder = anthropic::Decoder::default();
    while let Some(event) = events.next().await? {
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        let kind = data["type"].as_str().unwrap_or(event.event.as_str());
        for out in decoder.on_event(kind, &data).map_err(ProviderError)? {
            emit.send(provider_event(out)).await;
        }
        if decoder.finished {
            let u = &decoder.usage;
            emit.send(ProviderEvent::Usage {
                input_tokens: u.total_input(),
                output_tokens: u.output,
                cost_usd: cost(&request.model, u),
            })
            .await;
            return Ok(());
        }
    }
    Err(truncated(LABEL))
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
