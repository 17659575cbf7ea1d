//! Golden tests: each folder under `tests/golden/` holds `cluster.yaml` (Namespaces, Pods and
//! NetworkPolicies as a user writes them; pods on node `n1` unless `spec.nodeName` says
//! otherwise) and `expected.nft`, the compiled ruleset as `nft list table` prints it. A reviewer
//! reads the pair; `UPDATE_GOLDEN=1 cargo test -p portcullis-policy --test golden` rewrites the
//! expected files after an intended change.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use std::path::Path;

use portcullis_policy::compile::{PolicyInput, compile};
use portcullis_policy::model::{Labels, NamedPort, Namespace, Pod, Protocol};
use portcullis_policy::parse::parse_policy;
use portcullis_policy::render::render;
use serde_json::Value;

fn labels(meta: &Value) -> Labels {
    meta["labels"]
        .as_object()
        .map(|l| {
            l.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn pod(object: &Value) -> Pod {
    let spec = &object["spec"];
    let ports = spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["name"].is_string())
        .map(|p| NamedPort {
            name: text(&p["name"]),
            protocol: Protocol::from_api(p["protocol"].as_str().unwrap_or("TCP")).unwrap(),
            port: u16::try_from(p["containerPort"].as_u64().unwrap()).unwrap(),
        })
        .collect();
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    Pod {
        namespace: namespace.to_string(),
        name: text(&object["metadata"]["name"]),
        labels: labels(&object["metadata"]),
        node: spec["nodeName"].as_str().unwrap_or("n1").to_string(),
        host_network: spec["hostNetwork"].as_bool().unwrap_or(false),
        ips: object["status"]["podIPs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|ip| ip["ip"].as_str().unwrap().parse().unwrap())
            .collect(),
        ports,
    }
}

fn compile_case(dir: &Path) -> String {
    let yaml = std::fs::read_to_string(dir.join("cluster.yaml")).unwrap();
    let (mut namespaces, mut pods, mut policies) = (Vec::new(), Vec::new(), Vec::new());
    for document in serde_yaml_ng::Deserializer::from_str(&yaml) {
        let object: Value = serde_yaml_ng::with::singleton_map_recursive::deserialize(document)
            .map(|v: serde_yaml_ng::Value| serde_json::to_value(v).unwrap())
            .unwrap();
        match object["kind"].as_str().unwrap() {
            "Namespace" => namespaces.push(Namespace {
                name: text(&object["metadata"]["name"]),
                labels: labels(&object["metadata"]),
            }),
            "Pod" => pods.push(pod(&object)),
            "NetworkPolicy" => policies.push(parse_policy(&object).unwrap()),
            other => panic!("{}: unexpected kind {other}", dir.display()),
        }
    }
    let namespaces: Vec<&Namespace> = namespaces.iter().collect();
    let pods: Vec<&Pod> = pods.iter().collect();
    let ruleset = compile(&PolicyInput {
        node: "n1",
        pod_cidrs: &["10.0.0.0/24".parse().unwrap()],
        namespaces: &namespaces,
        pods: &pods,
        policies: &policies,
    });
    render(&ruleset)
}

#[test]
fn every_golden_case_renders_as_expected() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 4,
        "golden cases missing in {}",
        root.display()
    );
    for dir in cases {
        let rendered = compile_case(&dir);
        let expected_path = dir.join("expected.nft");
        if update {
            std::fs::write(&expected_path, &rendered).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        assert_eq!(
            rendered,
            expected,
            "{}: rendering differs (UPDATE_GOLDEN=1 rewrites it after an intended change)",
            dir.display()
        );
    }
}
