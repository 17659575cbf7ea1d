//! The incremental translator must always agree with a fresh translation of the same snapshot.
//! Random changes over a small universe of objects (so they collide: shared hosts, moved
//! EndpointSlice labels, Secrets coming and going, class flips) check that it does.

use super::*;
use crate::translate::{ClassIdentity, NamespacedName, TlsConfig, translate};
use portcullis_kube::manifests::parse_manifest;
use portcullis_kube::objects::Object;

const NAMESPACES: [&str; 2] = ["a", "b"];

fn config(tls: bool) -> TranslateConfig {
    TranslateConfig {
        class: ClassIdentity {
            ingress_class: "portcullis".into(),
            controller_name: "portcullis.dev/ingress-controller".into(),
        },
        default_backend_service: Some("a/s0".parse().unwrap()),
        default_body_size: None,
        tls: tls.then(|| TlsConfig {
            default_certificate: Some(NamespacedName {
                namespace: "a".into(),
                name: "sec0".into(),
            }),
        }),
    }
}

fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

fn random_ingress(rng: &mut fastrand::Rng, namespace: &str, name: &str) -> String {
    let class = match rng.u8(..6) {
        0 => "  ingressClassName: other\n".to_string(),
        1 => String::new(),
        2 => "  ingressClassName: missing\n".to_string(),
        _ => "  ingressClassName: portcullis\n".to_string(),
    };
    let created = match rng.u8(..4) {
        0 => String::new(),
        n => format!("  creationTimestamp: \"2026-01-0{n}T00:00:00Z\"\n"),
    };
    let annotations = match rng.u8(..5) {
        0 => "  annotations: {kubernetes.io/ingress.class: portcullis}\n",
        1 => "  annotations: {portcullis.dev/ssl-redirect: \"false\"}\n",
        2 => "  annotations: {portcullis.dev/ssl-redirect: \"maybe\"}\n",
        _ => "",
    };
    let backend = |rng: &mut fastrand::Rng| {
        let service = pick(rng, &["s0", "s1", "s2", "s3", "gone"]);
        let port = match rng.u8(..4) {
            0 => "{name: http}".to_string(),
            1 => "{number: 9999}".to_string(),
            _ => "{number: 80}".to_string(),
        };
        format!("{{service: {{name: {service}, port: {port}}}}}")
    };
    let mut spec = class;
    if rng.u8(..3) == 0 {
        spec.push_str(&format!("  defaultBackend: {}\n", backend(rng)));
    }
    let rules = rng.usize(..3);
    if rules > 0 {
        spec.push_str("  rules:\n");
    }
    for _ in 0..rules {
        let host = pick(
            rng,
            &["h0.test", "h1.test", "h2.test", "*.w.test", "x.w.test", ""],
        );
        if host.is_empty() {
            spec.push_str("  - http:\n      paths:\n");
        } else {
            spec.push_str(&format!("  - host: \"{host}\"\n    http:\n      paths:\n"));
        }
        for _ in 0..rng.usize(..3) {
            let path = pick(rng, &["/", "/a", "/a/", "/b", "bad"]);
            let kind = pick(rng, &["Prefix", "Exact", "ImplementationSpecific"]);
            spec.push_str(&format!(
                "      - {{path: \"{path}\", pathType: {kind}, backend: {}}}\n",
                backend(rng)
            ));
        }
    }
    if rng.u8(..3) == 0 {
        let secret = pick(rng, &["sec0", "sec1", "sec2"]);
        let hosts = match rng.u8(..3) {
            0 => String::new(),
            1 => ", hosts: [\"h0.test\"]".to_string(),
            _ => ", hosts: [\"*.w.test\", \"h1.test\"]".to_string(),
        };
        spec.push_str(&format!("  tls:\n  - {{secretName: {secret}{hosts}}}\n"));
    }
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: {namespace}\n{created}{annotations}spec:\n{spec}"
    )
}

fn random_service(rng: &mut fastrand::Rng, namespace: &str, name: &str) -> String {
    let spec = match rng.u8(..5) {
        0 => "{type: ExternalName, externalName: example.com}".to_string(),
        1 => "{ports: [{port: 8080}]}".to_string(),
        _ => "{ports: [{port: 80, name: http}, {port: 81, name: other}]}".to_string(),
    };
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec: {spec}\n"
    )
}

fn random_slice(rng: &mut fastrand::Rng, namespace: &str, name: &str) -> String {
    let service = pick(rng, &["s0", "s1", "s2", "s3"]);
    let port = pick(rng, &["http", "other", ""]);
    let ip = rng.u8(1..4);
    let ready = pick(rng, &["true", "false"]);
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: {name}, namespace: {namespace}, labels: {{kubernetes.io/service-name: {service}}}}}\n\
         addressType: IPv4\nports: [{{name: \"{port}\", port: 90{ip}}}]\nendpoints: [{{addresses: [\"10.0.0.{ip}\"], conditions: {{ready: {ready}}}}}]\n"
    )
}

fn random_endpoints(rng: &mut fastrand::Rng, namespace: &str, name: &str) -> String {
    let ip = rng.u8(1..9);
    format!(
        "apiVersion: v1\nkind: Endpoints\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
         subsets: [{{addresses: [{{ip: \"10.1.0.{ip}\"}}], ports: [{{name: http, port: 70}}]}}]\n"
    )
}

fn random_secret(rng: &mut fastrand::Rng, namespace: &str, name: &str) -> String {
    let data = match rng.u8(..3) {
        0 => "{tls.crt: Y2VydA==}",
        n => {
            if n == 1 {
                "{tls.crt: Y2VydA==, tls.key: a2V5}"
            } else {
                "{tls.crt: b3RoZXI=, tls.key: a2V5}"
            }
        }
    };
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}}}\ntype: kubernetes.io/tls\ndata: {data}\n"
    )
}

fn random_class(rng: &mut fastrand::Rng, name: &str) -> String {
    let controller = if name == "portcullis" || rng.u8(..4) == 0 {
        "portcullis.dev/ingress-controller"
    } else {
        "example.com/other"
    };
    let default = if rng.bool() {
        "\n  annotations: {ingressclass.kubernetes.io/is-default-class: \"true\"}"
    } else {
        ""
    };
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: {name}{default}\nspec: {{controller: {controller}}}\n"
    )
}

/// One random object of the universe, or the key of one to delete.
fn random_change(rng: &mut fastrand::Rng) -> Result<Object, ObjectKey> {
    let namespace = pick(rng, &NAMESPACES);
    let (kind, yaml) = match rng.u8(..20) {
        0..=7 => {
            let name = pick(rng, &["i0", "i1", "i2", "i3", "i4", "i5"]);
            (Kind::Ingress, (name, random_ingress(rng, namespace, name)))
        }
        8..=10 => {
            let name = pick(rng, &["s0", "s1", "s2", "s3"]);
            (Kind::Service, (name, random_service(rng, namespace, name)))
        }
        11..=14 => {
            let name = pick(rng, &["e0", "e1", "e2", "e3", "e4"]);
            (
                Kind::EndpointSlice,
                (name, random_slice(rng, namespace, name)),
            )
        }
        15 => (
            Kind::Endpoints,
            ("s3", random_endpoints(rng, namespace, "s3")),
        ),
        16..=18 => {
            let name = pick(rng, &["sec0", "sec1", "sec2"]);
            (Kind::Secret, (name, random_secret(rng, namespace, name)))
        }
        _ => {
            let name = pick(rng, &["portcullis", "other"]);
            (Kind::IngressClass, (name, random_class(rng, name)))
        }
    };
    let (name, yaml) = yaml;
    if rng.u8(..5) == 0 {
        return Err(ObjectKey {
            kind,
            namespace: if kind.is_namespaced() {
                namespace.to_string()
            } else {
                String::new()
            },
            name: name.to_string(),
        });
    }
    let mut parsed = parse_manifest("random.yaml", &yaml)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
        .objects;
    Ok(parsed.remove(0))
}

fn render(translation: &Translation) -> String {
    format!(
        "{}\n{:?}\n{:?}\n{:?}",
        translation.spec, translation.tls, translation.diagnostics, translation.ingresses
    )
}

fn check_agreement(seed: u64, tls: bool) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let config = config(tls);
    let mut translator = Translator::new(config.clone());
    let mut snapshot = Snapshot::default();
    let mut changed = Vec::new();
    for step in 0..1500 {
        match random_change(&mut rng) {
            Ok(object) => {
                changed.push(object.key());
                snapshot.insert(object);
            }
            Err(key) => {
                snapshot.remove(&key);
                changed.push(key);
            }
        }
        // Batches of one to three changes, as the reconciler sees them.
        if rng.u8(..3) != 0 {
            let incremental = translator.update(&snapshot, &changed);
            changed.clear();
            let fresh = translate(&snapshot, &config);
            assert_eq!(
                render(&incremental),
                render(&fresh),
                "seed {seed}, tls {tls}, step {step}"
            );
            assert_eq!(incremental, fresh);
        }
    }
}

#[test]
fn incremental_updates_agree_with_a_fresh_translation() {
    for seed in 0..12 {
        check_agreement(seed, seed % 2 == 0);
    }
}

#[test]
fn an_unchanged_host_keeps_its_virtual_host_across_updates() {
    let mut snapshot = Snapshot::default();
    let mut rng = fastrand::Rng::with_seed(7);
    let objects = [
        random_ingress(&mut rng, "a", "i0"),
        random_ingress(&mut rng, "a", "i1"),
    ];
    let one = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: one, namespace: a}\nspec:\n  ingressClassName: portcullis\n  rules:\n  - host: one.test\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: s0, port: {number: 80}}}}\n";
    let two = one.replace("one", "two");
    for yaml in objects
        .iter()
        .map(String::as_str)
        .chain([one, two.as_str()])
    {
        for object in parse_manifest("x.yaml", yaml).unwrap().objects {
            snapshot.insert(object);
        }
    }
    let class = parse_manifest("c.yaml", &random_class(&mut rng, "portcullis")).unwrap();
    snapshot.insert(class.objects[0].clone());
    let mut translator = Translator::new(config(false));
    let first = translator.update(&snapshot, &[]);
    let changed = two.replace("path: /,", "path: /new,");
    let object = parse_manifest("x.yaml", &changed)
        .unwrap()
        .objects
        .remove(0);
    let key = object.key();
    snapshot.insert(object);
    let second = translator.update(&snapshot, &[key]);
    let host = |t: &Translation, name: &str| {
        t.spec
            .hosts
            .iter()
            .find(|h| h.host == HostMatch::Exact(name.into()))
            .cloned()
            .unwrap()
    };
    assert!(Arc::ptr_eq(
        &host(&first, "one.test"),
        &host(&second, "one.test")
    ));
    assert!(!Arc::ptr_eq(
        &host(&first, "two.test"),
        &host(&second, "two.test")
    ));
    assert_eq!(host(&second, "two.test").paths[0].path, "/new");
}
