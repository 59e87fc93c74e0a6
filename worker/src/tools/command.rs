//! `run_command`: `sh -c` in the checkout, in its own process group, with a scrubbed
//! environment, kernel confinement (see [`crate::sandbox`]), a timeout and an output cap. The
//! whole group is killed when the command ends, times out or the run is interrupted, so nothing
//! it started outlives it (seccomp keeps its processes from leaving the group).

use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::{ToolOutcome, cap};
use crate::sandbox::{Confinement, Policy, RunPaths};

const OUTPUT_MAX: usize = 64 * 1024;
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Clone)]
pub struct CommandRunner {
    pub confinement: Confinement,
    pub workspace_root: PathBuf,
    pub work: PathBuf,
    pub home: PathBuf,
    pub tmp: PathBuf,
    /// Readable, not writable: the run's git directory.
    pub git_dir: PathBuf,
    pub allow_network: bool,
    pub timeout: Duration,
}

/// Kills what is left of a process group and reaps the members that became our children.
pub fn kill_leftovers(pgid: i32) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: plain syscalls on a group id we created.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
        let mut status = 0;
        while libc::waitpid(-pgid, &mut status, libc::WNOHANG) > 0 {}
    }
}

async fn read_capped(mut r: impl tokio::io::AsyncRead + Unpin) -> (Vec<u8>, usize) {
    let mut kept = Vec::new();
    let mut total = 0;
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n;
                let room = OUTPUT_MAX.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    (kept, total)
}

impl CommandRunner {
    pub async fn run(&self, input: &Value, cancel: &CancellationToken) -> ToolOutcome {
        let command = match &input["command"] {
            Value::String(s) if !s.trim().is_empty() => s.clone(),
            _ => return ToolOutcome::err("missing `command` (a non-empty string)"),
        };
        let timeout = match &input["timeout_ms"] {
            Value::Null => self.timeout,
            v => match v.as_u64().filter(|n| *n >= 1) {
                Some(ms) => Duration::from_millis(ms).min(self.timeout),
                None => return ToolOutcome::err("`timeout_ms` must be a whole number >= 1"),
            },
        };
        let writable = [self.work.clone(), self.home.clone(), self.tmp.clone()];
        let readable = [self.git_dir.clone()];
        let policy = match Policy::build(
            self.confinement,
            &RunPaths {
                workspace_root: &self.workspace_root,
                writable: &writable,
                readable: &readable,
            },
            self.allow_network,
        ) {
            Ok(p) => p,
            Err(e) => return ToolOutcome::err(format!("could not confine the command: {e}")),
        };
        let mut std_cmd = std::process::Command::new("/bin/sh");
        {
            use std::os::unix::process::CommandExt;
            std_cmd
                .arg("-c")
                .arg(&command)
                .current_dir(&self.work)
                .env_clear()
                .env("PATH", PATH)
                .env("HOME", &self.home)
                .env("TMPDIR", &self.tmp)
                .env("LANG", "C.UTF-8")
                .env("TERM", "dumb")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0);
        }
        policy.install(&mut std_cmd);
        let mut cmd = tokio::process::Command::from(std_cmd);
        cmd.kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return ToolOutcome::err(format!("could not start the command: {e}")),
        };
        let pgid = child.id().map(|p| p as i32).unwrap_or(0);
        let stdout = tokio::spawn(read_capped(child.stdout.take().expect("piped")));
        let stderr = tokio::spawn(read_capped(child.stderr.take().expect("piped")));
        let started = std::time::Instant::now();
        enum End {
            Exited(Option<i32>),
            TimedOut,
            Interrupted,
        }
        let end = tokio::select! {
            s = child.wait() => End::Exited(s.ok().and_then(|s| s.code())),
            _ = tokio::time::sleep(timeout) => End::TimedOut,
            _ = cancel.cancelled() => End::Interrupted,
        };
        // Whatever ended it, nothing of the command survives it.
        kill_leftovers(pgid);
        let _ = child.wait().await;
        kill_leftovers(pgid);
        let grace = Duration::from_secs(2);
        let (out, out_total) = tokio::time::timeout(grace, stdout)
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default();
        let (err, err_total) = tokio::time::timeout(grace, stderr)
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default();
        let mut text = String::new();
        let (head, is_error) = match end {
            End::Exited(Some(0)) => ("exit code: 0".to_string(), false),
            End::Exited(Some(c)) => (format!("exit code: {c}"), true),
            End::Exited(None) => ("killed by a signal".to_string(), true),
            End::TimedOut => (
                format!(
                    "timed out after {} ms; the command and everything it started were killed",
                    timeout.as_millis()
                ),
                true,
            ),
            End::Interrupted => ("interrupted; the command was killed".to_string(), true),
        };
        text.push_str(&head);
        text.push_str(&format!(" ({:.1} s)\n", started.elapsed().as_secs_f64()));
        for (name, bytes, total) in [("stdout", out, out_total), ("stderr", err, err_total)] {
            if total == 0 {
                continue;
            }
            text.push_str(&format!("--- {name} ---\n"));
            text.push_str(&cap(&String::from_utf8_lossy(&bytes), OUTPUT_MAX));
            if total > bytes.len() {
                text.push_str(&format!(
                    "\n[... {} more bytes not shown ...]",
                    total - bytes.len()
                ));
            }
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        ToolOutcome {
            content: text,
            is_error,
        }
    }
}
