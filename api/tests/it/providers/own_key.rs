//! The user's own AI key (issue 17): added through `POST /api/connections/ai-key` (base URL
//! through the SSRF guard), stored encrypted, never in a response or a log line; that user's runs
//! go to their base URL with their key, not the deployment's; `REQUIRE_USER_KEYS` refuses runs
//! that would spend the deployment's key.

use super::*;
use crate::connections::Logs;

const USER_KEY: &str = "sk-user-OWN-key-never-logged-5d1e";
const KEYS: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

fn host_of(fake: &Fake) -> String {
    fake.base.trim_start_matches("http://").to_string()
}

impl Run {
    async fn add_key(&self, body: Value) -> (u16, String) {
        let res = self
            .app
            .call(
                &self.token,
                Method::POST,
                "/api/connections/ai-key",
                Some(body),
            )
            .await;
        (res.status().as_u16(), res.text().await.unwrap())
    }
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn runs_use_the_users_own_key_at_their_base_url_and_the_key_never_leaks() {
    let logs = Logs::default();
    let _capture = logs.capture();
    let kind = Kind::Anthropic;
    let deployment = Fake::start(vec![stream(kind.text_stream(&["deployment"], true))]).await;
    let own = Fake::start(vec![stream(kind.text_stream(&["Yours."], true))]).await;
    let allowed = host_of(&own);
    let run = setup(
        kind,
        &deployment,
        &[
            (CREDENTIALS_KEYS, KEYS),
            (OUTBOUND_ALLOWED_HOSTS, allowed.as_str()),
        ],
    )
    .await;

    // The SSRF guard: plain http, loopback and private addresses are refused unless allowlisted.
    for base in [
        "http://example.com/v1",
        "https://127.0.0.1/v1",
        "https://10.1.2.3/v1",
        "https://169.254.169.254/latest",
    ] {
        let (status, body) = run
            .add_key(json!({"provider": "openai", "baseUrl": base, "key": USER_KEY}))
            .await;
        assert_eq!(
            (status, code(&body).as_str()),
            (422, "host_forbidden"),
            "{base}: {body}"
        );
        assert!(!body.contains(USER_KEY));
    }

    let (status, body) = run
        .add_key(
            json!({"provider": "anthropic", "baseUrl": format!("{}/", own.base), "key": USER_KEY}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(!body.contains(USER_KEY), "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(created["kind"], "ai_key");
    assert_eq!(created["provider"], "anthropic");
    assert_eq!(created["host"], own.base);
    let (status, body) = run
        .add_key(json!({"provider": "anthropic", "key": "another"}))
        .await;
    assert_eq!((status, code(&body).as_str()), (409, "connection_exists"));

    let (status, events) = run.turn("Hello with my key").await;
    assert_eq!(status, "completed", "{events:?}");
    assert_eq!(texts(&events), "Yours.");
    let sent = own.requests(kind.path());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].headers["x-api-key"], USER_KEY);
    assert!(
        deployment.requests(kind.path()).is_empty(),
        "the deployment's key was not used"
    );

    // Not in clear in the database, not in any response, not in the logs.
    let secret: Vec<u8> = sqlx::query_scalar("SELECT secret FROM connections")
        .fetch_one(&run.app.state.db)
        .await
        .unwrap();
    assert!(
        !secret
            .windows(USER_KEY.len())
            .any(|w| w == USER_KEY.as_bytes())
    );
    for path in [
        "/api/connections".to_string(),
        "/api/providers".to_string(),
        format!("/api/sessions/{}/events", run.session),
    ] {
        let text = run
            .app
            .call(&run.token, Method::GET, &path, None)
            .await
            .text()
            .await
            .unwrap();
        assert!(!text.contains(USER_KEY), "{path}: {text}");
    }
    let providers = run.get("/api/providers").await;
    let anthropic = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "anthropic")
        .unwrap()
        .clone();
    assert_eq!(anthropic["ownKey"], true);

    // Removed: runs are back on the deployment's key.
    let id = created["id"].as_str().unwrap();
    let res = run
        .app
        .call(
            &run.token,
            Method::DELETE,
            &format!("/api/connections/{id}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let (status, _) = run.turn("And now?").await;
    assert_eq!(status, "completed");
    assert_eq!(
        deployment.requests(kind.path())[0].headers["x-api-key"],
        KEY
    );
    assert!(!logs.text().contains(USER_KEY), "the key was logged");
}

#[tokio::test]
async fn an_own_openai_compatible_key_enables_the_provider_and_require_user_keys_gates_runs() {
    let kind = Kind::OpenAi;
    // The deployment configures Anthropic only (against a fake nobody should call).
    let unused = Fake::start(vec![status(500, json!({}))]).await;
    let own = Fake::start(vec![stream(kind.text_stream(&["Local model."], true))]).await;
    let allowed = host_of(&own);
    let run = setup(
        Kind::Anthropic,
        &unused,
        &[
            (CREDENTIALS_KEYS, KEYS),
            (OUTBOUND_ALLOWED_HOSTS, allowed.as_str()),
            (REQUIRE_USER_KEYS, "true"),
        ],
    )
    .await;

    // Without an own key: the deployment's provider is refused, the demo is not.
    let res = run.app.send(&run.token, &run.session, "hi").await;
    assert_eq!(res.status(), 403);
    let body = res.text().await.unwrap();
    assert_eq!(code(&body), "user_key_required");
    let res = run
        .app
        .call(
            &run.token,
            Method::POST,
            &format!("/api/sessions/{}/send", run.session),
            Some(json!({"message": "demo please", "provider": "demo"})),
        )
        .await;
    assert_eq!(res.status(), 202);
    run.wait_finished().await;

    let (status, body) = run
        .add_key(json!({"provider": "openai", "baseUrl": format!("{}/v1", own.base), "key": USER_KEY, "model": "llama3.2"}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["login"],
        "llama3.2"
    );
    let providers = run.get("/api/providers").await;
    let openai = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "openai")
        .expect("listed through the own key")
        .clone();
    assert_eq!(openai["ownKey"], true);
    assert_eq!(openai["models"], json!(["llama3.2"]));

    let res = run
        .app
        .call(
            &run.token,
            Method::POST,
            &format!("/api/sessions/{}/send", run.session),
            Some(json!({"message": "hello local", "provider": "openai"})),
        )
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let s = run.wait_finished().await;
    assert_eq!(s["status"], "completed", "{s}");
    let sent = own.requests(kind.path());
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].headers["authorization"],
        format!("Bearer {USER_KEY}").as_str()
    );
    assert_eq!(sent[0].body["model"], "llama3.2");
    assert!(unused.requests("/v1/messages").is_empty());
    // Anthropic still needs a key of the user's own.
    let res = run
        .app
        .call(
            &run.token,
            Method::POST,
            &format!("/api/sessions/{}/send", run.session),
            Some(json!({"message": "and anthropic?", "provider": "anthropic"})),
        )
        .await;
    assert_eq!(res.status(), 403);
}
