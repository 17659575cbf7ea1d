//! Command-line interface of the `portcullis` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::translate::{NamespacedName, ServiceRef};

/// Portcullis: Kubernetes ingress controller with a built-in proxy.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The components the binary can run.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // Parsed once at start and moved out: size is irrelevant.
pub enum Command {
    /// Run the ingress controller and its proxy.
    Ingress(IngressArgs),
    /// Run the node agent: routes to other nodes' pods, forwarding, this node's CNI config.
    Node(NodeArgs),
}

/// Flags of `portcullis node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The name of the Node object of the machine this runs on (the chart passes
    /// spec.nodeName).
    #[arg(long, env = "NODE_NAME", value_name = "NAME")]
    pub node_name: String,

    /// Read Node objects from the YAML/JSON files in this folder (watched for changes)
    /// instead of from the Kubernetes API.
    #[arg(long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,

    /// Kubernetes client configuration to use without --manifests (default: KUBECONFIG,
    /// ~/.kube/config, or the in-cluster service account).
    #[arg(long, value_name = "PATH", conflicts_with = "manifests")]
    pub kubeconfig: Option<PathBuf>,

    /// Copy this CNI plugin binary into --cni-bin-dir at start, before any configuration is
    /// written (the DaemonSet passes the one in its image).
    #[arg(long, value_name = "PATH")]
    pub install_cni_plugin: Option<PathBuf>,

    /// Where the container runtime looks for CNI plugin binaries.
    #[arg(long, default_value = "/opt/cni/bin", value_name = "DIR")]
    pub cni_bin_dir: PathBuf,

    /// Where this node's CNI network configuration is written for the container runtime.
    #[arg(long, default_value = "/etc/cni/net.d", value_name = "DIR")]
    pub cni_conf_dir: PathBuf,

    /// The file name of that configuration (runtimes load the first name in lexical order).
    #[arg(long, default_value = "10-portcullis.conflist", value_name = "NAME")]
    pub cni_conf_file: String,

    /// The CNI network's name (also the name of its IPAM directory).
    #[arg(long, default_value = "portcullis", value_name = "NAME")]
    pub network_name: String,

    /// The bridge pods attach to.
    #[arg(long, default_value = portcullis_cni::config::DEFAULT_BRIDGE, value_name = "NAME")]
    pub bridge: String,

    /// MTU of the bridge and pod interfaces (default: the kernel's, 1500 on most links).
    #[arg(long, value_name = "BYTES")]
    pub mtu: Option<u32>,

    /// Masquerade traffic from this node's pods to outside the cluster (anything but the Nodes'
    /// pod CIDRs and addresses and --cluster-cidr), so pods reach networks that have no route
    /// back to them. Inside the cluster nothing is translated. `--masquerade-outside=false`
    /// when the network routes pod CIDRs itself.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub masquerade_outside: bool,

    /// Destinations that are inside the cluster besides the Nodes' pod CIDRs and addresses
    /// (e.g. the cluster's whole pod range); comma-separated, one per family.
    #[arg(long, value_name = "CIDR", value_delimiter = ',')]
    pub cluster_cidr: Vec<ipnet::IpNet>,

    /// Enforce NetworkPolicy for this node's pods (nftables table `inet portcullis`). Off: Pods,
    /// Namespaces and NetworkPolicies are not watched and the table is removed.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub network_policy: bool,

    /// How often routes, forwarding and the CNI configuration are checked and repaired even
    /// when no Node changed.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub resync_period: Duration,
}

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

    /// Service that answers requests no Ingress matches, as NAMESPACE/NAME or
    /// NAMESPACE/NAME:PORT (default: a built-in 404).
    #[arg(long, value_name = "NS/NAME[:PORT]")]
    pub default_backend_service: Option<ServiceRef>,

    /// Longest wait for a client's request headers.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// Longest wait for a TCP connect to an upstream endpoint before trying the next one.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub upstream_connect_timeout: Duration,

    /// Longest wait for an upstream's response headers before answering 504.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub upstream_response_timeout: Duration,

    /// How long an idle client keep-alive connection stays open.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// On SIGTERM, how long in-flight requests may take to finish before the process exits.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
}

/// Parses `250ms`, `30s`, `5m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration like 500ms, 30s, 5m or 1h"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "" | "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value * 60),
        "h" => Duration::from_secs(value * 3600),
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?}; use ms, s, m or h"
            ));
        }
    };
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn the_flags_the_chart_passes_to_the_node_agent_parse() {
        // charts/portcullis/templates/node.yaml (charts/check.sh greps the same flags).
        let cli = Cli::try_parse_from([
            "portcullis",
            "node",
            "--node-name=n1",
            "--install-cni-plugin=/usr/local/bin/portcullis-cni",
            "--cni-bin-dir=/host/opt/cni/bin",
            "--cni-conf-dir=/host/etc/cni/net.d",
            "--bridge=cni0",
            "--resync-period=10s",
            "--masquerade-outside=false",
            "--network-policy=true",
            "--cluster-cidr=10.244.0.0/16,fd00:244::/56",
            "--mtu=1450",
        ])
        .expect("valid flags");
        let Command::Node(args) = cli.command else {
            panic!("parsed as another command");
        };
        assert!(!args.masquerade_outside);
        assert_eq!(args.cluster_cidr.len(), 2);
        assert_eq!(args.mtu, Some(1450));
        let defaults = Cli::try_parse_from(["portcullis", "node", "--node-name", "n1"]);
        let Command::Node(args) = defaults.expect("valid").command else {
            panic!("parsed as another command");
        };
        assert!(args.masquerade_outside);
    }

    #[test]
    fn default_backend_service_flag_parses() {
        let cli = Cli::try_parse_from([
            "portcullis",
            "ingress",
            "--default-backend-service",
            "system/fallback:http",
        ])
        .expect("valid flags");
        let Command::Ingress(args) = cli.command else {
            panic!("parsed as another command");
        };
        let service = args.default_backend_service.expect("set");
        assert_eq!(service.namespace, "system");
        assert!(
            Cli::try_parse_from(["portcullis", "ingress", "--default-backend-service", "nope"])
                .is_err()
        );
    }
}
