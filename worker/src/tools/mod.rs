//! The tools a model may call. Each takes JSON input and returns text; bad input, a refused
//! path or a failed operation is an error *result* for the model, never a worker failure.

mod command;
mod files;

pub use command::{CommandRunner, kill_leftovers};

use serde_json::{Value, json};
use std::path::PathBuf;

use crate::git::Git;

/// Most of a tool result sent back to the model.
pub const MODEL_RESULT_MAX: usize = 16 * 1024;
/// Most of a tool result carried by a `tool_result` event (and so stored by the API).
pub const EVENT_RESULT_MAX: usize = 4 * 1024;

/// How a tool is offered to the model: the wire formats' neutral form.
pub use webedt_providers::wire::ToolSpec;

#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    pub content: String,
    pub is_error: bool,
}

impl ToolOutcome {
    pub fn ok(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: false,
        }
    }
    pub fn err(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: true,
        }
    }
}

/// Cuts `s` to at most `max` bytes (on a character boundary), saying how much was left out.
pub fn cap(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let note = format!(
        "\n[... output truncated: {} of {} bytes shown ...]",
        max,
        s.len()
    );
    let mut cut = max.saturating_sub(note.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{note}", &s[..cut])
}

/// Everything the tools of one run work on.
pub struct Tools {
    pub work: PathBuf,
    pub git: Option<Git>,
    pub commands: Option<CommandRunner>,
}

impl Tools {
    pub fn specs(&self) -> Vec<ToolSpec> {
        let mut specs = vec![
            ToolSpec {
                name: "list_files",
                description: "List files of the repository (recursively, honouring .gitignore). Paths are relative to the repository root.",
                input_schema: json!({"type": "object", "properties": {
                    "path": {"type": "string", "description": "Directory to list, relative to the repository root; default the root."}
                }}),
            },
            ToolSpec {
                name: "read_file",
                description: "Read a UTF-8 text file, with line numbers. Optionally only lines start_line..=end_line (1-based).",
                input_schema: json!({"type": "object", "properties": {
                    "path": {"type": "string"},
                    "start_line": {"type": "integer", "minimum": 1},
                    "end_line": {"type": "integer", "minimum": 1}
                }, "required": ["path"]}),
            },
            ToolSpec {
                name: "write_file",
                description: "Create or overwrite a file with the given content (parent directories are created).",
                input_schema: json!({"type": "object", "properties": {
                    "path": {"type": "string"},
                    "content": {"type": "string"}
                }, "required": ["path", "content"]}),
            },
            ToolSpec {
                name: "edit_file",
                description: "Replace exactly one occurrence of old_str (which must match verbatim, whitespace included, and be unique in the file) with new_str.",
                input_schema: json!({"type": "object", "properties": {
                    "path": {"type": "string"},
                    "old_str": {"type": "string"},
                    "new_str": {"type": "string"}
                }, "required": ["path", "old_str", "new_str"]}),
            },
            ToolSpec {
                name: "search",
                description: "Search file contents with a regular expression (Rust regex syntax); returns path:line: text.",
                input_schema: json!({"type": "object", "properties": {
                    "pattern": {"type": "string"},
                    "path": {"type": "string", "description": "Directory or file to search; default the root."}
                }, "required": ["pattern"]}),
            },
        ];
        if self.git.is_some() {
            specs.push(ToolSpec {
                name: "git_status",
                description: "Show git status of the working tree (short format).",
                input_schema: json!({"type": "object", "properties": {}}),
            });
            specs.push(ToolSpec {
                name: "git_diff",
                description: "Show the uncommitted changes of the working tree as a unified diff (optionally for one path).",
                input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
            });
        }
        if self.commands.is_some() {
            specs.push(ToolSpec {
                name: "run_command",
                description: "Run a shell command (sh -c) in the repository root, confined to the workspace, without network. Returns exit code and output.",
                input_schema: json!({"type": "object", "properties": {
                    "command": {"type": "string"},
                    "timeout_ms": {"type": "integer", "minimum": 1}
                }, "required": ["command"]}),
            });
        }
        specs
    }

    /// Runs one tool call. `input` is what the model sent (`Err` when it was not valid JSON).
    pub async fn call(
        &self,
        name: &str,
        input: Result<&Value, &str>,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> ToolOutcome {
        let input = match input {
            Ok(v) if v.is_object() => v,
            Ok(_) => return ToolOutcome::err("the tool input must be a JSON object"),
            Err(raw) => {
                return ToolOutcome::err(format!(
                    "the tool input is not valid JSON: {}",
                    cap(raw, 200)
                ));
            }
        };
        let out = match name {
            "list_files" => files::list(&self.work, input),
            "read_file" => files::read(&self.work, input),
            "write_file" => files::write(&self.work, input),
            "edit_file" => files::edit(&self.work, input),
            "search" => files::search(&self.work, input),
            "git_status" | "git_diff" => match &self.git {
                None => ToolOutcome::err("there is no repository in this run"),
                Some(git) => {
                    let r = if name == "git_status" {
                        git.status().await
                    } else {
                        match files::opt_path(&self.work, input) {
                            Err(e) => return ToolOutcome::err(e),
                            Ok(p) => git.diff_worktree(p.as_deref()).await,
                        }
                    };
                    match r {
                        Ok(s) if s.trim().is_empty() => ToolOutcome::ok("(no changes)"),
                        Ok(s) => ToolOutcome::ok(s),
                        Err(e) => ToolOutcome::err(e.0),
                    }
                }
            },
            "run_command" => match &self.commands {
                None => ToolOutcome::err("running commands is not enabled on this worker"),
                Some(r) => r.run(input, cancel).await,
            },
            other => ToolOutcome::err(format!(
                "unknown tool `{}`; available: {}",
                cap(other, 64),
                self.specs()
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        ToolOutcome {
            content: cap(&out.content, MODEL_RESULT_MAX),
            is_error: out.is_error,
        }
    }
}
