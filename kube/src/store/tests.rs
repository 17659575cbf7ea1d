use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

fn ingress(name: &str, marker: &str) -> Object {
    Object::Ingress(Arc::new(Ingress {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            labels: Some([("from".to_string(), marker.to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    }))
}

fn source(name: &str) -> SourceId {
    SourceId(name.into())
}

/// Ingress names in the view, each with the `from` label of the copy that won.
fn view(store: &Store) -> Vec<(String, String)> {
    store
        .snapshot()
        .0
        .ingresses
        .iter()
        .map(|((_, name), s)| {
            let from = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("from"))
                .cloned()
                .unwrap_or_default();
            (name.clone(), from)
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn replace_apply_and_delete_keep_the_view_current() {
    let mut store = Store::default();
    store.apply(StoreEvent::Replace {
        source: source("b.yaml"),
        objects: vec![ingress("web", "b"), ingress("db", "b")],
    });
    assert_eq!(view(&store), pairs(&[("db", "b"), ("web", "b")]));
    // Replacing a source drops what it no longer holds.
    store.apply(StoreEvent::Replace {
        source: source("b.yaml"),
        objects: vec![ingress("web", "b2")],
    });
    assert_eq!(view(&store), pairs(&[("web", "b2")]));
    store.apply(StoreEvent::Apply {
        source: source("api/Service"),
        object: ingress("api", "api"),
    });
    assert_eq!(view(&store), pairs(&[("api", "api"), ("web", "b2")]));
    let key = ingress("api", "").key();
    store.apply(StoreEvent::Delete {
        source: source("api/Service"),
        key,
    });
    assert_eq!(view(&store), pairs(&[("web", "b2")]));
    store.apply(StoreEvent::Replace {
        source: source("b.yaml"),
        objects: vec![],
    });
    assert!(view(&store).is_empty());
    assert!(!store.is_synced());
    store.apply(StoreEvent::Synced);
    assert!(store.is_synced());
}

#[test]
fn the_smaller_source_wins_whatever_the_order_and_the_other_copy_takes_over_when_it_goes() {
    for order in [["a.yaml", "b.yaml"], ["b.yaml", "a.yaml"]] {
        let mut store = Store::default();
        for name in order {
            let marker = &name[..1];
            store.apply(StoreEvent::Replace {
                source: source(name),
                objects: vec![ingress("web", marker)],
            });
        }
        assert_eq!(view(&store), pairs(&[("web", "a")]), "order {order:?}");
        let (_, duplicates) = store.snapshot();
        assert_eq!(duplicates.len(), 1);
        assert_eq!(
            (&*duplicates[0].kept.0, &*duplicates[0].ignored.0),
            ("a.yaml", "b.yaml")
        );
        // The winning file goes away: the other copy is served.
        store.apply(StoreEvent::Replace {
            source: source("a.yaml"),
            objects: vec![],
        });
        assert_eq!(view(&store), pairs(&[("web", "b")]), "order {order:?}");
        assert!(store.snapshot().1.is_empty());
    }
}

#[test]
fn changes_name_every_key_whose_view_moved_once_taken() {
    let mut store = Store::default();
    store.apply(StoreEvent::Apply {
        source: source("a"),
        object: ingress("one", "a"),
    });
    store.apply(StoreEvent::Replace {
        source: source("b"),
        objects: vec![ingress("two", "b")],
    });
    store.apply(StoreEvent::Delete {
        source: source("a"),
        key: ingress("one", "a").key(),
    });
    let names: Vec<String> = store.take_changes().into_iter().map(|k| k.name).collect();
    assert_eq!(names, ["one", "two", "one"]);
    assert!(store.take_changes().is_empty());
}
