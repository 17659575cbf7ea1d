//! Shared fixtures for the Criterion benchmarks: large, realistic sets of objects and tables;
//! and [`harness`], what the benchmark binaries (`side-by-side`, `memory-ceilings`) share.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressClass, IngressClassSpec,
    IngressRule, IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use portcullis_ingress::translate::{ClassIdentity, TranslateConfig};
use portcullis_kube::objects::Object;
use portcullis_kube::store::Snapshot;

pub mod gateway_fixture;
pub mod harness;

/// Paths every generated host serves, as Prefix rules.
pub const PATHS: [&str; 10] = [
    "/", "/api", "/api/v1", "/api/v2", "/static", "/login", "/cart", "/search", "/wear", "/watch",
];

/// The translation config the fixtures are written for.
pub fn config() -> TranslateConfig {
    TranslateConfig {
        class: ClassIdentity {
            ingress_class: "portcullis".into(),
            controller_name: "portcullis.dev/ingress-controller".into(),
        },
        default_backend_service: None,
        default_body_size: None,
        tls: None,
    }
}

/// Host name of generated Ingress `i`.
pub fn host(i: usize) -> String {
    format!("app-{i}.bench.example.com")
}

/// `count` Ingresses (one host, the ten [`PATHS`] each), each with its Service and an
/// EndpointSlice of three ready endpoints, plus our IngressClass.
pub fn snapshot(count: usize) -> Snapshot {
    snapshot_with_paths(count, PATHS.len())
}

/// Like [`snapshot`], with the first `paths` of [`PATHS`] on every Ingress.
pub fn snapshot_with_paths(count: usize, paths: usize) -> Snapshot {
    let mut objects = vec![Object::IngressClass(Arc::new(IngressClass {
        metadata: meta("portcullis", None, None),
        spec: Some(IngressClassSpec {
            controller: Some("portcullis.dev/ingress-controller".into()),
            ..Default::default()
        }),
    }))];
    for i in 0..count {
        let namespace = format!("team-{}", i % 100);
        let name = format!("app-{i}");
        objects.push(Object::service(Arc::new(Service {
            metadata: meta(&name, Some(&namespace), None),
            spec: Some(ServiceSpec {
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })));
        let labels = BTreeMap::from([("kubernetes.io/service-name".to_string(), name.clone())]);
        objects.push(Object::endpoint_slice(Arc::new(EndpointSlice {
            metadata: meta(&format!("{name}-abcde"), Some(&namespace), Some(labels)),
            address_type: "IPv4".into(),
            ports: Some(vec![EndpointPort {
                name: Some("http".into()),
                port: Some(8080),
                ..Default::default()
            }]),
            endpoints: (0..3)
                .map(|e| Endpoint {
                    addresses: vec![format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, e + 1)],
                    conditions: Some(EndpointConditions {
                        ready: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
        })));
        let rules = PATHS
            .iter()
            .take(paths)
            .map(|path| HTTPIngressPath {
                path: Some((*path).into()),
                path_type: "Prefix".into(),
                backend: IngressBackend {
                    service: Some(IngressServiceBackend {
                        name: name.clone(),
                        port: Some(ServiceBackendPort {
                            name: Some("http".into()),
                            number: None,
                        }),
                    }),
                    resource: None,
                },
            })
            .collect();
        objects.push(Object::Ingress(Arc::new(Ingress {
            metadata: meta(&name, Some(&namespace), None),
            spec: Some(IngressSpec {
                ingress_class_name: Some("portcullis".into()),
                rules: Some(vec![IngressRule {
                    host: Some(host(i)),
                    http: Some(HTTPIngressRuleValue { paths: rules }),
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })));
    }
    Snapshot::from_objects(objects)
}

fn meta(
    name: &str,
    namespace: Option<&str>,
    labels: Option<BTreeMap<String, String>>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        labels,
        ..Default::default()
    }
}
