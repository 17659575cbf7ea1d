//! The flags of `portcullis ingress`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use portcullis_kube::duration_flag::parse_duration;

use crate::translate::{NamespacedName, ServiceRef};

/// Flags of `portcullis ingress`.
#[derive(Debug, Args)]
pub struct IngressArgs {
    /// Read Kubernetes objects from the YAML/JSON files in this folder (watched for changes)
    /// instead of from the Kubernetes API.
    #[arg(long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,

    /// Kubernetes client configuration to use without --manifests (default: KUBECONFIG,
    /// ~/.kube/config, or the in-cluster service account).
    #[arg(long, value_name = "PATH", conflicts_with = "manifests")]
    pub kubeconfig: Option<PathBuf>,

    /// Only watch Ingresses, Services, EndpointSlices and Secrets in this namespace.
    #[arg(long, value_name = "NAMESPACE", conflicts_with = "manifests")]
    pub watch_namespace: Option<String>,

    /// Write this Service's LoadBalancer addresses into the status of our Ingresses, as
    /// NAMESPACE/NAME (the cloud LoadBalancer case; API mode only).
    #[arg(long, value_name = "NS/NAME", conflicts_with_all = ["manifests", "publish_status_address"])]
    pub publish_service: Option<NamespacedName>,

    /// Write these IPs or hostnames into the status of our Ingresses, comma-separated (the
    /// NodePort / bare-metal case; API mode only).
    #[arg(
        long,
        value_name = "A,B",
        value_delimiter = ',',
        conflicts_with = "manifests"
    )]
    pub publish_status_address: Vec<String>,

    /// Name of the Lease replicas compete for; only its holder writes Ingress status.
    #[arg(long, default_value = "portcullis-leader", value_name = "NAME")]
    pub election_id: String,

    /// How long the leader Lease stays valid without renewal.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub election_ttl: Duration,

    /// Where the proxy listens for plain HTTP (HTTP/1.1 and h2c).
    #[arg(long, default_value = "0.0.0.0:8080", value_name = "ADDR")]
    pub http_addr: SocketAddr,

    /// Where the proxy listens for HTTPS (TLS 1.2/1.3, HTTP/2 and HTTP/1.1 by ALPN); off if
    /// not given. With it, hosts under an Ingress's spec.tls redirect plain HTTP to HTTPS.
    #[arg(long, value_name = "ADDR")]
    pub https_addr: Option<SocketAddr>,

    /// kubernetes.io/tls Secret (NAMESPACE/NAME) served for no SNI or an unknown name
    /// (default: a self-signed certificate generated at start).
    #[arg(long, value_name = "NS/NAME", requires = "https_addr")]
    pub default_ssl_certificate: Option<NamespacedName>,

    /// Where /healthz, /readyz and /metrics are served.
    #[arg(long, default_value = "0.0.0.0:10254", value_name = "ADDR")]
    pub admin_addr: SocketAddr,

    /// Ingress class name this controller serves (matched by the legacy
    /// kubernetes.io/ingress.class annotation).
    #[arg(long, default_value = "portcullis")]
    pub ingress_class: String,

    /// The spec.controller value of the IngressClasses this controller serves.
    #[arg(long, default_value = "portcullis.dev/ingress-controller")]
    pub controller_name: String,

    /// Gateway API: GatewayClasses whose spec.controllerName is this are served, with their
    /// Gateways and the routes attached to them.
    #[arg(long, default_value = portcullis_gateway::DEFAULT_CONTROLLER_NAME)]
    pub gateway_controller_name: String,

    /// Gateway API: the address each listener port of our Gateways is opened on.
    #[arg(long, default_value = "0.0.0.0", value_name = "IP")]
    pub gateway_address: IpAddr,

    /// Service that answers requests no Ingress matches, as NAMESPACE/NAME or
    /// NAMESPACE/NAME:PORT (default: a built-in 404).
    #[arg(long, value_name = "NS/NAME[:PORT]")]
    pub default_backend_service: Option<ServiceRef>,

    /// Longest wait for a client's request headers.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// The HTTP and HTTPS listeners expect a PROXY protocol (v1 or v2) header on every
    /// connection, as a load balancer sends it (ingress-nginx's `use-proxy-protocol`); the
    /// client it names is the client address.
    #[arg(long)]
    pub proxy_protocol: bool,

    /// The peers (load balancers) allowed to send PROXY protocol headers, as CIDRs
    /// (comma-separated); connections from others are closed and counted. Empty: any peer
    /// (logged as a warning: a direct client could then name any address).
    #[arg(long, value_delimiter = ',')]
    pub proxy_protocol_trusted_cidrs: Vec<ipnet::IpNet>,

    /// Longest wait for a connection's PROXY protocol header.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub proxy_protocol_timeout: Duration,

    /// Longest wait for a TCP connect to an upstream endpoint before trying the next one.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub upstream_connect_timeout: Duration,

    /// Longest wait for an upstream's response headers before answering 504.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub upstream_response_timeout: Duration,

    /// Longest time an upstream may take no request body bytes before answering 504 (nginx's
    /// `proxy_send_timeout`).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub upstream_send_timeout: Duration,

    /// How long an idle client keep-alive connection stays open.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// On SIGTERM, how long in-flight requests may take to finish before the process exits.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// Longest pause in a client's request body before answering 408 (nginx's
    /// `client_body_timeout`).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub client_body_timeout: Duration,

    /// Longest time a client may take no response bytes before it is disconnected (nginx's
    /// `send_timeout`).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub send_timeout: Duration,

    /// Largest request head in bytes: the HTTP/1 request line and headers, the HTTP/2 header
    /// list; larger ones are answered 431 (ingress-nginx's `large-client-header-buffers`
    /// default, 4 x 8k). At least 8192.
    #[arg(long, default_value_t = 32 * 1024, value_parser = clap::value_parser!(u32).range(8192..))]
    pub max_request_header_bytes: u32,

    /// HTTP/2 streams one client connection may have open at once (ingress-nginx's
    /// `http2-max-concurrent-streams`).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    pub http2_max_concurrent_streams: u32,

    /// Upstream requests one HTTP/2 client connection may have in flight at once; its other
    /// streams wait. Bounds the upstream connections and buffered bytes one client ties up.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub http2_upstream_requests: u32,

    /// Largest request body where an Ingress sets no `proxy-body-size` (8m, 512k, bytes; 0
    /// for none); larger ones get 413. Default: 1m, ingress-nginx's, when --ingress-class is
    /// nginx; else no limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_body_size)]
    pub default_body_size: Option<BodySizeFlag>,
}

/// `--default-body-size` as given: `Some(bytes)`, or `None` for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodySizeFlag(pub Option<u64>);

fn parse_body_size(text: &str) -> Result<BodySizeFlag, String> {
    crate::translate::parse_size(text).map(BodySizeFlag)
}

impl IngressArgs {
    /// The body limit for Ingresses without `proxy-body-size`.
    pub fn default_body_size(&self) -> Option<u64> {
        match self.default_body_size {
            Some(BodySizeFlag(limit)) => limit,
            None if self.ingress_class == "nginx" => Some(1 << 20),
            None => None,
        }
    }
}
