//! What the Ingress and the Gateway API translations share: resolving a backend (Service and
//! port) to ready endpoints, and the diagnostics that name an object, a field and what happens.
//! Pure: no IO, over a store snapshot.

#![forbid(unsafe_code)]

mod backend;
mod diagnostic;

pub use backend::{BackendProblem, BackendResolver, PortRef, SliceIndex};
pub use diagnostic::{Diagnostic, Reason, Severity};
