//! The fake upstream: an HTTP server on 127.0.0.1 that answers from a script (a status, an SSE
//! stream that may close or stall, or nothing at all) and records every request it receives.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub(super) enum End {
    /// Close the stream (a normal end, or a cut when the terminal events were left out).
    Close,
    /// Keep the connection open and send nothing more.
    Stall,
}

#[derive(Clone)]
pub(super) enum Reply {
    Status {
        code: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    Stream {
        chunks: Vec<Vec<u8>>,
        gap: Duration,
        end: End,
    },
    /// Never answer (not even headers).
    Hang,
}

#[derive(Clone, Debug)]
pub(super) struct Recorded {
    pub(super) at: Instant,
    pub(super) path: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Value,
}

#[derive(Clone)]
pub(super) struct Fake {
    pub(super) base: String,
    pub(super) script: Arc<Mutex<VecDeque<Reply>>>,
    pub(super) requests: Arc<Mutex<Vec<Recorded>>>,
    /// Set when a response stream is dropped before it ended: the client went away.
    pub(super) disconnected: Arc<AtomicBool>,
}

impl Fake {
    pub(super) async fn start(script: Vec<Reply>) -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Fake {
            base: format!("http://{}", listener.local_addr().unwrap()),
            script: Arc::new(Mutex::new(script.into())),
            requests: Default::default(),
            disconnected: Default::default(),
        };
        let state = fake.clone();
        let router =
            axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
                let fake = state.clone();
                async move { fake.handle(uri, headers, body).await }
            });
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    async fn handle(&self, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        self.requests.lock().unwrap().push(Recorded {
            at: Instant::now(),
            path: uri.path().to_string(),
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        if uri.path() == "/interrupt" {
            return Response::new(Body::from("{\"interrupted\":true}"));
        }
        let reply = {
            let mut script = self.script.lock().unwrap();
            if script.len() > 1 {
                script.pop_front().unwrap()
            } else {
                script.front().cloned().expect("a scripted reply")
            }
        };
        match reply {
            Reply::Hang => {
                futures::future::pending::<()>().await;
                unreachable!()
            }
            Reply::Status {
                code,
                headers,
                body,
            } => {
                let mut r = Response::builder().status(code);
                for (k, v) in headers {
                    r = r.header(k, v);
                }
                r.header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap()
            }
            Reply::Stream { chunks, gap, end } => {
                struct Guard(Arc<AtomicBool>, bool);
                impl Guard {
                    fn finish(&mut self) {
                        self.1 = true;
                    }
                }
                impl Drop for Guard {
                    fn drop(&mut self) {
                        if !self.1 {
                            self.0.store(true, Ordering::SeqCst);
                        }
                    }
                }
                let guard = Guard(self.disconnected.clone(), false);
                let stream = futures::stream::unfold(
                    (VecDeque::from(chunks), guard, end, true),
                    move |(mut chunks, mut guard, end, first)| async move {
                        if !first {
                            tokio::time::sleep(gap).await;
                        }
                        match chunks.pop_front() {
                            Some(c) => Some((
                                Ok::<_, std::convert::Infallible>(Bytes::from(c)),
                                (chunks, guard, end, false),
                            )),
                            None => match end {
                                End::Close => {
                                    guard.finish();
                                    None
                                }
                                End::Stall => {
                                    futures::future::pending::<()>().await;
                                    None
                                }
                            },
                        }
                    },
                );
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(stream))
                    .unwrap()
            }
        }
    }

    pub(super) fn requests(&self, path_end: &str) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.ends_with(path_end))
            .cloned()
            .collect()
    }
}

pub(super) fn stream(chunks: Vec<String>) -> Reply {
    Reply::Stream {
        chunks: chunks.into_iter().map(String::into_bytes).collect(),
        gap: Duration::from_millis(5),
        end: End::Close,
    }
}

pub(super) fn status(code: u16, body: Value) -> Reply {
    Reply::Status {
        code,
        headers: vec![],
        body: body.to_string(),
    }
}

pub(super) fn sse(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

pub(super) fn data_line(data: Value) -> String {
    format!("data: {data}\n\n")
}
