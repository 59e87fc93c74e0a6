//! The operator's integration tests, one test binary (each binary links k8s-openapi and kube,
//! which dominates build time on a small machine). Modules by subject:
//! - `build`, `crd`, `render`: the pure parts (builders, the CRD and its rules, `render`);
//! - `chart_crd`: the Helm chart ships the generated CRD;
//! - `controller`, `worker`: the controller in-process against the test API server;
//! - `worker_build`: the worker objects (spec.worker), pure;
//! - `process`: the `webedt-operator run` binary as processes against the test API server;
//! - `kubectl`: the real kubectl against the test API server while that binary reconciles;
//! - `e2e`: against a real cluster, `#[ignore]`d (run with `--ignored`).
//!
//! `common` holds the offline helpers (YAML, admission stand-in), `harness` the test API server
//! harness.

mod common;
mod harness;

mod build;
mod chart_crd;
mod controller;
mod crd;
mod database;
mod e2e;
mod extras;
mod github;
mod kubectl;
mod process;
mod render;
mod scale;
mod worker;
mod worker_build;
