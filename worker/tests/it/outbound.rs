//! Git remotes through the SSRF guard: hosts that resolve to non-public addresses are refused
//! before git runs, unless allowlisted; an allowlisted host name is pinned to the addresses the
//! worker vetted (git's `http.curloptResolve`), and git accepts the pin.

use crate::common::*;
use crate::remote::*;

fn demo() -> Option<ProviderSpec> {
    Some(ProviderSpec {
        kind: ProviderKind::Demo,
        model: None,
        api_key: None,
        base_url: None,
    })
}

fn error_of(events: &[WorkerEvent]) -> String {
    match events.last() {
        Some(WorkerEvent::Error { message }) => message.clone(),
        other => panic!("the run should fail, it ended with {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remotes_on_private_addresses_are_refused_before_git_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let projects = tmp.path().join("projects");
    std::fs::create_dir_all(&projects).unwrap();
    bare_repo(&projects, "repo");
    // A live remote on loopback, so a refusal cannot be a connection failure in disguise.
    let remote = http_remote(projects.clone()).await;
    let port = remote.rsplit(':').next().unwrap().to_string();
    let mut c = config(&tmp.path().join("root"));
    c.git_protocols = vec!["https".into(), "http".into()];
    c.outbound_allowed_hosts = vec![];
    let w = worker(c);
    for (url, want) in [
        (
            format!("https://localhost:{port}/repo.git"),
            "`localhost` is not allowed",
        ),
        (
            format!("https://127.0.0.1:{port}/repo.git"),
            "not allowed (loopback)",
        ),
        ("https://169.254.169.254/repo.git".to_string(), "link-local"),
        ("https://10.0.0.7/repo.git".to_string(), "private"),
        (format!("{remote}/repo.git"), "only https://"),
    ] {
        let events = run(&w, request("hello", Some(spec(&url, None)), demo())).await;
        let message = error_of(&events);
        assert!(message.contains(want), "{url}: {message}");
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, WorkerEvent::ToolUse { .. })),
            "{url}: the agent never started"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlisted_host_name_is_pinned_and_git_accepts_the_pin() {
    let tmp = tempfile::tempdir().unwrap();
    let projects = tmp.path().join("projects");
    std::fs::create_dir_all(&projects).unwrap();
    let bare = bare_repo(&projects, "repo");
    let remote = http_remote(projects.clone()).await;
    let port = remote.rsplit(':').next().unwrap().to_string();
    let mut c = config(&tmp.path().join("root"));
    c.outbound_allowed_hosts = vec![format!("localhost:{port}")];
    let w = worker(c);
    let mut s = spec(&format!("http://localhost:{port}/repo.git"), None);
    s.credential = Some(Credential {
        username: "x-access-token".into(),
        token: Secret::new(TOKEN),
    });
    let events = run(&w, request("Mention the tests", Some(s), demo())).await;
    assert_completed(&events);
    let head = last_changes(&events).head_commit.expect("pushed");
    assert_eq!(
        git(&bare, &["rev-parse", "webedt/0123456789abcdef"]).trim(),
        head
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_the_run_brings_goes_through_the_guard() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = config(&tmp.path().join("root"));
    c.outbound_allowed_hosts = vec![];
    let w = worker(c);
    for (base, want) in [
        ("https://10.0.0.9/v1", "(private)"),
        ("https://169.254.169.254/v1", "(link-local)"),
        ("http://api.example.com/v1", "only https://"),
    ] {
        let events = run(
            &w,
            request(
                "hello",
                None,
                Some(crate::fakes::provider(
                    ProviderKind::Openai,
                    base,
                    "sk-USERKEY",
                )),
            ),
        )
        .await;
        let message = error_of(&events);
        assert!(
            message.contains("the provider's base URL") && message.contains(want),
            "{base}: {message}"
        );
        assert!(!format!("{events:?}").contains("sk-USERKEY"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_follows_no_redirect_to_an_unvetted_host() {
    let tmp = tempfile::tempdir().unwrap();
    let projects = tmp.path().join("projects");
    std::fs::create_dir_all(&projects).unwrap();
    bare_repo(&projects, "repo");
    let remote = http_remote(projects.clone()).await;
    // A vetted host that answers every request with a redirect to the real remote (which a
    // redirect could just as well make an internal address).
    let target = remote.clone();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let target = target.clone();
        async move {
            let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            (
                StatusCode::MOVED_PERMANENTLY,
                [("location", format!("{target}{}{query}", uri.path()))],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let w = worker(config(&tmp.path().join("root")));
    let mut s = spec(&format!("{redirector}/repo.git"), None);
    s.credential = Some(Credential {
        username: "x-access-token".into(),
        token: Secret::new(TOKEN),
    });
    let events = run(&w, request("Mention the tests", Some(s.clone()), demo())).await;
    // The run fails (git refuses the 301) without the token in any event.
    error_of(&events);
    assert!(!format!("{events:?}").contains(TOKEN));
    // The same spec straight at the remote works: the redirect alone made it fail.
    s.repository_url = format!("{remote}/repo.git");
    let events = run(&w, request("Mention the tests", Some(s), demo())).await;
    assert_completed(&events);
}
