//! The incremental translator must always equal a fresh translation: objects of the golden
//! cases are removed and put back in random order, one change at a time, and after each the
//! kept translator's output is compared with `translate_gateways` from scratch (tables,
//! status and diagnostics, as the golden text renders them).

use std::path::Path;

use portcullis_gateway::{
    DEFAULT_CONTROLLER_NAME, GatewayConfig, GatewayTranslator, translate_gateways,
};
use portcullis_kube::manifests::parse_manifest;
use portcullis_kube::objects::Object;
use portcullis_kube::store::Snapshot;

fn objects() -> Vec<Object> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut objects = Vec::new();
    for case in [
        "base.yaml",
        "matching.yaml",
        "hostnames.yaml",
        "references.yaml",
        "filters.yaml",
        "https.yaml",
        "grpc.yaml",
        "tls.yaml",
        "backend-tls.yaml",
        "mirror.yaml",
    ] {
        let text = std::fs::read_to_string(dir.join(case)).expect("case");
        objects.extend(parse_manifest(case, &text).expect("parses").objects);
    }
    // Later cases reuse Gateway names: keep the last of each key, as a store would.
    let mut by_key = std::collections::BTreeMap::new();
    for object in objects {
        by_key.insert(object.key(), object);
    }
    by_key.into_values().collect()
}

#[test]
fn incremental_updates_equal_a_fresh_translation() {
    let config = GatewayConfig {
        controller_name: DEFAULT_CONTROLLER_NAME.to_string(),
        reserved_ports: vec![8000],
    };
    let all = objects();
    let mut present: Vec<bool> = vec![true; all.len()];
    let snapshot_of = |present: &[bool]| {
        Snapshot::from_objects(
            all.iter()
                .zip(present)
                .filter(|(_, p)| **p)
                .map(|(o, _)| o.clone()),
        )
    };
    let mut translator = GatewayTranslator::new(config.clone());
    let first = snapshot_of(&present);
    assert_eq!(
        translator.update(&first, &[]).to_string(),
        translate_gateways(&first, &config).to_string()
    );
    let mut rng = fastrand::Rng::with_seed(17);
    for step in 0..400 {
        let index = rng.usize(..all.len());
        present[index] = !present[index];
        let snapshot = snapshot_of(&present);
        let changed = [all[index].key()];
        let mut incremental = translator.update(&snapshot, &changed);
        // An update lists the status of the routes it recomputed; the translator keeps all.
        incremental.status.routes = translator.route_states();
        let (incremental, fresh) = (
            incremental.to_string(),
            translate_gateways(&snapshot, &config).to_string(),
        );
        if incremental != fresh {
            let first_difference = incremental
                .lines()
                .zip(fresh.lines())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("incremental: {a}\nfresh:       {b}"))
                .unwrap_or_else(|| "one is a prefix of the other".to_string());
            panic!(
                "step {step}: {} {}:\n{first_difference}\n{incremental}\n----\n{fresh}",
                if present[index] { "added" } else { "removed" },
                changed[0]
            );
        }
    }
}

#[test]
fn only_the_config_maps_a_policy_names_count_as_changes() {
    let config = GatewayConfig {
        controller_name: DEFAULT_CONTROLLER_NAME.to_string(),
        reserved_ports: vec![8000],
    };
    let mut translator = GatewayTranslator::new(config);
    let key = |kind, name: &str| portcullis_kube::objects::ObjectKey {
        kind,
        namespace: "gateway-conformance-infra".to_string(),
        name: name.to_string(),
    };
    use portcullis_kube::objects::Kind;
    // Before the first update every change counts.
    assert!(translator.reads(&key(Kind::ConfigMap, "app-settings")));
    translator.update(&Snapshot::from_objects(objects()), &[]);
    assert!(translator.reads(&key(Kind::ConfigMap, "backend-ca")));
    assert!(translator.reads(&key(Kind::ConfigMap, "not-there")));
    assert!(!translator.reads(&key(Kind::ConfigMap, "app-settings")));
    assert!(translator.reads(&key(Kind::Service, "anything")));
    assert!(!translator.reads(&key(Kind::Ingress, "anything")));
}
