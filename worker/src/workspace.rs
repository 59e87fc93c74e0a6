//! One run's directory and repository: `<root>/<run id>/{work,git,home,tmp}`. The checkout
//! (`work`) is what tools and commands may change; the git directory sits beside it, outside
//! every writable path. The branch is checked out (follow-up) or created from the base.

use std::path::{Path, PathBuf};

use crate::git::{Git, GitError, check_branch, url_protocol};
use crate::protocol::WorkspaceSpec;
use webedt_providers::outbound::Outbound;

pub struct RunDir {
    pub root: PathBuf,
    pub work: PathBuf,
    pub git_dir: PathBuf,
    pub home: PathBuf,
    pub tmp: PathBuf,
}

impl RunDir {
    pub fn create(workspace_root: &Path, id: &str) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let root = workspace_root.join(id);
        let dir = |p: &Path| {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(p)
        };
        dir(&root)?;
        let d = Self {
            work: root.join("work"),
            git_dir: root.join("git"),
            home: root.join("home"),
            tmp: root.join("tmp"),
            root,
        };
        dir(&d.home)?;
        dir(&d.tmp)?;
        Ok(d)
    }
}

/// The repository of a run, ready for the agent.
pub struct Repo {
    pub git: Git,
    pub spec: WorkspaceSpec,
    /// Where the branch left the base: the diff of `changes` is `base_commit..HEAD`.
    pub base_commit: String,
    /// The branch tip on the remote (what the next run must expect); `None` before a push.
    pub pushed_head: Option<String>,
}

/// Validates the workspace part of a request: every message is fit for the user.
pub async fn validate(spec: &WorkspaceSpec, protocols: &[String]) -> Result<(), String> {
    match url_protocol(&spec.repository_url) {
        Some(p) if protocols.iter().any(|a| a == p) => {}
        Some(p) => {
            return Err(format!(
                "repository URLs with `{p}://` are not allowed on this worker (allowed: {})",
                protocols.join(", ")
            ));
        }
        None => return Err("the repository URL must look like https://host/owner/repo.git".into()),
    }
    if !spec.working_branch.starts_with("webedt/") {
        return Err(format!(
            "the working branch must start with `webedt/`, got `{}`",
            spec.working_branch
        ));
    }
    check_branch(&spec.working_branch).await.map_err(|e| e.0)?;
    check_branch(&spec.base_branch).await.map_err(|e| e.0)?;
    let bad = |s: &str| s.trim().is_empty() || s.contains(['\n', '\r', '<', '>', '\0']);
    if bad(&spec.author.name) || bad(&spec.author.email) {
        return Err("the commit author needs a name and an email".into());
    }
    if let Some(h) = &spec.expected_head
        && !(h.len() >= 7 && h.len() <= 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err("expectedHead must be a commit sha".into());
    }
    Ok(())
}

/// Checks the remote's host like the API checks hosts users name (HTTPS, public addresses,
/// unless allowlisted) and returns the pin for git. The API checked it when the session was
/// created, but DNS may answer differently now: this is the lookup git will actually use.
async fn vet_remote(url: &str, outbound: &Outbound) -> Result<Option<String>, String> {
    if url_protocol(url) == Some("file") {
        return Ok(None);
    }
    let parsed = url::Url::parse(url)
        .map_err(|_| "the repository URL must look like https://host/owner/repo.git".to_string())?;
    let vetted = outbound
        .vet(&parsed)
        .await
        .map_err(|e| format!("repository: {e}"))?;
    Ok(vetted.curl_resolve())
}

pub async fn prepare(
    dir: &RunDir,
    spec: &WorkspaceSpec,
    protocols: &[String],
    outbound: &Outbound,
) -> Result<Repo, String> {
    let pin = vet_remote(&spec.repository_url, outbound).await?;
    let git = Git::new(
        dir.git_dir.clone(),
        dir.work.clone(),
        dir.home.clone(),
        protocols,
        spec.credential.clone(),
        pin,
    );
    let e = |e: GitError| e.0;
    let url = spec.repository_url.as_str();
    let remote_working = git
        .remote_head(url, &spec.working_branch)
        .await
        .map_err(e)?;
    let base_commit;
    match &remote_working {
        Some(tip) => {
            if spec.expected_head.as_deref() != Some(tip.as_str()) {
                return Err(format!(
                    "branch moved: `{}` on the remote is at {} but this session expected {}; nothing was pushed",
                    spec.working_branch,
                    &tip[..tip.len().min(12)],
                    spec.expected_head
                        .as_deref()
                        .map(|h| &h[..h.len().min(12)])
                        .unwrap_or("no branch")
                ));
            }
            git.clone_repo(url, &spec.working_branch, false)
                .await
                .map_err(e)?;
            git.fetch(&spec.base_branch).await.map_err(e)?;
            let base_ref = format!("refs/remotes/origin/{}", spec.base_branch);
            base_commit = match git.run(true, &["merge-base", "HEAD", &base_ref]).await {
                Ok(o) => o.stdout.trim().to_string(),
                Err(_) => git.rev_parse(&base_ref).await.map_err(e)?,
            };
        }
        None => {
            if git
                .remote_head(url, &spec.base_branch)
                .await
                .map_err(e)?
                .is_none()
            {
                return Err(format!(
                    "the repository has no branch `{}` (is it empty?)",
                    spec.base_branch
                ));
            }
            git.clone_repo(url, &spec.base_branch, true)
                .await
                .map_err(e)?;
            let b = format!("-b{}", spec.working_branch);
            git.run(true, &["checkout", "--quiet", &b])
                .await
                .map_err(e)?;
            base_commit = git.rev_parse("HEAD").await.map_err(e)?;
        }
    }
    Ok(Repo {
        git,
        spec: spec.clone(),
        base_commit,
        pushed_head: remote_working,
    })
}

/// Bytes under `p` (symlinks not followed).
pub fn disk_usage(p: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.len();
            }
        }
    }
    total
}
