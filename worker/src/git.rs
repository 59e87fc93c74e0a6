//! Git for one run, through the `git` CLI, hardened so neither the repository nor the model can
//! turn it against the worker: no system or global config, no hooks, no fsmonitor, only the
//! allowed protocols, `--` before positional arguments, and the credential only in the
//! environment of the git process (a credential helper reading two variables), never in
//! `.git/config`, argv, events or logs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::protocol::{Author, Changes, Credential, FileChange};

pub const COMMITTER_NAME: &str = "WebEDT";
pub const COMMITTER_EMAIL: &str = "webedt@users.noreply.webedt.dev";
/// Most of a unified diff carried by a `changes` event.
pub const DIFF_MAX: usize = 256 * 1024;
const GIT_TIMEOUT: Duration = Duration::from_secs(300);
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Runs `get` only: prints the username and token from the git process's environment.
const CREDENTIAL_HELPER: &str = "!f() { test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' \"$WEBEDT_GIT_USERNAME\" \"$WEBEDT_GIT_TOKEN\"; }; f";

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GitError(pub String);

#[derive(Clone)]
pub struct Git {
    pub git_dir: PathBuf,
    pub work: PathBuf,
    home: PathBuf,
    protocols: String,
    credential: Option<Credential>,
    /// A curl `--resolve` entry for the remote's host (the addresses the worker vetted), so git
    /// connects exactly there and a second DNS answer cannot send it elsewhere.
    pin: Option<String>,
}

pub struct Output {
    pub stdout: String,
}

/// Checks a branch name with git's own rules plus ours (no `@`, no leading `-`, bounded).
pub async fn check_branch(name: &str) -> Result<(), GitError> {
    if name.is_empty() || name.len() > 200 || name.contains('@') || name.starts_with('-') {
        return Err(GitError(format!("`{name}` is not a valid branch name")));
    }
    let status = tokio::process::Command::new("git")
        .env_clear()
        .env("PATH", PATH)
        .args(["check-ref-format", "--branch", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map_err(|e| GitError(format!("could not run git: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(GitError(format!("`{name}` is not a valid branch name")))
    }
}

/// The protocol of a repository URL (`https`, `file`, …), if it is one git would take as a URL.
pub fn url_protocol(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    (!scheme.is_empty() && !rest.is_empty() && scheme.chars().all(|c| c.is_ascii_lowercase()))
        .then_some(scheme)
}

impl Git {
    pub fn new(
        git_dir: PathBuf,
        work: PathBuf,
        home: PathBuf,
        protocols: &[String],
        credential: Option<Credential>,
        pin: Option<String>,
    ) -> Self {
        Self {
            git_dir,
            work,
            home,
            protocols: protocols.join(":"),
            credential,
            pin,
        }
    }

    fn command(&self, in_repo: bool) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("git");
        c.env_clear()
            .env("PATH", PATH)
            .env("HOME", &self.home)
            .env("LANG", "C.UTF-8")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_ALLOW_PROTOCOL", &self.protocols)
            .env("GIT_PROTOCOL_FROM_USER", "0")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "/bin/false")
            .env("GIT_CONFIG_COUNT", "2")
            // An empty helper first resets any inherited helper list.
            .env("GIT_CONFIG_KEY_0", "credential.helper")
            .env("GIT_CONFIG_VALUE_0", "")
            .env("GIT_CONFIG_KEY_1", "credential.helper")
            .env(
                "GIT_CONFIG_VALUE_1",
                if self.credential.is_some() {
                    CREDENTIAL_HELPER
                } else {
                    ""
                },
            )
            .args([
                "-c",
                "core.hooksPath=/dev/null",
                "-c",
                "core.fsmonitor=false",
                "-c",
                "core.sshCommand=false",
                "-c",
                "core.pager=cat",
                "-c",
                "diff.external=",
                "-c",
                "protocol.version=2",
                // A redirect could name any host, unvetted and unpinned.
                "-c",
                "http.followRedirects=false",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(pin) = &self.pin {
            c.arg("-c").arg(format!("http.curloptResolve={pin}"));
        }
        if let Some(cred) = &self.credential {
            c.env("WEBEDT_GIT_USERNAME", &cred.username)
                .env("WEBEDT_GIT_TOKEN", cred.token.expose());
        }
        if in_repo {
            // Explicit, so a rewritten `.git` pointer file in the checkout is never followed.
            c.env("GIT_DIR", &self.git_dir)
                .env("GIT_WORK_TREE", &self.work)
                .current_dir(&self.work);
        } else {
            c.current_dir(&self.home);
        }
        c
    }

    /// Runs git; a failure carries git's own message with the token (if any) scrubbed.
    pub async fn run(&self, in_repo: bool, args: &[&str]) -> Result<Output, GitError> {
        self.run_with(in_repo, args, &[], None).await
    }

    async fn run_with(
        &self,
        in_repo: bool,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> Result<Output, GitError> {
        let mut c = self.command(in_repo);
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        let mut child = c
            .spawn()
            .map_err(|e| GitError(format!("could not run git: {e}")))?;
        if let Some(data) = stdin {
            use tokio::io::AsyncWriteExt;
            let mut pipe = child.stdin.take().expect("piped");
            pipe.write_all(data)
                .await
                .map_err(|e| GitError(format!("git: {e}")))?;
        }
        let out = tokio::time::timeout(GIT_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| GitError(format!("git {} took too long", args[0])))?
            .map_err(|e| GitError(format!("git: {e}")))?;
        if !out.status.success() {
            let err = self.scrub(&String::from_utf8_lossy(&out.stderr));
            let err = err.trim();
            return Err(GitError(format!(
                "git {} failed: {}",
                args[0],
                if err.is_empty() { "no message" } else { err }
            )));
        }
        Ok(Output {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        })
    }

    fn scrub(&self, s: &str) -> String {
        match &self.credential {
            Some(c) if !c.token.expose().is_empty() => s.replace(c.token.expose(), "***"),
            _ => s.to_string(),
        }
    }

    /// The tip of `branch` on the remote, if it has that branch.
    pub async fn remote_head(&self, url: &str, branch: &str) -> Result<Option<String>, GitError> {
        let refname = format!("refs/heads/{branch}");
        let out = self
            .run(false, &["ls-remote", "--heads", "--", url, &refname])
            .await?;
        Ok(out
            .stdout
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .find(|(_, r)| *r == refname)
            .map(|(sha, _)| sha.to_string()))
    }

    /// Clones `branch` into the checkout with the git directory outside it. `shallow`: only the
    /// tip (a fresh branch); otherwise the branch's history, still without blobs.
    pub async fn clone_repo(&self, url: &str, branch: &str, shallow: bool) -> Result<(), GitError> {
        let git_dir = self.git_dir.to_string_lossy().into_owned();
        let work = self.work.to_string_lossy().into_owned();
        let mut args = vec![
            "clone",
            "--quiet",
            "--no-tags",
            "--single-branch",
            "--filter=blob:none",
            "--branch",
            branch,
            "--separate-git-dir",
            &git_dir,
        ];
        if shallow {
            args.push("--depth=1");
        }
        args.extend(["--", url, &work]);
        self.run(false, &args).await.map(|_| ())
    }

    /// Fetches `branch` of origin into `refs/remotes/origin/<branch>` (history, no blobs).
    pub async fn fetch(&self, branch: &str) -> Result<(), GitError> {
        let spec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
        self.run(
            true,
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--filter=blob:none",
                "origin",
                "--",
                &spec,
            ],
        )
        .await
        .map(|_| ())
    }

    pub async fn rev_parse(&self, what: &str) -> Result<String, GitError> {
        let arg = format!("{what}^{{commit}}");
        Ok(self
            .run(true, &["rev-parse", "--verify", "--quiet", &arg])
            .await?
            .stdout
            .trim()
            .to_string())
    }

    /// Stages everything and commits if anything changed; the new commit's sha, or `None`.
    pub async fn commit_all(
        &self,
        author: &Author,
        message: &str,
    ) -> Result<Option<String>, GitError> {
        self.run(true, &["add", "--all", "--", "."]).await?;
        let staged = self
            .run(true, &["diff", "--cached", "--name-only", "-z"])
            .await?;
        if staged.stdout.is_empty() {
            return Ok(None);
        }
        self.run_with(
            true,
            &[
                "commit",
                "--quiet",
                "--no-verify",
                "--no-gpg-sign",
                "-F",
                "-",
            ],
            &[
                ("GIT_AUTHOR_NAME", &author.name),
                ("GIT_AUTHOR_EMAIL", &author.email),
                ("GIT_COMMITTER_NAME", COMMITTER_NAME),
                ("GIT_COMMITTER_EMAIL", COMMITTER_EMAIL),
            ],
            Some(message.as_bytes()),
        )
        .await?;
        self.rev_parse("HEAD").await.map(Some)
    }

    /// Pushes HEAD to `refs/heads/<branch>`, never forced: a moved remote branch is refused.
    pub async fn push(&self, branch: &str) -> Result<(), GitError> {
        if !branch.starts_with("webedt/") {
            return Err(GitError(format!(
                "refusing to push `{branch}`: only webedt/… branches are pushed"
            )));
        }
        let spec = format!("HEAD:refs/heads/{branch}");
        self.run(true, &["push", "--quiet", "--porcelain", "origin", "--", &spec])
            .await
            .map(|_| ())
            .map_err(|e| {
                if e.0.contains("rejected") || e.0.contains("non-fast-forward") || e.0.contains("fetch first") {
                    GitError(format!("branch moved: the remote `{branch}` changed during the run; nothing was forced ({e})"))
                } else {
                    e
                }
            })
    }

    pub async fn status(&self) -> Result<String, GitError> {
        Ok(self
            .run(
                true,
                &["status", "--short", "--branch", "--untracked-files=all"],
            )
            .await?
            .stdout)
    }

    /// The working tree against HEAD (untracked files included, via intent-to-add in a
    /// throwaway index so the real one is untouched).
    pub async fn diff_worktree(&self, path: Option<&str>) -> Result<String, GitError> {
        let index = self.home.join("diff-index");
        let _ = std::fs::remove_file(&index);
        let index_s = index.to_string_lossy().into_owned();
        let env = [("GIT_INDEX_FILE", index_s.as_str())];
        self.run_with(true, &["read-tree", "HEAD"], &env, None)
            .await?;
        self.run_with(
            true,
            &["add", "--intent-to-add", "--all", "--", "."],
            &env,
            None,
        )
        .await?;
        let mut args = vec!["diff", "--no-color", "--no-ext-diff", "--"];
        if let Some(p) = path {
            args.push(p);
        }
        let out = self.run_with(true, &args, &env, None).await?;
        let _ = std::fs::remove_file(&index);
        Ok(out.stdout)
    }

    /// What the branch holds beyond `base`: files with +/- and the bounded unified diff.
    pub async fn changes(
        &self,
        base: &str,
        branch: &str,
        base_branch: &str,
        head_commit: Option<String>,
    ) -> Result<Changes, GitError> {
        let range = format!("{base}..HEAD");
        let numstat = self
            .run(
                true,
                &[
                    "diff",
                    "--no-color",
                    "--no-ext-diff",
                    "-M",
                    "--numstat",
                    "-z",
                    &range,
                    "--",
                ],
            )
            .await?
            .stdout;
        let status = self
            .run(
                true,
                &[
                    "diff",
                    "--no-color",
                    "--no-ext-diff",
                    "-M",
                    "--name-status",
                    "-z",
                    &range,
                    "--",
                ],
            )
            .await?
            .stdout;
        let files = parse_changes(&numstat, &status);
        let mut diff = self
            .run(
                true,
                &["diff", "--no-color", "--no-ext-diff", "-M", &range, "--"],
            )
            .await?
            .stdout;
        let truncated = diff.len() > DIFF_MAX;
        if truncated {
            let mut cut = DIFF_MAX;
            while !diff.is_char_boundary(cut) {
                cut -= 1;
            }
            diff.truncate(cut);
        }
        Ok(Changes {
            branch: branch.into(),
            base_branch: base_branch.into(),
            base_commit: base.into(),
            head_commit,
            files,
            diff,
            truncated,
        })
    }
}

/// Joins `--numstat -z` and `--name-status -z` output (same order) into file changes.
fn parse_changes(numstat: &str, status: &str) -> Vec<FileChange> {
    let mut st = status.split('\0').filter(|s| !s.is_empty());
    let mut statuses = Vec::new();
    while let Some(code) = st.next() {
        let renamed = code.starts_with('R') || code.starts_with('C');
        let path = if renamed {
            st.next();
            st.next()
        } else {
            st.next()
        };
        let kind = match code.chars().next() {
            Some('A') => "added",
            Some('D') => "deleted",
            Some('R') | Some('C') => "renamed",
            _ => "modified",
        };
        statuses.push((path.unwrap_or_default().to_string(), kind));
    }
    let mut out = Vec::new();
    let mut ns = numstat.split('\0');
    let mut i = 0;
    while let Some(entry) = ns.next() {
        if entry.is_empty() {
            continue;
        }
        let mut parts = entry.splitn(3, '\t');
        let add = parts.next().unwrap_or("0");
        let del = parts.next().unwrap_or("0");
        let mut path = parts.next().unwrap_or_default().to_string();
        if path.is_empty() {
            // A rename: the old and new paths follow as their own fields.
            ns.next();
            path = ns.next().unwrap_or_default().to_string();
        }
        let status = statuses
            .get(i)
            .filter(|(p, _)| *p == path)
            .map(|(_, k)| *k)
            .or_else(|| statuses.iter().find(|(p, _)| *p == path).map(|(_, k)| *k))
            .unwrap_or("modified");
        out.push(FileChange {
            path,
            status: status.into(),
            additions: add.parse().unwrap_or(0),
            deletions: del.parse().unwrap_or(0),
        });
        i += 1;
    }
    out
}

/// Removes a directory tree, tolerating its absence.
pub fn remove_dir(p: &Path) {
    if let Err(e) = std::fs::remove_dir_all(p)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %p.display(), error = %e, "could not remove a run directory");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_parse_numstat_and_name_status() {
        let numstat = "3\t1\tsrc/a.rs\0-\t-\tlogo.png\0".to_string() + "0\t0\t\0old.rs\0new.rs\0";
        let status = "M\0src/a.rs\0A\0logo.png\0R100\0old.rs\0new.rs\0";
        let files = parse_changes(&numstat, status);
        assert_eq!(files.len(), 3);
        assert_eq!(
            (
                files[0].path.as_str(),
                files[0].status.as_str(),
                files[0].additions,
                files[0].deletions
            ),
            ("src/a.rs", "modified", 3, 1)
        );
        assert_eq!(
            (files[1].path.as_str(), files[1].status.as_str()),
            ("logo.png", "added")
        );
        assert_eq!(
            (files[2].path.as_str(), files[2].status.as_str()),
            ("new.rs", "renamed")
        );
    }

    #[test]
    fn url_protocols() {
        assert_eq!(url_protocol("https://h/o/r.git"), Some("https"));
        assert_eq!(url_protocol("file:///tmp/r"), Some("file"));
        assert_eq!(url_protocol("/tmp/r"), None);
        assert_eq!(url_protocol("ext::sh -c x"), None);
    }
}
