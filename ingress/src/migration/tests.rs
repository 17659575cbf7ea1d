use std::collections::BTreeMap;

use portcullis_kube::manifests::parse_manifest;

use super::*;
use crate::translate::ClassIdentity;

const OBJECTS: &str = r#"
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: web
  annotations:
    nginx.ingress.kubernetes.io/rewrite-target: /$2
    nginx.ingress.kubernetes.io/proxy-body-size: 8m
    nginx.ingress.kubernetes.io/app-root: /app1
    nginx.ingress.kubernetes.io/limit-rps: "10"
    nginx.ingress.kubernetes.io/proxy-read-timeout: 60s
    cert-manager.io/cluster-issuer: letsencrypt
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example
    http:
      paths:
      - {path: /shop(/|$)(.*), pathType: ImplementationSpecific, backend: {service: {name: shop, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: admin
  namespace: web
  annotations:
    nginx.ingress.kubernetes.io/auth-url: https://auth.example/check
spec:
  ingressClassName: nginx
  rules:
  - host: admin.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: admin, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: other
  namespace: web
  annotations:
    nginx.ingress.kubernetes.io/limit-rps: "10"
spec:
  ingressClassName: traefik
  rules:
  - host: other.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: other, port: {number: 80}}}}
"#;

fn config() -> TranslateConfig {
    TranslateConfig {
        class: ClassIdentity {
            ingress_class: "nginx".into(),
            controller_name: "k8s.io/ingress-nginx".into(),
        },
        default_backend_service: None,
        default_body_size: Some(1 << 20),
        tls: None,
    }
}

fn report(configmap: Option<&BTreeMap<String, String>>) -> MigrationReport {
    let parsed = parse_manifest("objects.yaml", OBJECTS).expect("valid");
    migration_report(
        &Snapshot::from_objects(parsed.objects),
        &config(),
        configmap,
    )
}

fn verdicts(report: &MigrationReport, ingress: &str) -> Vec<(String, Verdict)> {
    report
        .ingresses
        .iter()
        .find(|i| i.ingress.name == ingress)
        .expect("listed")
        .annotations
        .iter()
        .map(|f| {
            (
                f.name
                    .trim_start_matches("nginx.ingress.kubernetes.io/")
                    .to_owned(),
                f.verdict,
            )
        })
        .collect()
}

#[test]
fn each_annotation_gets_what_the_translation_does_with_it() {
    let report = report(None);
    assert_eq!(
        verdicts(&report, "shop"),
        [
            ("app-root".to_owned(), Verdict::Honoured),
            ("limit-rps".to_owned(), Verdict::Unsupported),
            ("proxy-body-size".to_owned(), Verdict::Different),
            ("proxy-read-timeout".to_owned(), Verdict::Invalid),
            ("rewrite-target".to_owned(), Verdict::Honoured),
        ]
    );
    assert_eq!(
        verdicts(&report, "admin"),
        [("auth-url".to_owned(), Verdict::FailsClosed)]
    );
    let other = report.ingresses.iter().find(|i| i.ingress.name == "other");
    assert!(!other.expect("listed").served);
    assert!(!report.passes());
    let text = report.to_string();
    assert!(
        text.contains("Ingress web/other: not of the class"),
        "{text}"
    );
    assert!(
        text.contains("  invalid      nginx.ingress.kubernetes.io/proxy-read-timeout: \"60s\""),
        "{text}"
    );
    assert!(
        text.ends_with(
            "result: 3 annotation(s) or setting(s) unsupported, invalid or failing closed\n"
        ),
        "{text}"
    );
    let json = report.to_json();
    assert_eq!(json["passes"], false);
    assert_eq!(
        json["ingresses"][2]["annotations"][0]["verdict"],
        "honoured"
    );
}

#[test]
fn configmap_keys_map_to_flags() {
    let configmap: BTreeMap<String, String> = [
        ("proxy-body-size", "8m"),
        ("worker-processes", "4"),
        ("use-forwarded-headers", "true"),
        ("large-client-header-buffers", "4 16k"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let report = report(Some(&configmap));
    let settings: Vec<(&str, Verdict)> = report
        .settings
        .iter()
        .map(|f| (f.name.as_str(), f.verdict))
        .collect();
    assert_eq!(
        settings,
        [
            ("large-client-header-buffers", Verdict::Different),
            ("proxy-body-size", Verdict::Honoured),
            ("use-forwarded-headers", Verdict::Unsupported),
            ("worker-processes", Verdict::Honoured),
        ]
    );
    assert!(report.to_string().contains("use --default-body-size"));
}
