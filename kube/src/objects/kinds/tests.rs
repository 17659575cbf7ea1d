use super::*;
use crate::manifests::parse_manifest;

/// One minimal manifest per kind in the table, with a namespace where the kind has one.
fn manifest(kind: Kind) -> String {
    let api_version = match kind {
        Kind::IngressClass | Kind::Ingress | Kind::NetworkPolicy => "networking.k8s.io/v1",
        Kind::EndpointSlice => "discovery.k8s.io/v1",
        Kind::GatewayClass
        | Kind::Gateway
        | Kind::HTTPRoute
        | Kind::GRPCRoute
        | Kind::TLSRoute
        | Kind::BackendTLSPolicy => "gateway.networking.k8s.io/v1",
        Kind::ReferenceGrant => "gateway.networking.k8s.io/v1beta1",
        _ => "v1",
    };
    let extra = match kind {
        Kind::EndpointSlice => "addressType: IPv4\nendpoints: []\n",
        _ => "",
    };
    format!(
        "apiVersion: {api_version}\nkind: {}\nmetadata: {{name: x, namespace: ns}}\n{extra}",
        kind.as_str()
    )
}

#[test]
fn every_kind_round_trips_through_its_name_a_manifest_and_the_snapshot() {
    for &kind in Kind::ALL {
        assert_eq!(Kind::from_name(kind.as_str()), Some(kind));
        let parsed = parse_manifest("t.yaml", &manifest(kind)).expect("parses");
        assert_eq!(parsed.objects.len(), 1, "{kind}");
        let object = parsed.objects.into_iter().next().expect("one");
        assert_eq!(object.kind(), kind);
        let key = object.key();
        let expected_namespace = if kind.is_namespaced() { "ns" } else { "" };
        assert_eq!(
            (key.namespace.as_str(), key.name.as_str()),
            (expected_namespace, "x"),
            "{kind}"
        );

        let mut snapshot = Snapshot::default();
        snapshot.insert(object.clone().slimmed());
        let mut other = Snapshot::default();
        other.insert(object);
        snapshot.remove(&key);
        assert_eq!(
            format!("{snapshot:?}"),
            format!("{:?}", Snapshot::default())
        );
        assert_ne!(
            format!("{other:?}"),
            format!("{:?}", Snapshot::default()),
            "{kind}"
        );
    }
}

#[test]
fn kind_names_are_unique_and_unknown_names_are_none() {
    let mut names: Vec<&str> = Kind::ALL.iter().map(|kind| kind.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Kind::ALL.len());
    assert_eq!(Kind::from_name("Deployment"), None);
    assert_eq!(
        Kind::from_name("ingress"),
        None,
        "kind names are case-sensitive"
    );
}
