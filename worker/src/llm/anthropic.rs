//! Anthropic Messages API, streamed, with tools: the providers crate's wire format over its
//! transport, collected into one [`Reply`].

use reqwest::header::HeaderValue;
use serde_json::Value;
use webedt_contract::names::ANTHROPIC_API_KEY;
use webedt_providers::http::{Target, secret_header, truncated};
use webedt_providers::wire::anthropic::{API_VERSION, Decoder, body};

use super::{Http, Reply, Request, TextSink};
use crate::protocol::{Secret, Usage};

pub const LABEL: &str = "Anthropic";

pub async fn complete(
    http: &Http,
    key: &Secret,
    base_url: &str,
    req: &Request<'_>,
    sink: &TextSink,
) -> Result<Reply, String> {
    let header = secret_header(key.expose(), ANTHROPIC_API_KEY, "").map_err(|e| e.0)?;
    let url = format!("{}/v1/messages", base_url.trim_end_matches('/'));
    let body = body(req);
    let target = Target {
        label: LABEL,
        credential_var: ANTHROPIC_API_KEY,
        secret: Some(key.expose().to_string()),
    };
    let headers = [
        ("x-api-key", header),
        ("anthropic-version", HeaderValue::from_static(API_VERSION)),
    ];
    let mut events = http
        .post_events(&target, &url, &headers, &body)
        .await
        .map_err(|e| e.0)?;
    let mut decoder = Decoder::default();
    let mut reply = Reply::default();
    while let Some(event) = events.next().await.map_err(|e| e.0)? {
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        let kind = data["type"].as_str().unwrap_or(event.event.as_str());
        for out in decoder.on_event(kind, &data)? {
            reply.take(out, sink).await;
        }
        if decoder.finished {
            reply.stop = decoder.stop_reason.unwrap_or_default();
            reply.usage = Usage {
                input_tokens: decoder.usage.total_input(),
                output_tokens: decoder.usage.output,
            };
            return Ok(reply);
        }
    }
    Err(truncated(LABEL).0)
}
