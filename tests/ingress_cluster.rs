//! The real binary against a real control plane (etcd, kube-apiserver with RBAC,
//! kube-controller-manager: `portcullis_testkit::control_plane`): backends are made the way a
//! cluster makes them (a Service with a selector, Pods whose readiness is set by patching their
//! status, EndpointSlices written by the real EndpointSlice controller). Each test works in a
//! namespace and IngressClass of its own on the test binary's shared control plane, or on one
//! of its own when it stops the API server.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::net::SocketAddr;
use std::time::Duration;

use portcullis_testkit::control_plane::ControlPlane;
use portcullis_testkit::ingress_process::{Portcullis, TestBackend, get, wait_until};
use portcullis_testkit::pod_network::PodNetwork;

/// One test's corner of a control plane: its namespace, and an IngressClass and controller
/// name nobody else's Portcullis serves.
struct Corner<'p> {
    plane: &'p ControlPlane,
    namespace: String,
    class: String,
}

impl<'p> Corner<'p> {
    fn new(plane: &'p ControlPlane, prefix: &str) -> Self {
        let namespace = plane.namespace(prefix);
        let class = format!("class-{namespace}");
        plane.apply(&format!(
            "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: {class}}}\n\
             spec: {{controller: portcullis.dev/{namespace}}}\n"
        ));
        Corner {
            plane,
            namespace,
            class,
        }
    }

    /// The flags that make a Portcullis serve this corner only.
    fn flags(&self) -> Vec<String> {
        vec![
            "--kubeconfig".into(),
            self.plane.kubeconfig().display().to_string(),
            "--watch-namespace".into(),
            self.namespace.clone(),
            "--ingress-class".into(),
            self.class.clone(),
            "--controller-name".into(),
            format!("portcullis.dev/{}", self.namespace),
        ]
    }

    async fn portcullis(&self, extra: &[&str]) -> Portcullis {
        let mut flags = self.flags();
        flags.extend(extra.iter().map(|f| (*f).to_owned()));
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Portcullis::start_with_env(&flags, &[("POD_NAMESPACE", &self.namespace)]).await
    }

    fn apply(&self, yaml: &str) {
        self.plane.apply(
            &yaml
                .replace("NAMESPACE", &self.namespace)
                .replace("CLASS", &self.class),
        );
    }

    /// Service `name` selecting pods labelled `app: name`, port 80 to `target_port`.
    fn service(&self, name: &str, target_port: u16) {
        self.apply(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: NAMESPACE}}\n\
             spec: {{selector: {{app: {name}}}, ports: [{{name: http, port: 80, targetPort: {target_port}}}]}}\n"
        ));
    }

    /// Pod `pod` of app `app` on node `node`, running and ready at `ip` (no kubelet runs here:
    /// its status is written as a kubelet would write it).
    fn ready_pod(&self, app: &str, pod: &str, ip: std::net::IpAddr) {
        self.apply(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {pod}, namespace: NAMESPACE, labels: {{app: {app}}}}}\n\
             spec: {{nodeName: {node}, containers: [{{name: app, image: registry.invalid/app}}]}}\n",
            node = self.node()
        ));
        let status = format!(
            "{{\"status\": {{\"phase\": \"Running\", \"podIP\": \"{ip}\", \"podIPs\": [{{\"ip\": \"{ip}\"}}], \
             \"conditions\": [{{\"type\": \"Ready\", \"status\": \"True\"}}]}}}}"
        );
        self.plane.kubectl_ok(&[
            "patch",
            "pod",
            pod,
            "-n",
            &self.namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ]);
    }

    /// A Node for this corner's pods (the EndpointSlice controller skips pods on unknown nodes).
    fn node(&self) -> String {
        let name = format!("node-{}", self.namespace);
        self.apply(&format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n"
        ));
        name
    }

    fn ingress(&self, name: &str, host: &str, paths: &[(&str, &str)]) {
        let paths: String = paths
            .iter()
            .map(|(path, service)| {
                format!(
                    "      - {{path: {path}, pathType: Prefix, backend: {{service: {{name: {service}, port: {{name: http}}}}}}}}\n"
                )
            })
            .collect();
        self.apply(&format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: NAMESPACE}}\n\
             spec:\n  ingressClassName: CLASS\n  rules:\n  - host: {host}\n    http:\n      paths:\n{paths}"
        ));
    }
}

async fn answers(proxy: SocketAddr, host: &str, path: &str, want: u16) -> bool {
    wait_until(Duration::from_secs(20), || async {
        get(proxy, host, path).await.map(|r| r.0) == Some(want)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_follow_ingresses_services_and_pods_made_through_the_api() {
    let plane = tokio::task::spawn_blocking(ControlPlane::shared)
        .await
        .unwrap();
    let corner = Corner::new(plane, "sync");
    let wear: TestBackend = PodNetwork::shared().backend("wear").await;
    corner.service("wear", wear.addr.port());
    corner.ready_pod("wear", "wear-1", wear.addr.ip());
    corner.ingress("store", "store.test", &[("/wear", "wear")]);
    let proxy = corner.portcullis(&[]).await;
    assert!(
        answers(proxy.http, "store.test", "/wear", 200).await,
        "log:\n{}\nslices: {}",
        proxy.log(),
        plane.kubectl_ok(&[
            "get",
            "endpointslices",
            "-n",
            &corner.namespace,
            "-o",
            "yaml"
        ])
    );
}
