//! Ingresses (with their IngressClasses, Services, EndpointSlices, Endpoints and Secrets) from a
//! manifest file → `portcullis_ingress::translate::translate` (annotations included) →
//! `RoutingTable::compile` → `CertificateStore::compile`, as a rebuild does. Checks: no panic
//! (a broken object is a diagnostic); the translation is deterministic and the incremental
//! `Translator` agrees with a fresh one; the compiled table sends each rule's own paths to the
//! rule's backend, the way the Ingress spec matches paths.
#![no_main]

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{YAML_FILE, debug, parse_file, snapshot_of};
use portcullis_ingress::translate::{
    ClassIdentity, NamespacedName, ServiceRef, TlsConfig, TranslateConfig, Translation, Translator,
    translate,
};
use portcullis_kube::objects::{Object, ObjectKey};
use portcullis_kube::store::Snapshot;
use portcullis_proxy::certificates::{CertificateCache, CertificateStore, self_signed_default};
use portcullis_route::counters::Unshared;
use portcullis_route::path_patterns::canonical_prefix;
use portcullis_route::spec::{HostMatch, PathKind, RouteSpec, TableSpec, VirtualHost};
use portcullis_route::table::{Route, RoutingTable};
use rustls::sign::CertifiedKey;

/// Inside the validity of the seeds' certificates (2030-01-01).
const NOW: i64 = 1_893_456_000;

fuzz_target!(|data: &[u8]| {
    let parsed = match parse_file(YAML_FILE, data) {
        Ok(parsed) => parsed,
        Err(error) => return debug(|| error.to_string()),
    };
    let objects = parsed.objects.clone();
    let snapshot = snapshot_of(parsed);
    for config in configs() {
        let translation = translate(&snapshot, config);
        assert_eq!(
            translation,
            translate(&snapshot, config),
            "not deterministic"
        );
        check_incremental(&objects, config);
        debug(|| {
            format!(
                "{}{}{:#?}",
                translation.spec, translation.tls, translation.diagnostics
            )
        });
        for diagnostic in &translation.diagnostics {
            let _ = diagnostic.to_string();
        }
        check_table(&translation.spec);
        if config.tls.is_some() {
            let mut cache = CertificateCache::default();
            let (store, problems) =
                CertificateStore::compile(&translation.tls, fallback(), NOW, &mut cache);
            let _ = store.find(None);
            for (host, _) in &translation.tls.hosts {
                let _ = store.find(Some(&host.to_string()));
            }
            debug(|| format!("{problems:?}"));
            let again = CertificateStore::compile(&translation.tls, fallback(), NOW, &mut cache);
            assert_eq!(
                problems, again.1,
                "certificate problems differ with a warm cache"
            );
        }
    }
});

/// The configurations a controller runs with: plain HTTP with the defaults, and an HTTPS
/// listener with a default certificate and a default backend Service.
fn configs() -> &'static [TranslateConfig; 2] {
    static CONFIGS: OnceLock<[TranslateConfig; 2]> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let class = ClassIdentity {
            ingress_class: "portcullis".to_string(),
            controller_name: "portcullis.dev/ingress-controller".to_string(),
        };
        [
            TranslateConfig {
                class: class.clone(),
                default_backend_service: None,
                tls: None,
                default_body_size: None,
            },
            TranslateConfig {
                class,
                default_backend_service: Some(
                    "default/fallback:80"
                        .parse::<ServiceRef>()
                        .expect("a valid flag"),
                ),
                default_body_size: Some(1 << 20),
                tls: Some(TlsConfig {
                    default_certificate: Some(
                        "default/default-tls"
                            .parse::<NamespacedName>()
                            .expect("a valid flag"),
                    ),
                }),
            },
        ]
    })
}

fn fallback() -> &'static Arc<CertifiedKey> {
    static FALLBACK: OnceLock<Arc<CertifiedKey>> = OnceLock::new();
    FALLBACK.get_or_init(|| self_signed_default().expect("generates a certificate"))
}

/// A translator fed the objects in two steps (the first half, then everything) gives what a
/// fresh translation of each step gives; so does going back.
fn check_incremental(objects: &[Object], config: &TranslateConfig) {
    let split = objects.len() / 2;
    let first = snapshot_from(&objects[..split]);
    let all = snapshot_from(objects);
    let later: Vec<ObjectKey> = objects[split..].iter().map(Object::key).collect();
    let mut translator = Translator::new(config.clone());
    assert_eq!(
        translator.update(&first, &[]),
        fresh(&first, config),
        "first update"
    );
    assert_eq!(
        translator.update(&all, &later),
        fresh(&all, config),
        "adding objects"
    );
    assert_eq!(
        translator.update(&first, &later),
        fresh(&first, config),
        "removing objects"
    );
}

fn fresh(snapshot: &Snapshot, config: &TranslateConfig) -> Translation {
    translate(snapshot, config)
}

fn snapshot_from(objects: &[Object]) -> Snapshot {
    snapshot_of(portcullis_kube::manifests::ParsedFile {
        objects: objects.to_vec(),
        skipped: Vec::new(),
    })
}

/// Compiles the spec and checks that each exact host answers its rules' paths from their
/// backends: an Exact rule's own path, and a path one element below a Prefix rule (from the
/// longest Prefix rule covering it, unless an Exact rule names that very path).
fn check_table(spec: &TableSpec) {
    let (table, warnings) = RoutingTable::compile(spec, &Unshared);
    let warned: BTreeSet<&str> = warnings.iter().map(|w| w.host.as_str()).collect();
    for host in &spec.hosts {
        let name = match &host.host {
            HostMatch::Exact(name) => name.clone(),
            HostMatch::Wildcard(suffix) => format!("fuzz-probe.{suffix}"),
            // Ingresses make no Gateway API wildcards.
            HostMatch::Suffix(_) | HostMatch::Any => continue,
        };
        if warned.contains(host.host.to_string().as_str()) {
            continue;
        }
        if matches!(host.host, HostMatch::Wildcard(_))
            && spec
                .hosts
                .iter()
                .any(|h| h.host == HostMatch::Exact(name.clone()))
        {
            continue;
        }
        for rule in &host.paths {
            let probe = match rule.kind {
                PathKind::Exact => rule.path.clone(),
                PathKind::Prefix => match canonical_prefix(&rule.path) {
                    "/" => "/fuzz-probe".to_string(),
                    base => format!("{base}/fuzz-probe"),
                },
                // Ingress paths are Exact or Prefix until use-regex is translated.
                PathKind::Regex { .. } => continue,
            };
            let Some(want) = expected(host, &probe) else {
                continue;
            };
            let got = table.find(&name, &probe);
            assert!(
                same(got, want),
                "{name}{probe}: routed to {:?}, the rules say {want}",
                got.origin
            );
        }
    }
}

/// The backend the Ingress spec picks for `path` among one host's rules: an Exact rule equal
/// to it, else the Prefix rule with the longest element-wise prefix of it.
fn expected<'h>(host: &'h VirtualHost, path: &str) -> Option<&'h RouteSpec> {
    if let Some(exact) = host
        .paths
        .iter()
        .find(|r| r.kind == PathKind::Exact && r.path == path)
    {
        return Some(&exact.route);
    }
    host.paths
        .iter()
        .filter(|r| r.kind == PathKind::Prefix)
        .filter(|r| {
            let base = canonical_prefix(&r.path);
            base == "/" || path == base || path.starts_with(&format!("{base}/"))
        })
        .max_by_key(|r| canonical_prefix(&r.path).len())
        .map(|r| &*r.route)
}

fn same(route: &Route, spec: &RouteSpec) -> bool {
    route.origin == spec.origin && route.https_redirect.map(|s| s.as_u16()) == spec.https_redirect
}
