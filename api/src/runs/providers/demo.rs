//! The built-in demo provider: no network, deterministic, paced. It makes the local run and the
//! tests exercise the whole run machinery, and it says plainly that it is a demo.

use futures::StreamExt;
use serde_json::json;
use std::time::Duration;

use super::{Provider, ProviderEvent, ProviderStream, RunRequest};

pub struct Demo {
    count: u32,
    delay: Duration,
}

impl Demo {
    pub fn new(settings: &webedt_contract::DemoSettings) -> Self {
        Self {
            count: settings.event_count,
            delay: Duration::from_millis(settings.event_delay_ms),
        }
    }
}

/// The scripted answer, cut into exactly `count` deltas on word boundaries (so the tool call in
/// the middle never splits a word); long runs get numbered filler steps.
pub fn script(prompt: &str, count: u32) -> Vec<String> {
    let shown: String = prompt.chars().take(80).collect();
    let mut text = format!(
        "This is the **demo provider** (no AI model is called). You asked: \"{shown}\". \
         A real provider would now plan the change, read the relevant files and edit them; \
         this demo streams a fixed answer instead, so you can watch a run stream, reload the \
         page mid-way, switch replicas and stop it. "
    );
    let count = count.max(1) as usize;
    let mut step = 1;
    while text.split_inclusive(' ').count() < count {
        text.push_str(&format!("Demo step {step} done. "));
        step += 1;
    }
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    let mut parts: Vec<String> = (0..count)
        .map(|i| words[i * words.len() / count..(i + 1) * words.len() / count].concat())
        .collect();
    parts[count - 1]
        .push_str("\n\n```rust\nfn main() {\n    println!(\"hello from the demo\");\n}\n```\n");
    parts
}

impl Provider for Demo {
    fn id(&self) -> &'static str {
        "demo"
    }

    fn label(&self) -> String {
        "Demo (built-in, no AI)".into()
    }

    fn models(&self) -> Vec<String> {
        vec!["demo".into()]
    }

    fn start(&self, request: RunRequest) -> ProviderStream {
        let parts = script(&request.prompt, self.count);
        let delay = self.delay;
        let half = parts.len() / 2;
        let mut events: Vec<ProviderEvent> = Vec::with_capacity(parts.len() + 3);
        for (i, part) in parts.into_iter().enumerate() {
            if i == half {
                events.push(ProviderEvent::ToolUse {
                    id: "demo-tool-1".into(),
                    name: "read_file".into(),
                    input: json!({ "path": "src/main.rs" }),
                });
                events.push(ProviderEvent::ToolResult {
                    tool_use_id: "demo-tool-1".into(),
                    content: "fn main() {}".into(),
                    is_error: false,
                });
            }
            events.push(ProviderEvent::Text(part));
        }
        let input_tokens = (request.prompt.len() / 4) as u64
            + request
                .history
                .iter()
                .map(|t| t.text.len() as u64 / 4)
                .sum::<u64>();
        events.push(ProviderEvent::Usage {
            input_tokens,
            output_tokens: events.len() as u64,
            cost_usd: Some(0.0),
        });
        futures::stream::iter(events)
            .then(move |e| async move {
                tokio::time::sleep(delay).await;
                Ok(e)
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_has_exactly_the_configured_number_of_deltas() {
        for n in [1, 3, 40, 500] {
            let parts = script("hello", n);
            assert_eq!(parts.len(), n as usize);
            assert!(parts.iter().all(|p| !p.is_empty()), "no empty delta");
            // Word boundaries: every delta but the last ends with a space.
            assert!(parts[..parts.len() - 1].iter().all(|p| p.ends_with(' ')));
        }
        assert!(script("x", 40).concat().contains("demo provider"));
    }
}
