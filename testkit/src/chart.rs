//! The Helm chart as tests use it: rendered by the real helm (`charts/helm.sh` fetches it), and
//! the ServiceAccounts with exactly the roles it renders, as kubeconfigs for the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::control_plane::{ControlPlane, service_account_kubeconfig};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The helm binary, fetched on first use.
pub fn helm() -> PathBuf {
    let output = Command::new("bash")
        .arg(root().join("charts/helm.sh"))
        .output()
        .expect("run charts/helm.sh");
    assert!(output.status.success(), "charts/helm.sh: {output:?}");
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// `helm template` of the chart as release `release` in `namespace`, with `--set` `values`.
pub fn render(release: &str, namespace: &str, values: &[&str]) -> String {
    let mut args = vec![
        "template",
        release,
        "charts/portcullis",
        "--namespace",
        namespace,
    ];
    for value in values {
        args.extend(["--set", value]);
    }
    let output = Command::new(helm())
        .args(&args)
        .current_dir(root())
        .output()
        .expect("run helm");
    assert!(
        output.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The objects of `rendered` whose kind is one of `kinds`, as one YAML stream.
pub fn of_kinds(rendered: &str, kinds: &[&str]) -> String {
    rendered
        .split("\n---")
        .filter(|doc| {
            kinds
                .iter()
                .any(|kind| doc.contains(&format!("\nkind: {kind}\n")))
        })
        .map(|doc| format!("---{doc}\n"))
        .collect()
}

/// The kinds that make up the chart's identities and permissions.
pub const RBAC_KINDS: [&str; 5] = [
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
];

/// The chart's node-agent ServiceAccount, with exactly the roles the chart renders for it,
/// applied to `plane` (release `release` in namespace `namespace`, which must exist); a
/// kubeconfig with its token is written into `dir`.
pub fn node_agent_account(
    plane: &ControlPlane,
    release: &str,
    namespace: &str,
    dir: &Path,
) -> PathBuf {
    let rendered = render(release, namespace, &["node.enabled=true"]);
    let node_only: String = of_kinds(&rendered, &RBAC_KINDS)
        .split("\n---")
        .filter(|doc| doc.contains("-node\n"))
        .map(|doc| format!("\n---{}", doc.trim_start_matches("---")))
        .collect();
    assert_eq!(node_only.matches("\nkind: ").count(), 3, "{node_only}");
    plane.apply(&node_only);
    let kubeconfig = dir.join("node-agent.kubeconfig");
    service_account_kubeconfig(
        plane,
        namespace,
        &format!("{release}-portcullis-node"),
        &kubeconfig,
    );
    kubeconfig
}
