//! Golden tests of the Gateway API translation: each `golden/<case>.yaml` (read after
//! `golden/base.yaml`: namespaces, GatewayClasses, backends) and `golden/<case>.golden`, the
//! per-port tables, status and diagnostics it must produce. `UPDATE_GOLDEN=1 cargo test -p
//! portcullis-gateway --test translate_golden` rewrites the expected files; review the diff.

use std::path::{Path, PathBuf};

use portcullis_gateway::{DEFAULT_CONTROLLER_NAME, GatewayConfig, translate_gateways};
use portcullis_kube::manifests::parse_manifest;
use portcullis_kube::store::Snapshot;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn render_case(name: &str, text: &str) -> String {
    let base = std::fs::read_to_string(golden_dir().join("base.yaml")).expect("base.yaml");
    let mut objects = parse_manifest("base.yaml", &base)
        .expect("base parses")
        .objects;
    let parsed = parse_manifest(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
    objects.extend(parsed.objects);
    let snapshot = Snapshot::from_objects(objects);
    let config = GatewayConfig {
        controller_name: DEFAULT_CONTROLLER_NAME.to_string(),
        reserved_ports: vec![8000],
    };
    translate_gateways(&snapshot, &config).to_string()
}

#[test]
fn golden_cases() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(golden_dir()).expect("golden dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if !name.ends_with(".yaml") || name == "base.yaml" {
            continue;
        }
        cases += 1;
        let text = std::fs::read_to_string(&path).expect("case");
        let rendered = render_case(&name, &text);
        let expected_path = path.with_extension("golden");
        if update {
            std::fs::write(&expected_path, &rendered).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != rendered {
            failures.push(format!(
                "--- {name}: expected\n{expected}\n--- got\n{rendered}"
            ));
        }
    }
    assert!(cases >= 4, "golden cases missing");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn translation_is_deterministic() {
    for case in ["matching.yaml", "hostnames.yaml", "references.yaml"] {
        let text = std::fs::read_to_string(golden_dir().join(case)).expect("case");
        assert_eq!(render_case(case, &text), render_case(case, &text));
    }
}
