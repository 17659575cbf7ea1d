use super::*;

const SERVICE: &str =
    "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n";

fn keys(parsed: &ParsedFile) -> Vec<String> {
    parsed.objects.iter().map(|o| o.key().to_string()).collect()
}

#[test]
fn reads_multi_document_yaml_and_defaults_the_namespace() {
    let text = format!(
        "# leading comment\n---\n{SERVICE}---\n# only a comment\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: portcullis}}\n\
         spec: {{controller: x}}\n---\n---\n\
         apiVersion: v1\nkind: Endpoints\nmetadata: {{name: web, namespace: shop}}\n...\n"
    );
    let parsed = parse_manifest("a.yaml", &text).expect("parses");
    assert_eq!(
        keys(&parsed),
        [
            "Service default/web",
            "IngressClass portcullis",
            "Endpoints shop/web"
        ]
    );
    assert!(parsed.skipped.is_empty());
}

#[test]
fn skips_other_kinds_and_says_where_they_are() {
    let text = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec: {{replicas: 2}}\n---\n{SERVICE}"
    );
    let parsed = parse_manifest("a.yml", &text).expect("parses");
    assert_eq!(keys(&parsed), ["Service default/web"]);
    assert_eq!(
        parsed.skipped,
        [SkippedObject {
            line: 1,
            api_version: "apps/v1".into(),
            kind: "Deployment".into()
        }]
    );
}

#[test]
fn unpacks_lists_in_yaml_and_json() {
    let yaml = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n\
                - apiVersion: v1\n  kind: Secret\n  metadata: {name: b, namespace: x}\n";
    let parsed = parse_manifest("l.yaml", yaml).expect("parses");
    assert_eq!(keys(&parsed), ["Service default/a", "Secret x/b"]);

    let json = r#"{"apiVersion": "v1", "kind": "ServiceList", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "j"}}]}"#;
    let parsed = parse_manifest("l.json", json).expect("parses");
    assert_eq!(keys(&parsed), ["Service default/j"]);
}

#[test]
fn reads_a_single_json_object() {
    let json = r#"{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "s", "namespace": "n"}, "addressType": "IPv4", "endpoints": []}"#;
    let parsed = parse_manifest("s.json", json).expect("parses");
    assert_eq!(keys(&parsed), ["EndpointSlice n/s"]);
}

#[test]
fn a_dash_line_inside_a_block_scalar_is_only_special_at_column_zero() {
    let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  note: |\n    ---\n    not a separator\n";
    let parsed = parse_manifest("s.yaml", text).expect("parses");
    assert_eq!(keys(&parsed), ["Secret default/s"]);
}

#[test]
fn errors_name_file_line_object_and_field() {
    // The third document has a wrong type on line 14 of the file.
    let text = format!(
        "{SERVICE}---\n{SERVICE}---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: store\n  namespace: shop\n\
         spec:\n  rules:\n  - host: 42\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        \
         backend: {{service: {{name: web, port: {{number: eighty}}}}}}\n"
    );
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .expect("needle")
            + 1
    };
    let error = parse_manifest("store.yaml", &text).expect_err("bad type");
    assert_eq!(error.file, "store.yaml");
    assert_eq!(error.line, line_of("eighty"), "{error}");
    assert_eq!(error.object.as_deref(), Some("Ingress shop/store"));
    assert!(
        error
            .message
            .contains("spec.rules[0].http.paths[0].backend.service.port.number"),
        "{error}"
    );
    assert!(
        error.to_string().starts_with(&format!(
            "store.yaml:{}: Ingress shop/store: spec.rules",
            line_of("eighty")
        )),
        "{error}"
    );
}

#[test]
fn rejects_bad_documents() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "wrong apiVersion",
            "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old}\n",
            "apiVersion \"extensions/v1beta1\" is not supported for Ingress; use networking.k8s.io/v1",
        ),
        (
            "missing name",
            "apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n",
            "metadata.name is required",
        ),
        (
            "missing kind",
            "apiVersion: v1\nmetadata: {name: x}\n",
            "no `kind:` field",
        ),
        (
            "yaml syntax",
            "apiVersion: v1\nkind: Service\nmetadata: {name: [\n",
            "",
        ),
    ];
    for (case, text, needle) in cases {
        let error = parse_manifest("bad.yaml", text).expect_err(case);
        assert!(error.to_string().contains(needle), "{case}: {error}");
        assert!(
            error.to_string().starts_with("bad.yaml:"),
            "{case}: {error}"
        );
    }
}

#[test]
fn a_bad_document_fails_the_whole_file() {
    let text = format!("{SERVICE}---\napiVersion: v1\nkind: Service\nmetadata: {{}}\n");
    let error = parse_manifest("two.yaml", &text).expect_err("second is bad");
    assert_eq!(error.line, 6, "{error}");
}

#[test]
fn an_error_at_the_end_of_a_file_without_a_final_newline_names_its_last_line() {
    // Found by the manifests_yaml fuzz target: the YAML scanner reports the end of such a
    // file on the line after it, so the error named line 4 of a 3-line file.
    let text = "# a comment\napiVersion: networking.k8s# An...\nr";
    let error = parse_manifest("f.yaml", text).expect_err("`r` is not a key");
    assert_eq!(error.line, 3, "{error}");
    let text = format!("{SERVICE}---\napiVersion: v1\nkind");
    let error = parse_manifest("two.yaml", &text).expect_err("`kind` is not a key");
    assert_eq!(error.line, text.lines().count(), "{error}");
}

#[test]
fn json_errors_carry_the_line() {
    let json =
        "{\n \"apiVersion\": \"v1\",\n \"kind\": \"Service\",\n \"metadata\": {\"name\": 7}\n}";
    let error = parse_manifest("svc.json", json).expect_err("bad name type");
    assert_eq!(error.line, 4, "{error}");
    assert!(error.message.contains("metadata.name"), "{error}");
}

#[test]
fn reads_nodes_without_a_namespace_and_names_a_bad_field() {
    let text = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n\
                spec: {podCIDRs: [10.0.1.0/24]}\n\
                status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}\n";
    let parsed = parse_manifest("nodes.yaml", text).expect("parses");
    assert_eq!(keys(&parsed), ["Node n1"]);
    let Object::Node(node) = &parsed.objects[0] else {
        panic!("not a Node");
    };
    assert_eq!(node.pod_cidrs, ["10.0.1.0/24"]);
    assert_eq!(node.internal_ips, ["192.168.0.1"]);

    let bad = "apiVersion: v1\nkind: Node\nmetadata: {name: n2}\nspec: {podCIDRs: 7}\n";
    let error = parse_manifest("nodes.yaml", bad).expect_err("podCIDRs is a list");
    assert_eq!(error.object.as_deref(), Some("Node n2"));
    assert!(error.message.contains("spec.podCIDRs"), "{error}");
}

#[test]
fn reads_pods_namespaces_and_network_policies_as_json() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {team: a}}\n---\n\
                apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {app: web}}\n\
                spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}\n\
                status: {podIP: 10.0.0.5}\n---\n\
                apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n\
                metadata: {name: deny, managedFields: [{manager: kubectl}]}\n\
                spec: {podSelector: {}, futureField: 1}\n";
    let parsed = parse_manifest("policy.yaml", text).expect("parses");
    assert_eq!(
        keys(&parsed),
        [
            "Namespace shop",
            "Pod default/web",
            "NetworkPolicy default/deny"
        ]
    );
    let Object::NetworkPolicy(policy) = &parsed.objects[2] else {
        panic!("not a NetworkPolicy");
    };
    // Unknown fields survive for the policy parser; managedFields do not.
    assert_eq!(policy.json["spec"]["futureField"], 1);
    assert!(policy.json["metadata"].get("managedFields").is_none());
    assert_eq!(policy.json["metadata"]["namespace"], "default");

    let wrong = "apiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: old}\n";
    let error = parse_manifest("p.yaml", wrong).expect_err("old apiVersion");
    assert!(error.message.contains("networking.k8s.io/v1"), "{error}");
}
