//! The scripted demo "model": no network, no key. With a repository it walks the same tools a
//! real model would — list the files, read one (the README if there is one) and make a small,
//! visible edit under its first line — so a newcomer sees a whole coding run (tool calls, a
//! commit, a push, the changes report) locally. Its next step is decided from the conversation,
//! like a model's.

use serde_json::json;
use std::time::Duration;

use super::{Message, Reply, Request, TextSink, ToolCall, ToolResult};
use crate::protocol::{Usage, WorkerEvent};

pub struct Demo {
    pub delay: Duration,
}

const README_NAMES: [&str; 4] = ["README.md", "README", "readme.md", "README.txt"];

impl Demo {
    async fn say(&self, text: &str, sink: &TextSink) {
        for word in text.split_inclusive(' ') {
            let _ = sink
                .send(WorkerEvent::Text {
                    text: word.to_string(),
                })
                .await;
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
        }
    }

    pub async fn complete(&self, req: &Request<'_>, sink: &TextSink) -> Result<Reply, String> {
        let prompt = req
            .messages
            .iter()
            .rev()
            .find_map(|m| match m {
                Message::User(t) => Some(t.as_str()),
                _ => None,
            })
            .unwrap_or_default();
        // This run's steps: the tool results so far, newest last.
        let results: Vec<&ToolResult> = req
            .messages
            .iter()
            .filter_map(|m| match m {
                Message::ToolResults(r) => r.first(),
                _ => None,
            })
            .collect();
        let mut reply = Reply {
            usage: Usage {
                input_tokens: req.messages.iter().map(|m| m.chars() as u64 / 4).sum(),
                output_tokens: 0,
            },
            ..Default::default()
        };
        let has = |name: &str| req.tools.iter().any(|t| t.name == name);
        let call = |n: usize, name: &str, input: serde_json::Value| ToolCall {
            id: format!("demo-{n}"),
            name: name.into(),
            input: Ok(input),
        };
        let text;
        match results.len() {
            _ if !has("edit_file") => {
                let shown: String = prompt.chars().take(80).collect();
                text = format!(
                    "This is the **demo agent** (no AI model is called). You asked: \"{shown}\". \
                     With a repository attached, it would read a file and make a small edit."
                );
            }
            0 => {
                text = "This is the **demo agent** (no AI model is called). Let me look at the repository. ".into();
                reply.calls.push(call(1, "list_files", json!({})));
            }
            1 => {
                let files: Vec<&str> = results[0].content.lines().collect();
                let target = README_NAMES
                    .iter()
                    .find(|n| files.contains(n))
                    .copied()
                    .or_else(|| files.iter().find(|f| f.ends_with(".md")).copied())
                    .or_else(|| {
                        files
                            .iter()
                            .find(|f| !f.starts_with('(') && !f.starts_with('['))
                            .copied()
                    });
                match target {
                    Some(t) => {
                        text = format!("I'll read `{t}`. ");
                        reply.calls.push(call(2, "read_file", json!({"path": t})));
                    }
                    None => {
                        text = "The repository has no files, so I'll start a README. ".into();
                        reply.calls.push(call(
                            3,
                            "write_file",
                            json!({"path": "README.md",
                            "content": format!("# Project\n\n{}\n", note(prompt))}),
                        ));
                    }
                }
            }
            2 if results[1].is_error || results[1].id == "demo-3" => {
                text = "Done.".into();
            }
            2 => {
                let path = req
                    .messages
                    .iter()
                    .find_map(|m| match m {
                        Message::Assistant { calls, .. } => calls
                            .iter()
                            .find(|c| c.id == "demo-2")
                            .and_then(|c| c.input.as_ref().ok())
                            .and_then(|i| i["path"].as_str().map(str::to_string)),
                        _ => None,
                    })
                    .unwrap_or_default();
                // read_file numbers lines as "{n:6}\t{line}".
                let lines: Vec<&str> = results[1]
                    .content
                    .lines()
                    .filter_map(|l| l.split_once('\t').map(|(_, t)| t))
                    .collect();
                let body = lines.join("\n");
                let anchor = lines
                    .iter()
                    .find(|l| !l.trim().is_empty() && body.matches(*l).count() == 1);
                match anchor {
                    Some(line) => {
                        text = format!("I'll add a note under the first line of `{path}`. ");
                        reply.calls.push(call(
                            4,
                            "edit_file",
                            json!({"path": path,
                            "old_str": line, "new_str": format!("{line}\n\n{}", note(prompt))}),
                        ));
                    }
                    None => {
                        text = "I'll leave a note in a new file. ".into();
                        reply.calls.push(call(
                            3,
                            "write_file",
                            json!({"path": "WEBEDT_DEMO.md",
                            "content": format!("{}\n", note(prompt))}),
                        ));
                    }
                }
            }
            _ => {
                let last = results.last().expect("at least three");
                text = if last.is_error {
                    format!("The edit failed: {}", last.content)
                } else {
                    "Done: the note is in place. The worker commits it and pushes the working branch; \
                     the Changes view shows the diff."
                        .into()
                };
            }
        }
        self.say(&text, sink).await;
        reply.text = text;
        reply.usage.output_tokens = reply.text.len() as u64 / 4 + 1;
        reply.stop = if reply.calls.is_empty() {
            "end_turn".into()
        } else {
            "tool_use".into()
        };
        Ok(reply)
    }
}

fn note(prompt: &str) -> String {
    let shown: String = prompt
        .chars()
        .take(60)
        .collect::<String>()
        .replace('\n', " ");
    format!(
        "> Edited by the WebEDT demo agent for: \"{}\"",
        shown.trim()
    )
}
