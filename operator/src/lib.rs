//! WebEDT operator: the `WebEDT` custom resource, its validation, and the Kubernetes objects it
//! is reconciled into.
//!
//! Flow: a `WebEDT` ([`crd`]) is checked and normalised by [`validate::validate`] into a
//! [`validate::ValidatedWebEDT`]; [`build::desired`] turns that plus what the controller read
//! from the cluster ([`build::Inputs`]) into typed objects. Everything here is pure, so `render`
//! (no cluster) and the controller produce the same objects.

pub mod budget;
pub mod build;
pub mod controller;
pub mod crd;
pub mod error;
pub mod render;
pub mod validate;
pub mod worker;
pub mod yaml;

pub use error::{Error, Result};
