//! The typed store every source feeds, and the snapshot the translation reads.
//!
//! A source is anything with a [`SourceId`]: one manifest file, or one API watch. Each source
//! owns the objects it delivered; replacing a source's objects never touches another's. When
//! two sources hold the same object, the one with the smaller [`SourceId`] wins, so the
//! outcome does not depend on event order.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use crate::objects::{Object, ObjectKey};

/// Names one source of objects: a manifest file path, or `api/<kind>` for a watch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub String);

/// A change a source reports to the store.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreEvent {
    /// Everything the source holds now, replacing what it held before (empty: it is gone).
    Replace {
        /// Who is replacing its objects.
        source: SourceId,
        /// The source's complete set of objects.
        objects: Vec<Object>,
    },
    /// The source added or changed one object.
    Apply {
        /// Who holds the object.
        source: SourceId,
        /// The object as it is now.
        object: Object,
    },
    /// The source no longer holds one object.
    Delete {
        /// Who held the object.
        source: SourceId,
        /// Which object.
        key: ObjectKey,
    },
    /// Every source has delivered its initial state: the first table may be published.
    Synced,
}

/// Objects by source, plus whether the initial state is complete.
#[derive(Debug, Default)]
pub struct Store {
    by_source: BTreeMap<SourceId, BTreeMap<ObjectKey, Object>>,
    synced: bool,
}

/// The same object delivered by two sources; the first source's copy is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateObject {
    /// The object.
    pub key: ObjectKey,
    /// The source whose copy is used.
    pub kept: SourceId,
    /// The source whose copy is ignored.
    pub ignored: SourceId,
}

/// All objects at one moment, by kind, keyed by `(namespace, name)` (IngressClass: name only).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// IngressClasses by name.
    pub ingress_classes: BTreeMap<String, Arc<IngressClass>>,
    /// Ingresses by (namespace, name).
    pub ingresses: BTreeMap<(String, String), Arc<Ingress>>,
    /// Services by (namespace, name).
    pub services: BTreeMap<(String, String), Arc<Service>>,
    /// EndpointSlices by (namespace, name).
    pub endpoint_slices: BTreeMap<(String, String), Arc<EndpointSlice>>,
    /// Endpoints by (namespace, name).
    pub endpoints: BTreeMap<(String, String), Arc<Endpoints>>,
    /// Secrets by (namespace, name).
    pub secrets: BTreeMap<(String, String), Arc<Secret>>,
}

impl Store {
    /// Applies one event.
    pub fn apply(&mut self, event: StoreEvent) {
        match event {
            StoreEvent::Replace { source, objects } => {
                if objects.is_empty() {
                    self.by_source.remove(&source);
                } else {
                    let held = objects.into_iter().map(|o| (o.key(), o)).collect();
                    self.by_source.insert(source, held);
                }
            }
            StoreEvent::Apply { source, object } => {
                self.by_source
                    .entry(source)
                    .or_default()
                    .insert(object.key(), object);
            }
            StoreEvent::Delete { source, key } => {
                if let Some(held) = self.by_source.get_mut(&source) {
                    held.remove(&key);
                    if held.is_empty() {
                        self.by_source.remove(&source);
                    }
                }
            }
            StoreEvent::Synced => self.synced = true,
        }
    }

    /// True once a [`StoreEvent::Synced`] arrived.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Every object, merged across sources, plus the duplicates that merging dropped.
    pub fn snapshot(&self) -> (Snapshot, Vec<DuplicateObject>) {
        let mut winners: BTreeMap<&ObjectKey, (&SourceId, &Object)> = BTreeMap::new();
        let mut duplicates = Vec::new();
        for (source, held) in &self.by_source {
            for (key, object) in held {
                match winners.get(key) {
                    Some((kept, _)) => duplicates.push(DuplicateObject {
                        key: key.clone(),
                        kept: (*kept).clone(),
                        ignored: source.clone(),
                    }),
                    None => {
                        winners.insert(key, (source, object));
                    }
                }
            }
        }
        let snapshot = Snapshot::from_objects(winners.into_values().map(|(_, o)| o.clone()));
        (snapshot, duplicates)
    }
}

impl Snapshot {
    /// Files objects by kind; a later object with the same key replaces an earlier one.
    pub fn from_objects(objects: impl IntoIterator<Item = Object>) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for object in objects {
            let key = object.key();
            let namespaced = (key.namespace, key.name);
            match object {
                Object::IngressClass(o) => {
                    snapshot.ingress_classes.insert(namespaced.1, o);
                }
                Object::Ingress(o) => {
                    snapshot.ingresses.insert(namespaced, o);
                }
                Object::Service(o) => {
                    snapshot.services.insert(namespaced, o);
                }
                Object::EndpointSlice(o) => {
                    snapshot.endpoint_slices.insert(namespaced, o);
                }
                Object::Endpoints(o) => {
                    snapshot.endpoints.insert(namespaced, o);
                }
                Object::Secret(o) => {
                    snapshot.secrets.insert(namespaced, o);
                }
            }
        }
        snapshot
    }
}
