//! Command-line interface of the `portcullis` binary.

use clap::{Parser, Subcommand};
use portcullis_ingress::args::IngressArgs;
use portcullis_ingress::migrate_command::MigrateCheckArgs;
use portcullis_node::args::NodeArgs;

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
    /// Report what Portcullis would do with existing ingress-nginx Ingresses and ConfigMap;
    /// exit code 1 when something is unsupported, invalid or would fail closed.
    MigrateCheck(MigrateCheckArgs),
}

#[cfg(test)]
mod tests {
    use super::*;

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
