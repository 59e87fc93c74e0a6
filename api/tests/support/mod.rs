//! What every test binary of the API shares: [`api::Api`], the requests tests make against a
//! server (register, log in, call a route, open a stream), and [`sse::SseReader`], a small SSE
//! client. `it/` reaches it through `TestApp`; `chaos.rs` uses it on its replica processes.

#![allow(dead_code)]

pub mod api;
pub mod sse;
