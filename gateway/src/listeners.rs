//! Our Gateways' listeners: which are served (protocol, port, hostname, certificates), which
//! conflict, and which routes each allows. Also the listener and Gateway conditions.

use std::collections::BTreeMap;
use std::sync::Arc;

use portcullis_kube::objects::gateway_api::{GATEWAY_API_GROUP, Gateway, LabelSelector, Listener};
use portcullis_kube::objects::{Kind, ObjectKey, secret_value};
use portcullis_kube::store::Snapshot;
use portcullis_policy::selector::{Operator, Requirement, Selector};
use portcullis_route::spec::CertificateSpec;
use portcullis_translation::{Diagnostic, Reason};

use crate::Condition;
use crate::grants::{Referent, Referrer, permitted};
use crate::hostname::Hostname;

/// How a listener's requests arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// Plain HTTP/1.1 and h2c.
    Http,
    /// TLS terminated here, by SNI.
    Https,
    /// TLS in Passthrough mode: the stream goes to the backend its ClientHello's SNI names,
    /// untouched.
    TlsPassthrough,
}

/// Which namespaces' routes a listener takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedNamespaces {
    /// Only the Gateway's own.
    Same,
    /// Every namespace.
    All,
    /// Namespaces whose labels match.
    Selector(Selector),
    /// None (a selector that cannot be honoured: failing closed).
    Nothing,
}

/// One served listener of one of our Gateways.
#[derive(Debug, Clone)]
pub struct ActiveListener {
    /// The Gateway.
    pub gateway: ObjectKey,
    /// `name`.
    pub name: String,
    /// `port`.
    pub port: u16,
    /// `protocol`.
    pub protocol: Protocol,
    /// `hostname`; `None` is every host.
    pub hostname: Option<Hostname>,
    /// `allowedRoutes.namespaces`.
    pub namespaces: AllowedNamespaces,
    /// The route kinds `allowedRoutes.kinds` lets attach.
    pub kinds: RouteKinds,
    /// HTTPS: the certificates of `tls.certificateRefs` that can be used (the first answers).
    pub certificates: Vec<Arc<CertificateSpec>>,
}

/// A listener's conditions, and how many routes attached (filled in by attachment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerState {
    /// `name`.
    pub name: String,
    /// The route kinds it takes.
    pub supported_kinds: Vec<String>,
    /// Accepted routes attached to it.
    pub attached_routes: u32,
    /// `Accepted`.
    pub accepted: Condition,
    /// `ResolvedRefs`.
    pub resolved_refs: Condition,
    /// `Programmed`.
    pub programmed: Condition,
    /// `Conflicted` (true is the problem).
    pub conflicted: Condition,
}

/// A Gateway of ours and its listeners' states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayState {
    /// The Gateway.
    pub gateway: ObjectKey,
    /// `metadata.generation`.
    pub generation: i64,
    /// `Accepted`.
    pub accepted: Condition,
    /// `Programmed`: at least one listener is served.
    pub programmed: Condition,
    /// Per listener, in spec order.
    pub listeners: Vec<ListenerState>,
}

/// The Gateways of our classes, oldest first (then namespace/name): older Gateways win
/// port conflicts.
pub fn our_gateways<'s>(snapshot: &'s Snapshot, classes: &[String]) -> Vec<&'s Arc<Gateway>> {
    let mut gateways: Vec<&Arc<Gateway>> = snapshot
        .gateways
        .values()
        .filter(|g| classes.contains(&g.spec.gateway_class_name))
        .collect();
    gateways.sort_by(|a, b| {
        let key = |g: &Gateway| {
            (
                g.metadata.creation_timestamp.clone(),
                g.metadata.namespace.clone(),
                g.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    gateways
}

/// Settles every listener of `gateways` (in that order): the served ones, and the state of
/// each Gateway. `reserved` are ports the Ingress listeners hold.
pub fn settle_listeners(
    snapshot: &Snapshot,
    gateways: &[&Arc<Gateway>],
    reserved: &[u16],
    diagnostics: &mut Vec<Diagnostic>,
) -> (Vec<ActiveListener>, Vec<GatewayState>) {
    let mut active: Vec<ActiveListener> = Vec::new();
    let mut states = Vec::new();
    // Port → the protocol its first listener took.
    let mut port_protocols: BTreeMap<u16, Protocol> = BTreeMap::new();
    for gateway in gateways {
        let key = ObjectKey {
            kind: Kind::Gateway,
            namespace: gateway.metadata.namespace.clone(),
            name: gateway.metadata.name.clone(),
        };
        let mut listeners = Vec::new();
        let mut own: Vec<(u16, Option<Hostname>)> = Vec::new();
        for (index, listener) in gateway.spec.listeners.iter().enumerate() {
            let field = format!("spec.listeners[{index}]");
            let (state, served) = settle_one(snapshot, &key, listener, &field, diagnostics);
            let mut state = state;
            if let Some(mut served) = served {
                let conflict = if reserved.contains(&served.port) {
                    Some((
                        "PortUnavailable",
                        format!(
                            "port {} is an Ingress listener's (--http-addr/--https-addr); choose another port",
                            served.port
                        ),
                    ))
                } else if port_protocols
                    .get(&served.port)
                    .is_some_and(|taken| *taken != served.protocol)
                {
                    Some((
                        "ProtocolConflict",
                        format!(
                            "port {} is already served with another protocol by an older listener",
                            served.port
                        ),
                    ))
                } else if own.contains(&(served.port, served.hostname.clone())) {
                    Some((
                        "HostnameConflict",
                        format!(
                            "another listener of this Gateway has port {} and the same hostname",
                            served.port
                        ),
                    ))
                } else {
                    None
                };
                if let Some((reason, why)) = conflict {
                    diagnostics.push(Diagnostic::error(
                        Reason::ListenerConflict,
                        &key,
                        &field,
                        format!("{why}; this listener is not served"),
                    ));
                    if reason == "PortUnavailable" {
                        state.accepted = Condition::no(reason, &why);
                    } else {
                        state.conflicted = Condition::yes(reason, &why);
                    }
                    state.programmed = Condition::no("Invalid", &why);
                } else {
                    port_protocols.insert(served.port, served.protocol);
                    own.push((served.port, served.hostname.clone()));
                    served.name = listener.name.clone();
                    active.push(served);
                }
            }
            listeners.push(state);
        }
        let any_served = listeners.iter().any(|l| l.programmed.status);
        states.push(GatewayState {
            gateway: key,
            generation: gateway.metadata.generation,
            accepted: Condition::yes("Accepted", "accepted by Portcullis"),
            programmed: if any_served {
                Condition::yes("Programmed", "listeners are served")
            } else {
                Condition::no("Invalid", "no listener can be served")
            },
            listeners,
        });
    }
    (active, states)
}

/// One listener: its state, and what is served when it can be.
fn settle_one(
    snapshot: &Snapshot,
    gateway: &ObjectKey,
    listener: &Listener,
    field: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> (ListenerState, Option<ActiveListener>) {
    let mut state = ListenerState {
        name: listener.name.clone(),
        supported_kinds: Vec::new(),
        attached_routes: 0,
        accepted: Condition::yes("Accepted", "listener accepted"),
        resolved_refs: Condition::yes("ResolvedRefs", "references resolved"),
        programmed: Condition::yes("Programmed", "listener served"),
        conflicted: Condition::no("NoConflicts", "no conflicts"),
    };
    let mut refuse = |state: &mut ListenerState,
                      condition: &str,
                      reason: &'static str,
                      diagnostic: Reason,
                      at: String,
                      why: String| {
        diagnostics.push(Diagnostic::error(
            diagnostic,
            gateway,
            at,
            format!("{why}; this listener is not served"),
        ));
        let failed = Condition::no(reason, &why);
        match condition {
            "Accepted" => state.accepted = failed,
            _ => state.resolved_refs = failed,
        }
        state.programmed = Condition::no("Invalid", &why);
    };
    let protocol = match listener.protocol.as_str() {
        "HTTP" => Protocol::Http,
        "HTTPS" => Protocol::Https,
        "TLS" => match listener.tls.as_ref().and_then(|t| t.mode.as_deref()) {
            Some("Passthrough") => Protocol::TlsPassthrough,
            mode => {
                refuse(
                    &mut state,
                    "Accepted",
                    "UnsupportedProtocol",
                    Reason::UnsupportedValue,
                    format!("{field}.tls.mode"),
                    format!(
                        "TLS listeners in mode {} are not supported (Passthrough is)",
                        mode.unwrap_or("Terminate")
                    ),
                );
                return (state, None);
            }
        },
        other => {
            refuse(
                &mut state,
                "Accepted",
                "UnsupportedProtocol",
                Reason::UnsupportedValue,
                format!("{field}.protocol"),
                format!("protocol {other:?} is not supported (HTTP, HTTPS and TLS are)"),
            );
            return (state, None);
        }
    };
    let (kinds, supported) = route_kinds(listener, protocol);
    state.supported_kinds = supported;
    if kinds == RouteKinds::default() {
        refuse(
            &mut state,
            "ResolvedRefs",
            "InvalidRouteKinds",
            Reason::InvalidKind,
            format!("{field}.allowedRoutes.kinds"),
            format!(
                "no route kind this listener can serve is allowed ({})",
                match protocol {
                    Protocol::TlsPassthrough => "TLSRoute",
                    _ => "HTTPRoute and GRPCRoute",
                }
            ),
        );
        return (state, None);
    }
    let Some(port) = u16::try_from(listener.port).ok().filter(|p| *p > 0) else {
        refuse(
            &mut state,
            "Accepted",
            "PortUnavailable",
            Reason::UnsupportedValue,
            format!("{field}.port"),
            format!("port {} is outside 1-65535", listener.port),
        );
        return (state, None);
    };
    let hostname = match listener.hostname.as_deref().filter(|h| !h.is_empty()) {
        None => None,
        Some(raw) => match Hostname::parse(raw) {
            Ok(hostname) => Some(hostname),
            Err(why) => {
                refuse(
                    &mut state,
                    "Accepted",
                    "UnsupportedValue",
                    Reason::UnsupportedValue,
                    format!("{field}.hostname"),
                    why,
                );
                return (state, None);
            }
        },
    };
    let certificates = if protocol == Protocol::Https {
        match certificates(snapshot, gateway, listener, field) {
            Ok(certificates) => certificates,
            Err((reason, diagnostic, at, why)) => {
                refuse(&mut state, "ResolvedRefs", reason, diagnostic, at, why);
                return (state, None);
            }
        }
    } else {
        Vec::new()
    };
    let namespaces = match allowed_namespaces(listener) {
        Ok(namespaces) => namespaces,
        Err(why) => {
            diagnostics.push(Diagnostic::error(
                Reason::UnsupportedValue,
                gateway,
                format!("{field}.allowedRoutes.namespaces.selector"),
                format!("{why}; no route may attach to this listener"),
            ));
            AllowedNamespaces::Nothing
        }
    };
    let served = ActiveListener {
        gateway: gateway.clone(),
        name: listener.name.clone(),
        port,
        protocol,
        hostname,
        namespaces,
        kinds,
        certificates,
    };
    (state, Some(served))
}

/// The route kinds a listener takes: HTTP and HTTPS listeners HTTPRoutes and GRPCRoutes,
/// TLS (Passthrough) listeners TLSRoutes, unless `allowedRoutes.kinds` narrows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RouteKinds {
    /// HTTPRoute.
    pub http: bool,
    /// GRPCRoute.
    pub grpc: bool,
    /// TLSRoute.
    pub tls: bool,
}

impl RouteKinds {
    /// Whether a route of `kind` (its `kind:` name) may attach.
    pub fn allows(self, kind: &str) -> bool {
        match kind {
            "HTTPRoute" => self.http,
            "GRPCRoute" => self.grpc,
            "TLSRoute" => self.tls,
            _ => false,
        }
    }
}

/// The kinds that may attach, and the supported kinds to report.
fn route_kinds(listener: &Listener, protocol: Protocol) -> (RouteKinds, Vec<String>) {
    let servable: &[&str] = match protocol {
        Protocol::Http | Protocol::Https => &["HTTPRoute", "GRPCRoute"],
        Protocol::TlsPassthrough => &["TLSRoute"],
    };
    let asked: Vec<&str> = match listener
        .allowed_routes
        .as_ref()
        .and_then(|a| a.kinds.as_ref())
        .filter(|k| !k.is_empty())
    {
        None => servable.to_vec(),
        Some(kinds) => kinds
            .iter()
            .filter(|k| k.group.as_deref().unwrap_or(GATEWAY_API_GROUP) == GATEWAY_API_GROUP)
            .map(|k| k.kind.as_str())
            .collect(),
    };
    let mut allowed = RouteKinds::default();
    let mut supported = Vec::new();
    for kind in asked.into_iter().filter(|k| servable.contains(k)) {
        let flag = match kind {
            "HTTPRoute" => &mut allowed.http,
            "GRPCRoute" => &mut allowed.grpc,
            _ => &mut allowed.tls,
        };
        if !*flag {
            *flag = true;
            supported.push(kind.to_string());
        }
    }
    (allowed, supported)
}

/// `allowedRoutes.namespaces` as a decision; an unusable selector is an error.
fn allowed_namespaces(listener: &Listener) -> Result<AllowedNamespaces, String> {
    let namespaces = listener
        .allowed_routes
        .as_ref()
        .and_then(|a| a.namespaces.as_ref());
    match namespaces.and_then(|n| n.from.as_deref()).unwrap_or("Same") {
        "Same" => Ok(AllowedNamespaces::Same),
        "All" => Ok(AllowedNamespaces::All),
        "Selector" => {
            let selector = namespaces
                .and_then(|n| n.selector.as_ref())
                .ok_or("from: Selector needs a selector")?;
            Ok(AllowedNamespaces::Selector(to_selector(selector)?))
        }
        other => Err(format!("from: {other:?} is not Same, All or Selector")),
    }
}

fn to_selector(selector: &LabelSelector) -> Result<Selector, String> {
    let expressions = selector
        .match_expressions
        .iter()
        .map(|e| {
            let operator = match e.operator.as_str() {
                "In" => Operator::In(e.values.clone()),
                "NotIn" => Operator::NotIn(e.values.clone()),
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(format!("operator {other:?} is not supported")),
            };
            Ok(Requirement {
                key: e.key.clone(),
                operator,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Selector {
        match_labels: selector
            .match_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        expressions,
    })
}

type Refused = (&'static str, Reason, String, String);

/// The certificates of an HTTPS listener's `tls`; every ref must resolve.
fn certificates(
    snapshot: &Snapshot,
    gateway: &ObjectKey,
    listener: &Listener,
    field: &str,
) -> Result<Vec<Arc<CertificateSpec>>, Refused> {
    let tls = listener.tls.as_ref();
    if let Some(mode) = tls.and_then(|t| t.mode.as_deref())
        && mode != "Terminate"
    {
        return Err((
            "UnsupportedValue",
            Reason::UnsupportedValue,
            format!("{field}.tls.mode"),
            format!("TLS mode {mode:?} is not supported on HTTPS listeners (Terminate is)"),
        ));
    }
    let refs = tls.map(|t| t.certificate_refs.as_slice()).unwrap_or(&[]);
    if refs.is_empty() {
        return Err((
            "InvalidCertificateRef",
            Reason::InvalidCertificateRef,
            format!("{field}.tls.certificateRefs"),
            "an HTTPS listener needs a certificateRef".into(),
        ));
    }
    let mut found = Vec::new();
    for (index, reference) in refs.iter().enumerate() {
        let at = format!("{field}.tls.certificateRefs[{index}]");
        let group = reference.group.as_deref().unwrap_or("");
        let kind = reference.kind.as_deref().unwrap_or("Secret");
        if !(group.is_empty() || group == "core") || kind != "Secret" {
            return Err((
                "InvalidCertificateRef",
                Reason::InvalidKind,
                at,
                format!("{group}/{kind} is not a Secret"),
            ));
        }
        let namespace = reference.namespace.as_deref().unwrap_or(&gateway.namespace);
        let referent = Referent {
            kind: "Secret",
            namespace,
            name: &reference.name,
        };
        let referrer = Referrer {
            kind: "Gateway",
            namespace: &gateway.namespace,
        };
        if !permitted(snapshot, referrer, referent) {
            return Err((
                "RefNotPermitted",
                Reason::RefNotPermitted,
                at,
                format!(
                    "no ReferenceGrant in namespace {namespace} lets Gateways of {} use Secret {}",
                    gateway.namespace, reference.name
                ),
            ));
        }
        let Some(secret) = snapshot
            .secrets
            .get(&(namespace.to_string(), reference.name.clone()))
        else {
            return Err((
                "InvalidCertificateRef",
                Reason::InvalidCertificateRef,
                at,
                format!("Secret {namespace}/{} not found", reference.name),
            ));
        };
        match (
            secret_value(secret, "tls.crt"),
            secret_value(secret, "tls.key"),
        ) {
            (Some(chain_pem), Some(key_pem)) => found.push(Arc::new(CertificateSpec {
                secret: format!("{namespace}/{}", reference.name),
                chain_pem,
                key_pem,
            })),
            _ => {
                return Err((
                    "InvalidCertificateRef",
                    Reason::InvalidCertificateRef,
                    at,
                    format!(
                        "Secret {namespace}/{} has no tls.crt and tls.key",
                        reference.name
                    ),
                ));
            }
        }
    }
    Ok(found)
}

impl ActiveListener {
    /// True when routes of `namespace` may attach.
    pub fn allows_namespace(&self, snapshot: &Snapshot, namespace: &str) -> bool {
        match &self.namespaces {
            AllowedNamespaces::Same => namespace == self.gateway.namespace,
            AllowedNamespaces::All => true,
            AllowedNamespaces::Nothing => false,
            AllowedNamespaces::Selector(selector) => {
                let mut labels = snapshot
                    .namespaces
                    .get(namespace)
                    .map(|n| n.labels.clone())
                    .unwrap_or_default();
                // The API server sets it on every Namespace; manifests rarely write it.
                labels
                    .entry("kubernetes.io/metadata.name".to_string())
                    .or_insert_with(|| namespace.to_string());
                selector.matches(&labels)
            }
        }
    }
}
