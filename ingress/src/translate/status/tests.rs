use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, Service, ServiceStatus};
use k8s_openapi::api::networking::v1::{IngressLoadBalancerStatus, IngressStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

fn ingress(name: &str, shown: &[&str]) -> ((String, String), Arc<Ingress>) {
    let status = (!shown.is_empty()).then(|| IngressStatus {
        load_balancer: Some(IngressLoadBalancerStatus {
            ingress: Some(
                shown
                    .iter()
                    .map(|ip| IngressLoadBalancerIngress {
                        ip: Some(ip.to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
        }),
    });
    let object = Ingress {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            ..Default::default()
        },
        status,
        ..Default::default()
    };
    (("ns".into(), name.into()), Arc::new(object))
}

fn key(name: &str) -> ObjectKey {
    ObjectKey {
        kind: Kind::Ingress,
        namespace: "ns".into(),
        name: name.into(),
    }
}

fn ip(address: &str) -> IngressLoadBalancerIngress {
    IngressLoadBalancerIngress {
        ip: Some(address.into()),
        ..Default::default()
    }
}

#[test]
fn fixed_addresses_are_ips_or_hostnames_sorted() {
    let source = StatusSource::Addresses(vec![
        "lb.example.com".into(),
        "10.0.0.2".into(),
        "10.0.0.1".into(),
        "10.0.0.1".into(),
    ]);
    let addresses = published_addresses(&Snapshot::default(), &source);
    assert_eq!(
        addresses,
        [
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            IngressLoadBalancerIngress {
                hostname: Some("lb.example.com".into()),
                ..Default::default()
            }
        ]
    );
}

#[test]
fn publish_service_copies_its_load_balancer_status() {
    let mut snapshot = Snapshot::default();
    let service = Service {
        metadata: ObjectMeta {
            name: Some("edge".into()),
            namespace: Some("ingress".into()),
            ..Default::default()
        },
        status: Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus {
                ingress: Some(vec![LoadBalancerIngress {
                    hostname: Some("abc.elb.example".into()),
                    ..Default::default()
                }]),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    snapshot.services.insert(
        ("ingress".into(), "edge".into()),
        Arc::new((&service).into()),
    );
    let source = StatusSource::Service {
        namespace: "ingress".into(),
        name: "edge".into(),
    };
    let addresses = published_addresses(&snapshot, &source);
    assert_eq!(addresses[0].hostname.as_deref(), Some("abc.elb.example"));
    let missing = StatusSource::Service {
        namespace: "ingress".into(),
        name: "nope".into(),
    };
    assert!(
        published_addresses(&snapshot, &missing).is_empty(),
        "no Service: nothing to publish yet"
    );
}

#[test]
fn updates_only_what_differs_and_clears_former_ingresses_showing_our_addresses() {
    let ours_addresses = [ip("10.0.0.1")];
    let ingresses: BTreeMap<_, _> = [
        ingress("new", &[]),                  // ours, no status yet → set
        ingress("right", &["10.0.0.1"]),      // ours, already right → nothing
        ingress("stale", &["10.9.9.9"]),      // ours, wrong → set
        ingress("former", &["10.0.0.1"]),     // left our class, shows ours → clear
        ingress("other-ctrl", &["10.5.5.5"]), // another controller's → untouched
        ingress("untouched", &[]),            // not ours, empty → nothing
    ]
    .into_iter()
    .collect();
    let ours = [key("new"), key("right"), key("stale")];
    let updates = status_updates(&ingresses, &ours, &ours_addresses);
    let summary: Vec<(String, usize)> = updates
        .iter()
        .map(|u| (u.ingress.name.clone(), u.addresses.len()))
        .collect();
    assert_eq!(
        summary,
        [
            ("former".to_string(), 0),
            ("new".to_string(), 1),
            ("stale".to_string(), 1)
        ]
    );
}
