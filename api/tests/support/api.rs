//! `Api`: the requests every test makes against one server (an in-process `TestApp` or a
//! replica process), so no test file re-implements registering, logging in or streaming.

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

/// The password of accounts made with [`Api::register`].
pub const PASSWORD: &str = "password 123";

/// A client of one server at `base` (`http://127.0.0.1:port`).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(base: String, client: reqwest::Client) -> Self {
        Self { base, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Registers `email` with [`PASSWORD`]; returns the session token.
    pub async fn register(&self, email: &str) -> String {
        self.register_user(email, PASSWORD, None).await.0
    }

    /// Registers an account (expecting 201); returns the session token and the response body.
    pub async fn register_user(
        &self,
        email: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> (String, Value) {
        let mut body = json!({ "email": email, "password": password });
        if let Some(name) = display_name {
            body["displayName"] = name.into();
        }
        let res = self
            .client
            .post(self.url("/api/auth/register"))
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 201, "registering {email}");
        let token = token_of(&res);
        (token, res.json().await.expect("JSON body"))
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("request")
    }

    /// `method path` with `token` as a bearer credential and `body` as JSON.
    pub async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    /// Creates a chat session (expecting 201); returns its id.
    pub async fn create_session(&self, token: &str) -> String {
        let res = self
            .call(token, Method::POST, "/api/sessions", Some(json!({})))
            .await;
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.expect("JSON body")["id"]
            .as_str()
            .expect("session id")
            .to_string()
    }

    /// Starts a run on `session` with `message`.
    pub async fn send(&self, token: &str, session: &str, message: &str) -> Response {
        self.call(
            token,
            Method::POST,
            &format!("/api/sessions/{session}/send"),
            Some(json!({ "message": message })),
        )
        .await
    }

    /// A GET of the SSE stream at `path` with `token`, resuming after `last_event_id` when
    /// given; read what it answers with `SseReader`.
    pub fn stream(&self, token: &str, path: &str, last_event_id: Option<i64>) -> RequestBuilder {
        let req = self.client.get(self.url(path)).bearer_auth(token);
        match last_event_id {
            Some(id) => req.header("last-event-id", id.to_string()),
            None => req,
        }
    }
}

/// The session token from the session cookie's `Set-Cookie` header, checking the cookie's
/// attributes on the way. The name is read from its one definition (`SESSION_COOKIE`); servers
/// with Secure cookies (the chaos replicas) give it the `__Host-` prefix.
pub fn token_of(res: &Response) -> String {
    use webedt_contract::names::{SECURE_COOKIE_PREFIX, SESSION_COOKIE};
    let secure = format!("{SECURE_COOKIE_PREFIX}{SESSION_COOKIE}=");
    let plain = format!("{SESSION_COOKIE}=");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(&plain) || c.starts_with(&secure))
        .expect("session cookie set");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let (_, value) = cookie.split_once('=').unwrap();
    value.split(';').next().unwrap().to_string()
}
