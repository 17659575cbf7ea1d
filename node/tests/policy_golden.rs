//! NetworkPolicy golden tests, through the product's own path: each folder under
//! `tests/policy_golden/` holds `cluster.yaml` (Namespaces, Pods and NetworkPolicies as a user and
//! the kubelet write them; this node is `n1`) and `expected.nft`, the compiled ruleset as
//! `nft list table` prints it. The objects are read as the agent reads them (`portcullis-kube`'s
//! manifest parser and Pod conversion, then the agent's `PolicyBook`), so a change in how a Pod
//! field is read shows here. `UPDATE_GOLDEN=1 cargo test -p portcullis-node --test
//! policy_golden` rewrites the expected files after an intended change.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use std::path::Path;

use portcullis_kube::manifests::parse_manifest;
use portcullis_kube::objects::Snapshot;
use portcullis_node::policies::PolicyBook;
use portcullis_policy::compile::{PolicyInput, compile};
use portcullis_policy::model::{Namespace, Pod};
use portcullis_policy::render::render;

fn compile_case(dir: &Path) -> String {
    let path = dir.join("cluster.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let parsed = parse_manifest(&path.display().to_string(), &yaml).unwrap();
    assert!(
        parsed.skipped.is_empty(),
        "{}: {:?}",
        dir.display(),
        parsed.skipped
    );
    let snapshot = Snapshot::from_objects(parsed.objects);
    let (policies, problems) = PolicyBook::default().update(&snapshot.network_policies);
    assert!(problems.is_empty(), "{}: {problems:?}", dir.display());
    let namespaces: Vec<&Namespace> = snapshot.namespaces.values().map(|n| &**n).collect();
    let pods: Vec<&Pod> = snapshot.pods.values().map(|p| &**p).collect();
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy_golden");
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
