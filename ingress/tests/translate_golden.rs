//! Golden tests of the translation: each `golden/<case>.yaml` holds Kubernetes objects, and
//! `golden/<case>.golden` the routing table and diagnostics they must produce, as text a
//! reviewer can read. `UPDATE_GOLDEN=1 cargo test --test translate_golden` rewrites the
//! expected files; review the diff before committing it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use portcullis_ingress::translate::{
    ClassIdentity, Severity, TlsConfig, TranslateConfig, translate,
};
use portcullis_kube::manifests::parse_manifest;
use portcullis_kube::store::Snapshot;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Reads `# flags: --default-backend-service=NS/NAME --https --default-ssl-certificate=NS/NAME`
/// from the top of a case.
fn config_for(text: &str) -> TranslateConfig {
    let mut config = TranslateConfig {
        class: ClassIdentity {
            ingress_class: "portcullis".into(),
            controller_name: "portcullis.dev/ingress-controller".into(),
        },
        default_backend_service: None,
        default_body_size: None,
        tls: None,
    };
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(flags) = line.strip_prefix("# flags:") {
            for flag in flags.split_whitespace() {
                if let Some(value) = flag.strip_prefix("--default-backend-service=") {
                    config.default_backend_service = Some(value.parse().expect("valid flag"));
                }
                if let Some(value) = flag.strip_prefix("--default-body-size=") {
                    config.default_body_size =
                        portcullis_ingress::translate::parse_size(value).expect("valid flag");
                }
                if flag == "--https" {
                    config.tls.get_or_insert_with(TlsConfig::default);
                }
                if let Some(value) = flag.strip_prefix("--default-ssl-certificate=") {
                    config
                        .tls
                        .get_or_insert_with(TlsConfig::default)
                        .default_certificate = Some(value.parse().expect("valid flag"));
                }
            }
        }
    }
    config
}

/// The text a case must produce: table, then diagnostics, then the Ingresses served.
pub fn render_case(name: &str, text: &str) -> String {
    let parsed = parse_manifest(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let snapshot = Snapshot::from_objects(parsed.objects);
    let translation = translate(&snapshot, &config_for(text));
    let mut out = translation.spec.to_string();
    out.push_str(&translation.tls.to_string());
    out.push_str("diagnostics:\n");
    for diagnostic in &translation.diagnostics {
        let level = match diagnostic.severity {
            Severity::Error => "error",
            _ => "warning",
        };
        let _ = writeln!(
            out,
            "  {level} {}: {diagnostic}",
            diagnostic.reason.as_str()
        );
    }
    out.push_str("served:\n");
    for ingress in translation.ingresses.iter() {
        let _ = writeln!(out, "  {ingress}");
    }
    out
}

#[test]
fn golden_cases_match() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("golden dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "golden cases missing: {cases:?}");
    let mut failures = Vec::new();
    for case in cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let text = std::fs::read_to_string(&case).expect("readable case");
        let actual = render_case(name, &text);
        let expected_path = case.with_extension("golden");
        if update {
            std::fs::write(&expected_path, &actual).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!(
                "{} missing: run with UPDATE_GOLDEN=1",
                expected_path.display()
            )
        });
        if expected != actual {
            failures.push(format!(
                "--- {name}: expected ({})\n{expected}\n--- actual\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatch:\n{}",
        failures.join("\n")
    );
}

#[test]
fn translation_is_deterministic_under_reordering() {
    let case = golden_dir().join("conflicts.yaml");
    let text = std::fs::read_to_string(&case).expect("case");
    let mut objects = parse_manifest("conflicts.yaml", &text)
        .expect("parses")
        .objects;
    let config = config_for(&text);
    let forward = translate(&Snapshot::from_objects(objects.clone()), &config);
    objects.reverse();
    let backward = translate(&Snapshot::from_objects(objects), &config);
    assert_eq!(forward, backward);
}
