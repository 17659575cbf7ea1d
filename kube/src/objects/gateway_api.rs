//! Gateway API objects (`gateway.networking.k8s.io`), as the Gateway translation reads them:
//! hand-written types of only the fields it reads. The `gateway-api` crate pins an older kube
//! and k8s-openapi than ours, and these objects are small; the same serde types decode the
//! API server's JSON and manifest YAML. Fields not listed here are ignored by decoding; the
//! translation refuses the values it cannot honour (an unknown filter type, match type, ...).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::Object;

/// The API group of every kind here.
pub const GATEWAY_API_GROUP: &str = "gateway.networking.k8s.io";

/// The API versions a Gateway API manifest may name (every kind here is served as `v1`;
/// older objects and ReferenceGrant still say `v1beta1`, TLSRoutes of older releases
/// `v1alpha2` or `v1alpha3`, whose fields read here are the same).
pub const GATEWAY_API_VERSIONS: &[&str] = &[
    "gateway.networking.k8s.io/v1",
    "gateway.networking.k8s.io/v1beta1",
    "gateway.networking.k8s.io/v1alpha3",
    "gateway.networking.k8s.io/v1alpha2",
];

/// The metadata the translation reads: identity, precedence (creation time) and the
/// generation that status reports as observed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GatewayMeta {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (sources fill in `default` for namespaced kinds).
    pub namespace: String,
    /// `metadata.generation` (0 in manifests, which have none).
    pub generation: i64,
    /// `metadata.creationTimestamp` as RFC 3339 text; `None` in manifests. Oldest wins
    /// conflicts, so texts compare as times do (the API server writes UTC, whole seconds).
    pub creation_timestamp: Option<String>,
    /// `metadata.uid`, for Events about the object (API mode).
    pub uid: Option<String>,
    /// `metadata.resourceVersion`, for Events about the object (API mode).
    pub resource_version: Option<String>,
}

/// An object's `status` as compact JSON text: read only when its status is computed, and far
/// smaller than a parsed value (10,000 routes' status as `serde_json::Value`s took tens of MB).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusText(Box<str>);

impl StatusText {
    /// The status as a JSON value (`null` when there is none).
    pub fn value(&self) -> serde_json::Value {
        if self.0.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl<'de> Deserialize<'de> for StatusText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(StatusText(if value.is_null() {
            Box::from("")
        } else {
            value.to_string().into_boxed_str()
        }))
    }
}

/// `GatewayClass`: which controller runs the Gateways of this class.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClass {
    /// Name and generation.
    pub metadata: GatewayMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: GatewayClassSpec,
    /// `status` as the API holds it, compared with what it should say before writing (and
    /// kept for other controllers' entries).
    #[serde(default)]
    pub status: StatusText,
}

/// `GatewayClass.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GatewayClassSpec {
    /// `controllerName`: ours is `--gateway-controller-name`.
    pub controller_name: String,
}

/// `Gateway`: listeners (port, protocol, hostname, TLS) that routes attach to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gateway {
    /// Identity and generation.
    pub metadata: GatewayMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: GatewaySpec,
    /// `status` as the API holds it, compared with what it should say before writing (and
    /// kept for other controllers' entries).
    #[serde(default)]
    pub status: StatusText,
}

/// `Gateway.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GatewaySpec {
    /// `gatewayClassName`.
    pub gateway_class_name: String,
    /// `listeners`.
    pub listeners: Vec<Listener>,
}

/// One entry of `Gateway.spec.listeners`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Listener {
    /// `name`, unique in the Gateway.
    pub name: String,
    /// `hostname`: exact or `*.suffix`; `None` matches every host.
    pub hostname: Option<String>,
    /// `port`.
    pub port: i32,
    /// `protocol`: `HTTP`, `HTTPS`, `TLS`, ...
    pub protocol: String,
    /// `tls`.
    pub tls: Option<ListenerTls>,
    /// `allowedRoutes`.
    pub allowed_routes: Option<AllowedRoutes>,
}

/// `Listener.tls`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListenerTls {
    /// `mode`: `Terminate` (the default) or `Passthrough`.
    pub mode: Option<String>,
    /// `certificateRefs`.
    pub certificate_refs: Vec<ObjectReference>,
}

/// `Listener.allowedRoutes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AllowedRoutes {
    /// `namespaces`.
    pub namespaces: Option<RouteNamespaces>,
    /// `kinds`; `None` means the kinds the protocol allows.
    pub kinds: Option<Vec<GroupKind>>,
}

/// `allowedRoutes.namespaces`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteNamespaces {
    /// `from`: `Same` (the default), `All` or `Selector`.
    pub from: Option<String>,
    /// `selector`, for `from: Selector`.
    pub selector: Option<LabelSelector>,
}

/// A `metav1.LabelSelector`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelSelector {
    /// `matchLabels`.
    pub match_labels: BTreeMap<String, String>,
    /// `matchExpressions`.
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelSelectorRequirement {
    /// `key`.
    pub key: String,
    /// `operator`: `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    /// `values`.
    pub values: Vec<String>,
}

/// A kind with its group (`allowedRoutes.kinds`, ReferenceGrant `from`/`to`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupKind {
    /// `group`; empty is the core group.
    pub group: Option<String>,
    /// `kind`.
    pub kind: String,
}

/// A reference to another object: a certificate Secret, a backend Service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectReference {
    /// `group`; empty (or unset) is the core group.
    pub group: Option<String>,
    /// `kind`; unset means the field's default (Secret, Service).
    pub kind: Option<String>,
    /// `name`.
    pub name: String,
    /// `namespace`; unset is the referring object's own.
    pub namespace: Option<String>,
}

/// `HTTPRoute`: hostnames and rules (matches, filters, weighted backends) attached to
/// Gateway listeners.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    /// Identity, creation time (precedence) and generation.
    pub metadata: GatewayMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: HttpRouteSpec,
    /// `status` as the API holds it, compared with what it should say before writing (and
    /// kept for other controllers' entries).
    #[serde(default)]
    pub status: StatusText,
}

/// `HTTPRoute.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteSpec {
    /// `parentRefs`: the Gateways (and listeners) this route attaches to.
    pub parent_refs: Vec<ParentReference>,
    /// `hostnames`; empty means the listeners' hostnames.
    pub hostnames: Vec<String>,
    /// `rules`; the API server defaults an empty list to one rule matching `PathPrefix /`
    /// with no backends, which answers 500.
    pub rules: Vec<HttpRouteRule>,
}

/// One entry of `parentRefs`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ParentReference {
    /// `group` (default `gateway.networking.k8s.io`).
    pub group: Option<String>,
    /// `kind` (default `Gateway`).
    pub kind: Option<String>,
    /// `namespace`; unset is the route's own.
    pub namespace: Option<String>,
    /// `name`.
    pub name: String,
    /// `sectionName`: one listener by name.
    pub section_name: Option<String>,
    /// `port`: the listeners on this port.
    pub port: Option<i32>,
}

/// One entry of `HTTPRoute.spec.rules`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteRule {
    /// `name`, optional.
    pub name: Option<String>,
    /// `matches`; empty means one match of `PathPrefix /`.
    pub matches: Vec<HttpRouteMatch>,
    /// `filters`, applied in the order the spec defines (not as listed).
    pub filters: Vec<HttpRouteFilter>,
    /// `backendRefs`: the weighted split.
    pub backend_refs: Vec<HttpBackendRef>,
    /// `timeouts`.
    pub timeouts: Option<HttpRouteTimeouts>,
}

/// One entry of a rule's `matches`: every part must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteMatch {
    /// `path` (default `PathPrefix /`).
    pub path: Option<HttpPathMatch>,
    /// `headers`.
    pub headers: Vec<NameValueMatch>,
    /// `queryParams`.
    pub query_params: Vec<NameValueMatch>,
    /// `method`.
    pub method: Option<String>,
}

/// `matches[].path`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpPathMatch {
    /// `type`: `Exact`, `PathPrefix` (the default) or `RegularExpression`.
    #[serde(rename = "type")]
    pub match_type: Option<String>,
    /// `value` (default `/`).
    pub value: Option<String>,
}

/// A header or query parameter match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NameValueMatch {
    /// `type`: `Exact` (the default) or `RegularExpression`.
    #[serde(rename = "type")]
    pub match_type: Option<String>,
    /// `name`.
    pub name: String,
    /// `value`.
    pub value: String,
}

/// One entry of `filters` (a rule's or a backendRef's).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteFilter {
    /// `type`: which of the fields below is set.
    #[serde(rename = "type")]
    pub filter_type: String,
    /// `requestHeaderModifier`.
    pub request_header_modifier: Option<HeaderModifier>,
    /// `responseHeaderModifier`.
    pub response_header_modifier: Option<HeaderModifier>,
    /// `requestRedirect`.
    pub request_redirect: Option<RequestRedirect>,
    /// `urlRewrite`.
    pub url_rewrite: Option<UrlRewrite>,
    /// `requestMirror`.
    pub request_mirror: Option<RequestMirror>,
    /// `cors`.
    pub cors: Option<HttpCors>,
}

/// `requestHeaderModifier` / `responseHeaderModifier`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeaderModifier {
    /// `set`: replace every value.
    pub set: Vec<HeaderValuePair>,
    /// `add`: append a value.
    pub add: Vec<HeaderValuePair>,
    /// `remove`: header names.
    pub remove: Vec<String>,
}

/// A header name and value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeaderValuePair {
    /// `name`.
    pub name: String,
    /// `value`.
    pub value: String,
}

/// `requestRedirect`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestRedirect {
    /// `scheme`: `http` or `https`.
    pub scheme: Option<String>,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `path`.
    pub path: Option<PathModifier>,
    /// `port`.
    pub port: Option<i32>,
    /// `statusCode`: 301 or 302 (the default).
    pub status_code: Option<i32>,
}

/// `urlRewrite`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UrlRewrite {
    /// `hostname`.
    pub hostname: Option<String>,
    /// `path`.
    pub path: Option<PathModifier>,
}

/// A redirect's or rewrite's `path`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PathModifier {
    /// `type`: `ReplaceFullPath` or `ReplacePrefixMatch`.
    #[serde(rename = "type")]
    pub modifier_type: String,
    /// `replaceFullPath`.
    pub replace_full_path: Option<String>,
    /// `replacePrefixMatch`.
    pub replace_prefix_match: Option<String>,
}

/// `requestMirror`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestMirror {
    /// `backendRef`.
    pub backend_ref: ObjectReferenceWithPort,
    /// `percent` of requests mirrored (0-100); unset with no `fraction` is all.
    pub percent: Option<i32>,
    /// `fraction` of requests mirrored.
    pub fraction: Option<MirrorFraction>,
}

/// `requestMirror.fraction`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MirrorFraction {
    /// `numerator`.
    pub numerator: i32,
    /// `denominator` (default 100).
    pub denominator: Option<i32>,
}

/// A backend reference with its port (a mirror's target).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectReferenceWithPort {
    /// `group`.
    pub group: Option<String>,
    /// `kind` (default `Service`).
    pub kind: Option<String>,
    /// `name`.
    pub name: String,
    /// `namespace`.
    pub namespace: Option<String>,
    /// `port`.
    pub port: Option<i32>,
}

/// `cors`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpCors {
    /// `allowOrigins`.
    pub allow_origins: Vec<String>,
    /// `allowCredentials`.
    pub allow_credentials: Option<bool>,
    /// `allowMethods`.
    pub allow_methods: Vec<String>,
    /// `allowHeaders`.
    pub allow_headers: Vec<String>,
    /// `exposeHeaders`.
    pub expose_headers: Vec<String>,
    /// `maxAge` in seconds (default 5).
    pub max_age: Option<i64>,
}

/// One entry of a rule's `backendRefs`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpBackendRef {
    /// `group` (default core).
    pub group: Option<String>,
    /// `kind` (default `Service`).
    pub kind: Option<String>,
    /// `name`.
    pub name: String,
    /// `namespace`; unset is the route's own.
    pub namespace: Option<String>,
    /// `port`, required for Services.
    pub port: Option<i32>,
    /// `weight` (default 1).
    pub weight: Option<i32>,
    /// `filters` of this backend only.
    pub filters: Vec<HttpRouteFilter>,
}

/// `rules[].timeouts`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteTimeouts {
    /// `request`: the whole exchange, as a Gateway API duration (`10s`, `500ms`, `1h`).
    pub request: Option<String>,
    /// `backendRequest`: one request to a backend.
    pub backend_request: Option<String>,
}

/// `GRPCRoute`: hostnames and rules (gRPC service/method and header matches, header filters,
/// weighted backends spoken to over HTTP/2) attached to Gateway listeners.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcRoute {
    /// Identity, creation time (precedence) and generation.
    pub metadata: GatewayMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: GrpcRouteSpec,
    /// `status` as the API holds it.
    #[serde(default)]
    pub status: StatusText,
}

/// `GRPCRoute.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcRouteSpec {
    /// `parentRefs`.
    pub parent_refs: Vec<ParentReference>,
    /// `hostnames`; empty means the listeners' hostnames.
    pub hostnames: Vec<String>,
    /// `rules`; empty is one rule matching every gRPC request, with no backends (500).
    pub rules: Vec<GrpcRouteRule>,
}

/// One entry of `GRPCRoute.spec.rules`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcRouteRule {
    /// `name`, optional.
    pub name: Option<String>,
    /// `matches`; empty matches every gRPC request.
    pub matches: Vec<GrpcRouteMatch>,
    /// `filters` (the HTTPRoute filter shape; GRPCRoute allows the header modifiers,
    /// RequestMirror and ExtensionRef).
    pub filters: Vec<HttpRouteFilter>,
    /// `backendRefs`: the weighted split (the HTTPRoute backendRef shape).
    pub backend_refs: Vec<HttpBackendRef>,
}

/// One entry of a GRPCRoute rule's `matches`: every part must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcRouteMatch {
    /// `method`: the gRPC service and method.
    pub method: Option<GrpcMethodMatch>,
    /// `headers`.
    pub headers: Vec<NameValueMatch>,
}

/// `matches[].method`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcMethodMatch {
    /// `type`: `Exact` (the default) or `RegularExpression`.
    #[serde(rename = "type")]
    pub match_type: Option<String>,
    /// `service`, e.g. `foo.bar.v1.Greeter`; unset is any service.
    pub service: Option<String>,
    /// `method`, e.g. `SayHello`; unset is any method.
    pub method: Option<String>,
}

/// `TLSRoute`: SNI hostnames routed to weighted backends on TLS listeners in Passthrough
/// mode (the TCP stream is passed on, not terminated).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsRoute {
    /// Identity, creation time (precedence) and generation.
    pub metadata: GatewayMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: TlsRouteSpec,
    /// `status` as the API holds it.
    #[serde(default)]
    pub status: StatusText,
}

/// `TLSRoute.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsRouteSpec {
    /// `parentRefs`.
    pub parent_refs: Vec<ParentReference>,
    /// `hostnames`: the SNI names served (the v1 schema requires at least one).
    pub hostnames: Vec<String>,
    /// `rules` (the v1 schema allows exactly one).
    pub rules: Vec<TlsRouteRule>,
}

/// One entry of `TLSRoute.spec.rules`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsRouteRule {
    /// `name`, optional.
    pub name: Option<String>,
    /// `backendRefs`: the weighted split (the HTTPRoute backendRef shape, without filters).
    pub backend_refs: Vec<HttpBackendRef>,
}

/// `BackendTLSPolicy`: how the proxy verifies the TLS of a Service's endpoints (CA
/// certificates from ConfigMaps, the hostname sent as SNI and verified).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendTlsPolicy {
    /// Identity, creation time (precedence) and generation.
    pub metadata: GatewayMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: BackendTlsPolicySpec,
    /// `status` as the API holds it.
    #[serde(default)]
    pub status: StatusText,
}

/// `BackendTLSPolicy.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackendTlsPolicySpec {
    /// `targetRefs`: the Services (optionally one port by `sectionName`) it applies to.
    pub target_refs: Vec<PolicyTargetReference>,
    /// `validation`.
    pub validation: BackendTlsValidation,
}

/// One entry of `targetRefs`, in the policy's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyTargetReference {
    /// `group` (core for Services).
    pub group: String,
    /// `kind`.
    pub kind: String,
    /// `name`.
    pub name: String,
    /// `sectionName`: a Service port's name.
    pub section_name: Option<String>,
}

/// `spec.validation`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackendTlsValidation {
    /// `caCertificateRefs`: ConfigMaps (key `ca.crt`) in the policy's namespace.
    pub ca_certificate_refs: Vec<LocalObjectReference>,
    /// `wellKnownCACertificates`: `System`.
    #[serde(rename = "wellKnownCACertificates")]
    pub well_known_ca_certificates: Option<String>,
    /// `hostname`: sent as SNI and, without `subjectAltNames`, verified.
    pub hostname: String,
    /// `subjectAltNames`: names of which the certificate must hold one.
    pub subject_alt_names: Vec<SubjectAltName>,
}

/// A reference to an object in the referrer's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LocalObjectReference {
    /// `group`.
    pub group: String,
    /// `kind`.
    pub kind: String,
    /// `name`.
    pub name: String,
}

/// One entry of `subjectAltNames`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubjectAltName {
    /// `type`: `Hostname` or `URI`.
    #[serde(rename = "type")]
    pub name_type: String,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `uri`.
    pub uri: Option<String>,
}

/// `ReferenceGrant`: lets objects of other namespaces refer to objects of this one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrant {
    /// Identity.
    pub metadata: GatewayMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: ReferenceGrantSpec,
    /// Unused (the kind has no status); kept so every kind here has the same parts.
    #[serde(default, skip)]
    pub status: StatusText,
}

/// `ReferenceGrant.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReferenceGrantSpec {
    /// `from`: who may refer.
    pub from: Vec<ReferenceGrantFrom>,
    /// `to`: to what.
    pub to: Vec<ReferenceGrantTo>,
}

/// One entry of `from`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReferenceGrantFrom {
    /// `group`.
    pub group: String,
    /// `kind`.
    pub kind: String,
    /// `namespace`.
    pub namespace: String,
}

/// One entry of `to`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReferenceGrantTo {
    /// `group`.
    pub group: String,
    /// `kind`.
    pub kind: String,
    /// `name`; unset grants every object of the kind.
    pub name: Option<String>,
}

/// What a Gateway API kind's decoding needs: its kind name and its metadata, which sources
/// complete (a namespaced object without a namespace is in `default`).
pub trait GatewayApiObject: serde::de::DeserializeOwned + Sized {
    /// The `kind:` value.
    const KIND: &'static str;
    /// Its metadata.
    fn meta(&self) -> &GatewayMeta;
    /// Its metadata, to complete.
    fn meta_mut(&mut self) -> &mut GatewayMeta;
    /// The [`Object`] holding it.
    fn into_object(object: Arc<Self>) -> Object;
    /// The object with this metadata and an empty spec.
    fn empty(metadata: GatewayMeta) -> Self;
}

macro_rules! gateway_api_objects {
    ($($ty:ty => $kind:literal, $variant:ident;)*) => {$(
        impl GatewayApiObject for $ty {
            const KIND: &'static str = $kind;
            fn meta(&self) -> &GatewayMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut GatewayMeta {
                &mut self.metadata
            }
            fn into_object(object: Arc<Self>) -> Object {
                Object::$variant(object)
            }
            fn empty(metadata: GatewayMeta) -> Self {
                Self {
                    metadata,
                    spec: Default::default(),
                    status: StatusText::default(),
                }
            }
        }
    )*};
}
gateway_api_objects! {
    GatewayClass => "GatewayClass", GatewayClass;
    Gateway => "Gateway", Gateway;
    HttpRoute => "HTTPRoute", HTTPRoute;
    GrpcRoute => "GRPCRoute", GRPCRoute;
    TlsRoute => "TLSRoute", TLSRoute;
    BackendTlsPolicy => "BackendTLSPolicy", BackendTLSPolicy;
    ReferenceGrant => "ReferenceGrant", ReferenceGrant;
}

/// A Gateway API object as the API server sent it, decoded into our type. The API server
/// validated it against its CRD; a shape our types do not read (a newer API) keeps only the
/// metadata, so the object serves nothing rather than something it did not say (logged).
pub fn from_api<T: GatewayApiObject>(object: Arc<kube::api::DynamicObject>) -> Object {
    let value = serde_json::to_value(&*object).unwrap_or(serde_json::Value::Null);
    let decoded = serde_path_to_error::deserialize::<_, T>(value).unwrap_or_else(|error| {
        let meta = &object.metadata;
        tracing::warn!(
            kind = T::KIND,
            "{}/{}: {error}; the object is kept without its spec",
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or(""),
        );
        T::empty(GatewayMeta {
            name: meta.name.clone().unwrap_or_default(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            generation: meta.generation.unwrap_or(0),
            creation_timestamp: None,
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
        })
    });
    T::into_object(Arc::new(decoded))
}
