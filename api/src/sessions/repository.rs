//! The repository a code session works on: checked when the session is created, so a bad
//! URL or branch is a 422 naming the field rather than a failed run later. API pods never run
//! git (their image has none), so branch names are checked here with git's ref-format rules.

use std::path::Path;
use uuid::Uuid;

use crate::error::{AppError, AppResult, ErrorCode};

const MAX_URL: usize = 2048;
const MAX_BRANCH: usize = 200;

/// A validated `{repository, baseBranch}` and the session's own working branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSpec {
    /// `https://…`, or `file://…` (local run only).
    pub repository: String,
    pub base_branch: String,
}

/// The branch a session's runs commit to: `webedt/` and the session id's 32 hex digits (unique,
/// and recognisable as WebEDT's in the repository's branch list).
pub fn working_branch(session: Uuid) -> String {
    format!("webedt/{}", session.simple())
}

fn invalid_repository(message: impl Into<String>) -> AppError {
    AppError::Unprocessable {
        code: ErrorCode::InvalidRepository,
        field: "repository",
        message: message.into(),
    }
}

fn invalid_branch(message: impl Into<String>) -> AppError {
    AppError::Unprocessable {
        code: ErrorCode::InvalidBranch,
        field: "baseBranch",
        message: message.into(),
    }
}

/// Checks `repository` and `base_branch`. `local`: the local run, where the in-process worker
/// may read a repository on this machine (an existing directory, given as a path or `file://`
/// URL); everywhere else only `https://` URLs are accepted.
///
/// `http://` is accepted only for hosts of `OUTBOUND_ALLOWED_HOSTS` (test fakes, a company
/// server the operator vouched for).
pub fn validate(
    repository: &str,
    base_branch: Option<&str>,
    local: bool,
    outbound: &crate::outbound::Outbound,
) -> AppResult<RepoSpec> {
    let raw = repository.trim();
    if raw.is_empty() || raw.len() > MAX_URL || raw.chars().any(char::is_control) {
        return Err(invalid_repository(format!(
            "repository: must be 1 to {MAX_URL} characters without control characters"
        )));
    }
    let plain_http = raw.starts_with("http://")
        && url::Url::parse(raw).is_ok_and(|u| outbound.admits_plain_http(&u));
    let repository = if raw.starts_with("https://") || plain_http {
        https_url(raw)?
    } else if local && (raw.starts_with("file://") || !raw.contains("://")) {
        local_repository(raw)?
    } else if local {
        return Err(invalid_repository(
            "repository: must be an https:// URL, a file:// URL or a path on this machine",
        ));
    } else {
        return Err(invalid_repository(
            "repository: must be an https:// URL (local paths work only in the local run)",
        ));
    };
    let base_branch = base_branch
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| invalid_branch("baseBranch: is required with a repository"))?;
    check_branch_name(base_branch)
        .map_err(|why| invalid_branch(format!("baseBranch: `{base_branch}` {why}")))?;
    Ok(RepoSpec {
        repository,
        base_branch: base_branch.to_string(),
    })
}

/// The SSRF guard for a repository's host (crate::outbound): a host that resolves to loopback,
/// private, link-local or cluster addresses is refused unless allowlisted. One that does not
/// resolve now passes (no address, nothing to reach; the run reports it); the lookup is bounded
/// so a slow resolver cannot hold the request.
pub async fn check_host(outbound: &crate::outbound::Outbound, repository: &str) -> AppResult<()> {
    use crate::outbound::OutboundError;
    let Ok(url) = url::Url::parse(repository) else {
        return Ok(());
    };
    if url.scheme() == "file" {
        return Ok(());
    }
    let vetted = tokio::time::timeout(std::time::Duration::from_secs(3), outbound.vet(&url)).await;
    match vetted {
        Ok(Err(e @ (OutboundError::Forbidden { .. } | OutboundError::NotHttps))) => {
            Err(AppError::Unprocessable {
                code: ErrorCode::HostForbidden,
                field: "repository",
                message: format!("repository: {e}"),
            })
        }
        _ => Ok(()),
    }
}

fn https_url(raw: &str) -> AppResult<String> {
    let url = url::Url::parse(raw)
        .map_err(|e| invalid_repository(format!("repository: not a valid URL ({e})")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid_repository("repository: the URL needs a host"));
    }
    // A token in the URL would be stored and shown with the session; credentials come from
    // connections, never from here. The message does not repeat the URL for the same reason.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid_repository(
            "repository: the URL must not contain a user name or password",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid_repository(
            "repository: the URL must not have a query or fragment",
        ));
    }
    if url.path().trim_matches('/').is_empty() {
        return Err(invalid_repository(
            "repository: the URL must name a repository, like https://host/owner/repo.git",
        ));
    }
    Ok(url.to_string())
}

/// A path (absolute, or relative to the server's working directory) or `file://` URL of an
/// existing directory, as the `file://` URL the worker clones.
fn local_repository(raw: &str) -> AppResult<String> {
    let path = if raw.starts_with("file://") {
        url::Url::parse(raw)
            .ok()
            .filter(|u| u.host_str().is_none_or(str::is_empty))
            .and_then(|u| u.to_file_path().ok())
            .ok_or_else(|| {
                invalid_repository("repository: not a valid file:// URL (file:///absolute/path)")
            })?
    } else {
        std::path::absolute(Path::new(raw))
            .map_err(|e| invalid_repository(format!("repository: not a usable path ({e})")))?
    };
    if !path.is_dir() {
        return Err(invalid_repository(format!(
            "repository: `{}` is not a directory on this machine",
            path.display()
        )));
    }
    let url = url::Url::from_file_path(&path)
        .map_err(|()| invalid_repository("repository: the path must be absolute"))?;
    Ok(url.to_string())
}

/// git's rules for a branch name (`git check-ref-format --branch`), plus the worker's: no `@`
/// at all and at most 200 bytes. `Err` says what is wrong.
pub fn check_branch_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_BRANCH {
        return Err("must be 1 to 200 bytes");
    }
    if name.starts_with('-') {
        return Err("must not start with `-`");
    }
    if name == "HEAD" {
        return Err("is not allowed as a branch name");
    }
    if name.contains('@') {
        return Err("must not contain `@`");
    }
    if name.chars().any(|c| {
        c.is_ascii_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    }) {
        return Err("must not contain spaces, control characters or any of ~ ^ : ? * [ \\");
    }
    if name.contains("..") {
        return Err("must not contain `..`");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Err("must not start or end with `/` or contain `//`");
    }
    if name.ends_with('.') {
        return Err("must not end with `.`");
    }
    for part in name.split('/') {
        if part.starts_with('.') {
            return Err("must not have a part starting with `.`");
        }
        if part.ends_with(".lock") {
            return Err("must not have a part ending with `.lock`");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &[
        "main",
        "master",
        "feature/x",
        "release/1.2",
        "a-b_c",
        "ünïcode",
        "webedt/0123456789abcdef",
        "",
        "-x",
        "HEAD",
        "a@b",
        "@",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[",
        "a\\b",
        "a\tb",
        "a..b",
        "/a",
        "a/",
        "a//b",
        "a.",
        ".a",
        "a/.b",
        "a.lock",
        "a/b.lock/c",
        "a.lock.x",
        "x/y.z",
    ];

    /// Our pure check agrees with git itself on every name it lets through (it may refuse
    /// more: `@` anywhere, like the worker).
    #[test]
    fn branch_names_follow_gits_ref_format_rules() {
        for name in NAMES {
            let ours = check_branch_name(name).is_ok();
            let git = std::process::Command::new("git")
                .args(["check-ref-format", "--branch", name])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .expect("git is installed where the tests run")
                .success();
            if ours {
                assert!(git, "we accept `{name}`, git refuses it");
            } else {
                assert!(
                    !git || name.contains('@'),
                    "we refuse `{name}`, git accepts it"
                );
            }
        }
        assert!(check_branch_name("main").is_ok());
        assert!(check_branch_name(&"a".repeat(201)).is_err());
    }

    fn code(e: AppError) -> &'static str {
        e.code().as_str()
    }

    #[test]
    fn plain_http_only_for_allowlisted_hosts() {
        let fake = crate::outbound::Outbound::new(&["127.0.0.1:8080".into()]);
        let ok = validate("http://127.0.0.1:8080/o/r.git", Some("main"), false, &fake).unwrap();
        assert_eq!(ok.repository, "http://127.0.0.1:8080/o/r.git");
        for bad in [
            "http://127.0.0.1:8081/o/r.git",
            "http://example.com/o/r.git",
        ] {
            let e = validate(bad, Some("main"), false, &fake).unwrap_err();
            assert_eq!(code(e), "invalid_repository", "{bad}");
        }
    }

    #[test]
    fn https_urls_are_checked_and_never_carry_credentials() {
        let ok = validate(
            "https://github.com/o/r.git",
            Some("main"),
            false,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(ok.repository, "https://github.com/o/r.git");
        assert_eq!(ok.base_branch, "main");
        for bad in [
            "http://github.com/o/r.git",
            "https://tok@github.com/o/r.git",
            "https://x:tok@github.com/o/r.git",
            "https://github.com/",
            "https://github.com/o/r?x=1",
            "git@github.com:o/r.git",
            "ssh://github.com/o/r",
            "/tmp",
            "file:///tmp",
        ] {
            assert_eq!(
                code(validate(bad, Some("main"), false, &Default::default()).unwrap_err()),
                "invalid_repository",
                "{bad}"
            );
        }
        let e = validate(
            "https://x:tok-SECRET@h/o/r",
            Some("main"),
            false,
            &Default::default(),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("SECRET"));
        assert_eq!(
            code(validate("https://h/o/r", None, false, &Default::default()).unwrap_err()),
            "invalid_branch"
        );
        assert_eq!(
            code(validate("https://h/o/r", Some("a..b"), false, &Default::default()).unwrap_err()),
            "invalid_branch"
        );
    }

    #[test]
    fn local_paths_only_in_the_local_run_and_only_existing_directories() {
        let dir = std::env::temp_dir();
        let path = dir.to_str().unwrap();
        let expected = url::Url::from_file_path(&dir).unwrap().to_string();
        assert_eq!(
            validate(path, Some("main"), true, &Default::default())
                .unwrap()
                .repository,
            expected
        );
        assert_eq!(
            validate(&expected, Some("main"), true, &Default::default())
                .unwrap()
                .repository,
            expected
        );
        assert!(
            validate(
                "/no/such/dir/for/webedt",
                Some("main"),
                true,
                &Default::default()
            )
            .is_err()
        );
        assert!(validate("file://host/x", Some("main"), true, &Default::default()).is_err());
        assert!(validate("ssh://h/o/r", Some("main"), true, &Default::default()).is_err());
        assert!(validate(path, Some("main"), false, &Default::default()).is_err());
        assert_eq!(
            working_branch(Uuid::nil()),
            "webedt/00000000000000000000000000000000"
        );
    }
}
