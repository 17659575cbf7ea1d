//! Gateway API → routing tables: one pure function, no IO, no clock.
//!
//! [`translate_gateways`] reads the GatewayClasses naming our controller, their Gateways'
//! listeners, the HTTPRoutes and GRPCRoutes attached to them and the ReferenceGrants, and returns one
//! [`PortSpec`] (a route model table, and certificates for HTTPS) per listener port, the
//! diagnostics (object + field + what happens), and the status the spec asks for. Requests
//! settle the hostname first (exact, then the longest wildcard, then listeners without one),
//! then the path, then Gateway API's precedence among matches.

#![forbid(unsafe_code)]

mod attach;
mod backend_tls;
mod filters;
mod grants;
mod grpc_match;
mod hostname;
mod listeners;
mod render;
mod route_rules;
mod route_view;
mod status_patches;
mod translator;

use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_kube::objects::ObjectKey;
use portcullis_kube::store::Snapshot;
use portcullis_route::spec::{CertificateSpec, TableSpec, TlsSpec};
use portcullis_translation::Diagnostic;

pub use attach::Parent;
pub use backend_tls::PolicyState;
pub use listeners::{GatewayState, ListenerState, Protocol, RouteKinds};
pub use status_patches::{SUPPORTED_FEATURES, StatusContext, StatusPatch, status_patches};
pub use translator::GatewayTranslator;

/// True for the kinds the Gateway API translation reads: a change to anything else leaves its
/// tables as they are.
pub fn reads(kind: portcullis_kube::objects::Kind) -> bool {
    use portcullis_kube::objects::Kind;
    matches!(
        kind,
        Kind::GatewayClass
            | Kind::Gateway
            | Kind::HTTPRoute
            | Kind::GRPCRoute
            | Kind::TLSRoute
            | Kind::BackendTLSPolicy
            | Kind::ConfigMap
            | Kind::ReferenceGrant
            | Kind::Namespace
            | Kind::Service
            | Kind::EndpointSlice
            | Kind::Endpoints
            | Kind::Secret
    )
}

/// The controller name of `--gateway-controller-name` by default.
pub const DEFAULT_CONTROLLER_NAME: &str = "portcullis.dev/gateway-controller";

/// What the translation needs besides the objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// GatewayClasses whose `spec.controllerName` is this are ours.
    pub controller_name: String,
    /// Ports the Ingress listeners hold; a Gateway listener on one of them is refused.
    pub reserved_ports: Vec<u16>,
}

/// One condition as status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `status`: true or false.
    pub status: bool,
    /// `reason`, CamelCase.
    pub reason: String,
    /// `message`.
    pub message: String,
}

impl Condition {
    /// A condition that holds.
    pub fn yes(reason: &str, message: &str) -> Condition {
        Condition {
            status: true,
            reason: reason.to_string(),
            message: message.to_string(),
        }
    }

    /// A condition that does not hold.
    pub fn no(reason: &str, message: &str) -> Condition {
        Condition {
            status: false,
            ..Condition::yes(reason, message)
        }
    }
}

/// What one listener port serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The port number, as the listeners write it.
    pub port: u16,
    /// HTTP or HTTPS.
    pub protocol: Protocol,
    /// The routes of every listener on this port.
    pub table: TableSpec,
    /// HTTPS: certificates by listener hostname (a listener without one gives the default).
    pub tls: Option<Arc<TlsSpec>>,
}

/// A GatewayClass of ours and whether it is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassState {
    /// Its name.
    pub name: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// `Accepted`.
    pub accepted: Condition,
}

/// A route's status: one entry per parentRef naming a Gateway of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteState {
    /// The route.
    pub route: ObjectKey,
    /// `metadata.generation`.
    pub generation: i64,
    /// Per parent.
    pub parents: Vec<ParentState>,
}

/// One `status.parents[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentState {
    /// The parentRef, with namespace written out.
    pub parent: Parent,
    /// `Accepted`.
    pub accepted: Condition,
    /// `ResolvedRefs`.
    pub resolved_refs: Condition,
}

/// Status of every Gateway API object this controller owns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayStatus {
    /// Our GatewayClasses.
    pub classes: Vec<ClassState>,
    /// Our Gateways.
    pub gateways: Vec<GatewayState>,
    /// Routes naming our Gateways: all of them from a fresh translation, only those in
    /// `changed_routes` from an incremental update ([`GatewayTranslator::route_states`] has
    /// all).
    pub routes: Vec<RouteState>,
    /// BackendTLSPolicies, with the Gateways whose routes use them.
    pub policies: Vec<PolicyState>,
}

/// The result of one translation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayTranslation {
    /// One per served port, by port number.
    pub ports: Vec<PortSpec>,
    /// Problems found, sorted, each naming the object and field.
    pub diagnostics: Vec<Diagnostic>,
    /// What status should say.
    pub status: GatewayStatus,
    /// The routes this update recomputed; `None` when it recomputed all. Status of other
    /// routes is as the last update said.
    pub changed_routes: Option<BTreeSet<ObjectKey>>,
}

/// Builds the Gateway API tables for a snapshot. Pure and deterministic: the same snapshot and
/// config always give the same tables, status and diagnostics. A long-running caller keeps a
/// [`GatewayTranslator`] instead and pays only for what changed.
pub fn translate_gateways(snapshot: &Snapshot, config: &GatewayConfig) -> GatewayTranslation {
    GatewayTranslator::new(config.clone()).update(snapshot, &[])
}

/// A listener's first certificate for its hostname (or as the port's default).
pub(crate) fn add_certificate(tls: &mut TlsSpec, listener: &listeners::ActiveListener) {
    let Some(certificate) = listener.certificates.first() else {
        return;
    };
    let index = match tls
        .certificates
        .iter()
        .position(|c| c.secret == certificate.secret)
    {
        Some(index) => index,
        None => {
            tls.certificates.push(CertificateSpec::clone(certificate));
            tls.certificates.len() - 1
        }
    };
    match &listener.hostname {
        Some(hostname) => {
            let host = hostname.host_match();
            if !tls.hosts.iter().any(|(h, _)| *h == host) {
                tls.hosts.push((host, index));
            }
        }
        None => {
            tls.default_certificate.get_or_insert(index);
        }
    }
}
