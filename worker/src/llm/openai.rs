//! OpenAI-compatible chat completions, streamed, with tools (OpenAI, Ollama, vLLM, llama.cpp):
//! the providers crate's wire format over its transport, collected into one [`Reply`].

use webedt_contract::names::{OPENAI_API_KEY, OPENAI_BASE_URL};
use webedt_providers::http::{Target, secret_header, truncated};
use webedt_providers::wire::openai::{Decoder, body};

use super::{Http, Reply, Request, TextSink};
use crate::protocol::{Secret, Usage};

pub const LABEL: &str = "The OpenAI-compatible server";

pub async fn complete(
    http: &Http,
    key: Option<&Secret>,
    base_url: &str,
    req: &Request<'_>,
    sink: &TextSink,
) -> Result<Reply, String> {
    let auth = match key {
        Some(k) => Some(secret_header(k.expose(), OPENAI_API_KEY, "Bearer ").map_err(|e| e.0)?),
        None => None,
    };
    let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
    let body = body(req);
    let target = Target {
        label: LABEL,
        // No key: a 401 means the server wants one.
        credential_var: if key.is_some() {
            OPENAI_API_KEY
        } else {
            OPENAI_BASE_URL
        },
        secret: key.map(|k| k.expose().to_string()),
    };
    let headers: Vec<_> = auth.into_iter().map(|a| ("authorization", a)).collect();
    let mut events = http
        .post_events(&target, &url, &headers, &body)
        .await
        .map_err(|e| e.0)?;
    let mut decoder = Decoder::default();
    let mut reply = Reply::default();
    while let Some(event) = events.next().await.map_err(|e| e.0)? {
        for out in decoder.on_data(&event.data)? {
            reply.take(out, sink).await;
        }
        if decoder.done {
            break;
        }
    }
    let (complete, rest) = decoder.finish();
    if !complete {
        return Err(truncated(LABEL).0);
    }
    for out in rest {
        reply.take(out, sink).await;
    }
    reply.stop = decoder.finish_reason.take().unwrap_or_default();
    reply.usage = Usage {
        input_tokens: decoder.usage.input,
        output_tokens: decoder.usage.output,
    };
    Ok(reply)
}
