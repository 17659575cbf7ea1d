//! `portcullis migrate-check` as CI runs it: the real binary over a folder of Ingresses (and an
//! ingress-nginx ConfigMap), its report on stdout, exit code 0 only when nothing blocks.

use std::process::Command;

use portcullis_testkit::binaries::cargo_bin;

const CLASS: &str = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: nginx}\nspec: {controller: k8s.io/ingress-nginx}\n";

fn ingress(annotations: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: shop\n  namespace: web\n  annotations:\n{annotations}spec:\n  ingressClassName: nginx\n  rules:\n  - host: shop.example\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: shop, port: {{number: 80}}}}}}}}\n"
    )
}

fn check(objects: &str, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("objects.yaml"), objects).expect("write");
    let output = Command::new(cargo_bin("portcullis"))
        .arg("migrate-check")
        .arg("--manifests")
        .arg(dir.path())
        .args(extra)
        .output()
        .expect("runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn a_migratable_ingress_passes_and_one_with_an_unsupported_annotation_does_not() {
    let good = format!(
        "{CLASS}{}",
        ingress(
            "    nginx.ingress.kubernetes.io/rewrite-target: /\n    nginx.ingress.kubernetes.io/ssl-redirect: \"false\"\n"
        )
    );
    let (code, report) = check(&good, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("Ingress web/shop\n"), "{report}");
    assert!(
        report.contains("honoured     nginx.ingress.kubernetes.io/rewrite-target: \"/\""),
        "{report}"
    );
    assert!(
        report.ends_with("result: ready to migrate (differences are listed above)\n"),
        "{report}"
    );

    let blocked = format!(
        "{CLASS}{}",
        ingress(
            "    nginx.ingress.kubernetes.io/limit-rps: \"5\"\n    nginx.ingress.kubernetes.io/auth-url: https://auth/check\n"
        )
    );
    let (code, report) = check(&blocked, &[]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("unsupported  nginx.ingress.kubernetes.io/limit-rps"),
        "{report}"
    );
    assert!(
        report.contains("fails-closed nginx.ingress.kubernetes.io/auth-url"),
        "{report}"
    );

    let (code, json) = check(&blocked, &["-o", "json"]);
    assert_eq!(code, 1);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON on stdout");
    assert_eq!(value["passes"], false);
    assert_eq!(
        value["ingresses"][0]["annotations"][1]["verdict"],
        "unsupported"
    );
}

#[test]
fn configmap_keys_are_checked_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configmap = dir.path().join("configmap.yaml");
    std::fs::write(
        &configmap,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ingress-nginx-controller, namespace: ingress-nginx}\ndata:\n  proxy-body-size: 8m\n  use-forwarded-headers: \"true\"\n",
    )
    .expect("write");
    let path = configmap.to_str().expect("utf-8");
    let (code, report) = check(CLASS, &["--configmap", path]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("honoured     proxy-body-size: \"8m\" (use --default-body-size)"),
        "{report}"
    );
    assert!(
        report.contains("unsupported  use-forwarded-headers"),
        "{report}"
    );
}
