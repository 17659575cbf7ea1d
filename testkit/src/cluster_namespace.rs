//! One test's namespace on a real control plane, and the objects tests make in it the way a
//! cluster makes them: Services with selectors, Pods made ready by writing their status as a
//! kubelet would (no kubelet runs), so the real EndpointSlice controller writes the slices.

use std::net::IpAddr;

use crate::control_plane::ControlPlane;

/// A namespace of its own on `plane`; `NAMESPACE` in applied YAML stands for its name.
pub struct TestNamespace<'p> {
    /// The control plane.
    pub plane: &'p ControlPlane,
    /// The namespace's name.
    pub name: String,
}

impl<'p> TestNamespace<'p> {
    /// A fresh namespace named after `prefix`.
    pub fn new(plane: &'p ControlPlane, prefix: &str) -> Self {
        TestNamespace {
            plane,
            name: plane.namespace(prefix),
        }
    }

    /// Applies `yaml` with `NAMESPACE` replaced by this namespace's name.
    pub fn apply(&self, yaml: &str) {
        self.plane.apply(&yaml.replace("NAMESPACE", &self.name));
    }

    /// Service `name` selecting pods labelled `app: name`, port 80 (named `http`) to
    /// `target_port`.
    pub fn service(&self, name: &str, target_port: u16) {
        self.apply(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: NAMESPACE}}\n\
             spec: {{selector: {{app: {name}}}, ports: [{{name: http, port: 80, targetPort: {target_port}}}]}}\n"
        ));
    }

    /// Pod `pod` of app `app`, running and ready at `ip`.
    pub fn ready_pod(&self, app: &str, pod: &str, ip: IpAddr) {
        self.apply(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {pod}, namespace: NAMESPACE, labels: {{app: {app}}}}}\n\
             spec: {{nodeName: {node}, containers: [{{name: app, image: registry.invalid/app}}]}}\n",
            node = self.node()
        ));
        let status = format!(
            "{{\"status\": {{\"phase\": \"Running\", \"podIP\": \"{ip}\", \"podIPs\": [{{\"ip\": \"{ip}\"}}], \
             \"conditions\": [{{\"type\": \"Ready\", \"status\": \"True\"}}]}}}}"
        );
        self.patch("pod", pod, true, &status);
    }

    /// A Node for this namespace's pods (the EndpointSlice controller skips pods on unknown
    /// nodes).
    pub fn node(&self) -> String {
        let name = format!("node-{}", self.name);
        self.apply(&format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n"
        ));
        name
    }

    /// Sets pod `pod`'s Ready condition.
    pub fn set_ready(&self, pod: &str, ready: bool) {
        let status = format!(
            "{{\"status\": {{\"conditions\": [{{\"type\": \"Ready\", \"status\": \"{}\"}}]}}}}",
            if ready { "True" } else { "False" }
        );
        self.patch("pod", pod, true, &status);
    }

    /// A merge patch of `kind/name`, on its status subresource when `status`.
    pub fn patch(&self, kind: &str, name: &str, status: bool, patch: &str) {
        let mut args = vec!["patch", kind, name, "--type=merge", "-p", patch];
        if status {
            args.push("--subresource=status");
        }
        self.kubectl(&args);
    }

    /// `kubectl -n NAMESPACE args...`, which must succeed; its output.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        self.plane.kubectl_ok(&all)
    }

    /// `kind/name` in this namespace as JSON.
    pub fn get_json(&self, kind: &str, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.kubectl(&["get", kind, name, "-o", "json"]))
            .expect("kubectl prints JSON")
    }
}
