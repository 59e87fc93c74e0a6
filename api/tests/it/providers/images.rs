//! Images in prompts (issue 24): uploaded to a session, sent to Anthropic as `image` blocks and
//! to OpenAI-compatible servers as `image_url` data URLs (the fakes assert the request JSON),
//! replayed with follow-ups, served to their owner only with the type their bytes say; the
//! limits answer 413/422 with JSON error codes; worker runs refuse images.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";
/// A 1×1 GIF.
const GIF: &[u8] = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff!\xf9\x04\x01\0\0\0\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;";

impl Run {
    async fn upload_as(&self, token: &str, session: &str, data: String) -> reqwest::Response {
        self.app
            .call(
                token,
                Method::POST,
                &format!("/api/sessions/{session}/images"),
                Some(json!({ "data": data })),
            )
            .await
    }

    /// Uploads `bytes`; returns the image's id.
    async fn upload(&self, bytes: &[u8]) -> String {
        let res = self
            .upload_as(&self.token, &self.session, STANDARD.encode(bytes))
            .await;
        assert_eq!(res.status(), 201);
        let info: Value = res.json().await.unwrap();
        assert_eq!(info["size"], bytes.len());
        info["id"].as_str().unwrap().to_string()
    }

    async fn send_images(&self, message: &str, images: &[&str]) -> reqwest::Response {
        self.app
            .call(
                &self.token,
                Method::POST,
                &format!("/api/sessions/{}/send", self.session),
                Some(json!({ "message": message, "images": images })),
            )
            .await
    }

    /// Sends `message` with `images` and waits for the run to end; its status.
    async fn turn_with(&self, message: &str, images: &[&str]) -> String {
        let res = self.send_images(message, images).await;
        assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
        self.wait_finished().await["status"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

async fn error_code(res: reqwest::Response, status: u16) -> String {
    assert_eq!(res.status(), status);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = res.json().await.unwrap();
    body["error"]["code"].as_str().unwrap().to_string()
}

async fn two_answers(kind: Kind) -> Fake {
    let reply = stream(kind.text_stream(&["A cat."], true));
    Fake::start(vec![reply.clone(), reply]).await
}

#[tokio::test]
async fn anthropic_receives_images_as_base64_image_blocks_and_follow_ups_replay_them() {
    let kind = Kind::Anthropic;
    let fake = Fake::start(vec![stream(kind.text_stream(&["A cat."], true))]).await;
    let run = setup(kind, &fake, &[]).await;
    let png = run.upload(PNG).await;
    let gif = run.upload(GIF).await;
    assert_eq!(
        run.turn_with("What is this?", &[&png, &gif]).await,
        "completed"
    );
    let events = run.events().await;
    assert_eq!(events[0]["type"], "user_message");
    assert_eq!(events[0]["data"]["images"], json!([png, gif]));

    let first = &fake.requests(kind.path())[0].body;
    assert_eq!(
        first["messages"],
        json!([{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": STANDARD.encode(PNG)}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": STANDARD.encode(GIF)}},
            {"type": "text", "text": "What is this?"},
        ]}])
    );

    let (status, _) = run.turn("And now?").await;
    assert_eq!(status, "completed");
    let second = &fake.requests(kind.path())[1].body;
    let messages = second["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{second}");
    assert_eq!(messages[0], first["messages"][0], "the images are replayed");
    assert_eq!(
        messages[1],
        json!({"role": "assistant", "content": "A cat."})
    );
    assert_eq!(messages[2], json!({"role": "user", "content": "And now?"}));
}

#[tokio::test]
async fn openai_compatible_servers_receive_images_as_data_urls_and_follow_ups_replay_them() {
    let kind = Kind::OpenAi;
    let fake = Fake::start(vec![stream(kind.text_stream(&["A cat."], true))]).await;
    let run = setup(kind, &fake, &[]).await;
    let png = run.upload(PNG).await;
    assert_eq!(run.turn_with("What is this?", &[&png]).await, "completed");
    let first = &fake.requests(kind.path())[0].body;
    let user = json!({"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}", STANDARD.encode(PNG))}},
    ]});
    assert_eq!(first["messages"], json!([user]));

    let (status, _) = run.turn("And now?").await;
    assert_eq!(status, "completed");
    let second = &fake.requests(kind.path())[1].body;
    assert_eq!(
        second["messages"],
        json!([user, {"role": "assistant", "content": "A cat."}, {"role": "user", "content": "And now?"}])
    );
}

#[tokio::test]
async fn image_limits_answer_413_and_422_with_json_codes() {
    let kind = Kind::Anthropic;
    let fake = two_answers(kind).await;
    let run = setup(
        kind,
        &fake,
        &[
            (IMAGE_MAX_BYTES, "1000"),
            (IMAGE_MAX_PER_MESSAGE, "2"),
            (IMAGE_MAX_PER_SESSION, "3"),
        ],
    )
    .await;
    let (token, session) = (run.token.clone(), run.session.clone());
    let big = [PNG, &[0u8; 1000]].concat();
    let res = run.upload_as(&token, &session, STANDARD.encode(&big)).await;
    assert_eq!(error_code(res, 413).await, "image_too_large");
    // Far past the upload route's own body bound: the middleware refuses it before any handler.
    let huge = STANDARD.encode(vec![0u8; 2 * 1024 * 1024]);
    let res = run.upload_as(&token, &session, huge).await;
    assert_eq!(error_code(res, 413).await, "payload_too_large");
    let svg = STANDARD
        .encode(br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#);
    let res = run.upload_as(&token, &session, svg).await;
    assert_eq!(error_code(res, 422).await, "image_type");
    let res = run.upload_as(&token, &session, "not base64!".into()).await;
    assert_eq!(error_code(res, 422).await, "image_type");

    let ids = [
        run.upload(PNG).await,
        run.upload(GIF).await,
        run.upload(PNG).await,
    ];
    let res = run.upload_as(&token, &session, STANDARD.encode(PNG)).await;
    assert_eq!(error_code(res, 422).await, "image_limit");
    let all: Vec<&str> = ids.iter().map(String::as_str).collect();
    let res = run.send_images("three", &all).await;
    assert_eq!(error_code(res, 422).await, "too_many_images");
    let stranger = uuid::Uuid::new_v4().to_string();
    let res = run.send_images("unknown", &[&stranger]).await;
    assert_eq!(error_code(res, 422).await, "unknown_image");
    // Nothing was recorded by the refused sends.
    assert!(run.events().await.is_empty());
    assert!(fake.requests(kind.path()).is_empty());
    assert_eq!(run.turn_with("two", &all[..2]).await, "completed");
}

#[tokio::test]
async fn images_are_served_to_their_owner_only_with_the_type_their_bytes_say() {
    let kind = Kind::Anthropic;
    let fake = two_answers(kind).await;
    let run = setup(kind, &fake, &[]).await;
    // The client claims PNG; the bytes are a GIF.
    let res = run
        .upload_as(
            &run.token,
            &run.session,
            format!("data:image/png;base64,{}", STANDARD.encode(GIF)),
        )
        .await;
    assert_eq!(res.status(), 201);
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["mediaType"], "image/gif");
    let id = info["id"].as_str().unwrap().to_string();
    let path = format!("/api/sessions/{}/images/{id}", run.session);
    let res = run.app.call(&run.token, Method::GET, &path, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/gif");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), GIF);

    // Another user: the image, the upload route and the id in their own session are all unknown.
    let other = run.app.register("other-images@example.com").await;
    let res = run.app.call(&other, Method::GET, &path, None).await;
    assert_eq!(error_code(res, 404).await, "not_found");
    let res = run
        .upload_as(&other, &run.session, STANDARD.encode(PNG))
        .await;
    assert_eq!(error_code(res, 404).await, "not_found");
    let theirs = run.app.create_session(&other).await;
    let res = run
        .app
        .call(
            &other,
            Method::GET,
            &format!("/api/sessions/{theirs}/images/{id}"),
            None,
        )
        .await;
    assert_eq!(error_code(res, 404).await, "not_found");
    let res = run
        .app
        .call(
            &other,
            Method::POST,
            &format!("/api/sessions/{theirs}/send"),
            Some(json!({"message": "steal", "images": [id]})),
        )
        .await;
    assert_eq!(error_code(res, 422).await, "unknown_image");
    assert!(fake.requests(kind.path()).is_empty());
}

#[tokio::test]
async fn runs_on_the_worker_refuse_images() {
    let kind = Kind::Worker;
    let fake = Fake::start(vec![stream(kind.text_stream(&["ok"], true))]).await;
    let run = setup(kind, &fake, &[]).await;
    let png = run.upload(PNG).await;
    let res = run.send_images("look", &[&png]).await;
    assert_eq!(error_code(res, 422).await, "images_unsupported");
    assert!(fake.requests(kind.path()).is_empty());
}
