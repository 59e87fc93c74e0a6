//! The worker end to end: real git (bare repositories over `file://` and smart HTTP through
//! `git http-backend`), fake model upstreams written from the Anthropic and OpenAI docs, real
//! Landlock/seccomp where the kernel has them, and real `webedt-worker` processes (several
//! behind one address, killed, drained).

mod agent;
mod commands;
mod common;
mod fakes;
mod outbound;
mod processes;
mod remote;
