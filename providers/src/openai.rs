//! Any OpenAI-compatible server for chat runs: `POST {OPENAI_BASE_URL}/chat/completions`
//! (OpenAI, Ollama, vLLM, llama.cpp, LiteLLM). The wire format is [`crate::wire::openai`]; this
//! file adds the transport and the optional key.

use webedt_contract::OpenAiSettings;
use webedt_contract::names::{OPENAI_API_KEY, OPENAI_BASE_URL};

use super::http::{Emit, Http, Target, secret_header, task_stream, truncated};
use super::wire::{Request, openai};
use super::{
    Provider, ProviderError, ProviderEvent, ProviderStream, RunRequest, provider_event,
    wire_messages,
};

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
    let messages = wire_messages(&request);
    let body = openai::body(&Request {
        model: &request.model,
        system: None,
        messages: &messages,
        tools: &[],
        max_tokens: None,
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
    let headers: Vec<_> = auth.into_iter().map(|a| ("authorization", a)).collect();
    let mut events = http.post_events(&target, &url, &headers, &body).await?;
    let mut decoder = openai::Decoder::default();
    while let Some(event) = events.next().await? {
        for out in decoder.on_data(&event.data).map_err(ProviderError)? {
            emit.send(provider_event(out)).await;
        }
        if decoder.done {
            break;
        }
    }
    let (complete, rest) = decoder.finish();
    if !complete {
        return Err(truncated(LABEL));
    }
    for out in rest {
        emit.send(provider_event(out)).await;
    }
    // Prices differ per server and deployment: the cost is unknown.
    emit.send(ProviderEvent::Usage {
        input_tokens: decoder.usage.input,
        output_tokens: decoder.usage.output,
        cost_usd: None,
    })
    .await;
    Ok(())
}
