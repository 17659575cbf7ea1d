//! The flags of `portcullis node`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use portcullis_kube::duration_flag::parse_duration;

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
