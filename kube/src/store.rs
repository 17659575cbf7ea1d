//! The typed store every source feeds, and the snapshot the translation reads.
//!
//! A source is anything with a [`SourceId`]: one manifest file, or one API watch. Each source
//! owns the objects it delivered; replacing a source's objects never touches another's. When
//! two sources hold the same object, the one with the smaller [`SourceId`] wins, so the
//! outcome does not depend on event order. The merged [`Snapshot`] is kept current as events
//! arrive, so a change costs a few map operations, not a copy of everything.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use crate::objects::Snapshot;
use crate::objects::{Object, ObjectKey};
use crate::slim::slim;

/// Names one source of objects: a manifest file path, or `api/<kind>` for a watch. Shared,
/// not copied: every object the source holds carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub Arc<str>);

/// A change a source reports to the store.
#[derive(Debug, Clone)]
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

/// Objects by source, the merged view kept current as events arrive, and whether the initial
/// state is complete. Each event costs O(log n) per object it touches, not a rebuild of the view.
#[derive(Debug, Default)]
pub struct Store {
    /// Every copy of every object, sorted by the source holding it; the smallest source wins.
    /// A list, not a map: almost every object has one holder, and a map's smallest node
    /// costs hundreds of bytes per object.
    holders: BTreeMap<ObjectKey, Vec<(SourceId, Object)>>,
    /// The keys each source holds, for `Replace`.
    by_source: BTreeMap<SourceId, BTreeSet<ObjectKey>>,
    /// The merged view: each key's winning copy.
    snapshot: Snapshot,
    /// Keys whose winning copy may have changed since [`Store::take_changes`].
    changed: Vec<ObjectKey>,
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

impl Store {
    /// Applies one event.
    pub fn apply(&mut self, event: StoreEvent) {
        match event {
            StoreEvent::Replace { source, objects } => {
                let previous = self.by_source.remove(&source).unwrap_or_default();
                let mut now = BTreeSet::new();
                for object in objects {
                    let key = object.key();
                    now.insert(key.clone());
                    self.hold(&source, key, object);
                }
                for gone in previous.difference(&now) {
                    self.release(&source, gone);
                }
                if !now.is_empty() {
                    self.by_source.insert(source, now);
                }
            }
            StoreEvent::Apply { source, object } => {
                let key = object.key();
                self.by_source
                    .entry(source.clone())
                    .or_default()
                    .insert(key.clone());
                self.hold(&source, key, object);
            }
            StoreEvent::Delete { source, key } => {
                if let Some(held) = self.by_source.get_mut(&source) {
                    held.remove(&key);
                    if held.is_empty() {
                        self.by_source.remove(&source);
                    }
                }
                self.release(&source, &key);
            }
            StoreEvent::Synced => self.synced = true,
        }
    }

    /// True once a [`StoreEvent::Synced`] arrived.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// The keys whose merged copy may have changed (added, replaced or removed) since the
    /// last call, for an incremental translation. A key may appear more than once.
    pub fn take_changes(&mut self) -> Vec<ObjectKey> {
        std::mem::take(&mut self.changed)
    }

    /// The merged view, plus the duplicates that merging set aside.
    pub fn snapshot(&self) -> (&Snapshot, Vec<DuplicateObject>) {
        let duplicates = self
            .holders
            .iter()
            .filter(|(_, copies)| copies.len() > 1)
            .flat_map(|(key, copies)| {
                let mut sources = copies.iter().map(|(source, _)| source);
                let kept = sources
                    .next()
                    .cloned()
                    .unwrap_or_else(|| SourceId(Arc::from("")));
                sources.map(move |ignored| DuplicateObject {
                    key: key.clone(),
                    kept: kept.clone(),
                    ignored: ignored.clone(),
                })
            })
            .collect();
        (&self.snapshot, duplicates)
    }

    fn hold(&mut self, source: &SourceId, key: ObjectKey, object: Object) {
        let object = slim(object);
        let copies = self.holders.entry(key.clone()).or_default();
        match copies.binary_search_by(|(held, _)| held.cmp(source)) {
            Ok(at) => copies[at].1 = object,
            Err(at) => {
                // Almost every object has one holder: no room for three more.
                copies.reserve_exact(1);
                copies.insert(at, (source.clone(), object));
            }
        }
        self.refresh(&key);
    }

    fn release(&mut self, source: &SourceId, key: &ObjectKey) {
        if let Some(copies) = self.holders.get_mut(key) {
            copies.retain(|(held, _)| held != source);
            if copies.is_empty() {
                self.holders.remove(key);
            }
        }
        self.refresh(key);
    }

    /// Puts the key's winning copy (smallest source) into the view, or removes the key.
    fn refresh(&mut self, key: &ObjectKey) {
        self.changed.push(key.clone());
        match self
            .holders
            .get(key)
            .and_then(|copies| copies.first().map(|(_, object)| object))
        {
            Some(winner) => self.snapshot.insert(winner.clone()),
            None => self.snapshot.remove(key),
        }
    }
}

impl Snapshot {
    /// Files objects by kind; a later object with the same key replaces an earlier one.
    pub fn from_objects(objects: impl IntoIterator<Item = Object>) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for object in objects {
            snapshot.insert(object);
        }
        snapshot
    }
}

#[cfg(test)]
mod tests;
