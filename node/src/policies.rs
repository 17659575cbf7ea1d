//! NetworkPolicies from the store → the parsed set the compiler reads, remembering each
//! policy's last good version: a policy edited into something malformed keeps its previous
//! rules in force (and is reported), instead of opening or closing its pods.

use std::collections::BTreeMap;
use std::sync::Arc;

use portcullis_policy::parse::parse_policy;
use portcullis_policy::policy::Policy;

use portcullis_kube::objects::RawPolicy;

/// Each policy's last version that parsed.
#[derive(Debug, Default)]
pub struct PolicyBook {
    last_good: BTreeMap<(String, String), Policy>,
    /// The last object seen of each policy and what parsing it gave: an unchanged object is
    /// not parsed again.
    parsed: BTreeMap<(String, String), Parsed>,
}

/// An object as last seen, and what parsing it gave (the error as its message).
type Parsed = (Arc<RawPolicy>, Result<Policy, String>);

impl PolicyBook {
    /// The policies to compile now, and one line per problem (naming the policy and field).
    pub fn update(
        &mut self,
        raw: &BTreeMap<(String, String), Arc<RawPolicy>>,
    ) -> (Vec<Policy>, Vec<String>) {
        self.last_good.retain(|key, _| raw.contains_key(key));
        self.parsed.retain(|key, _| raw.contains_key(key));
        let mut problems = Vec::new();
        let mut policies = Vec::new();
        for (key, object) in raw {
            let parsed = match self.parsed.get(key) {
                Some((seen, parsed)) if Arc::ptr_eq(seen, object) || seen == object => {
                    parsed.clone()
                }
                _ => {
                    let parsed = parse_policy(&object.json).map_err(|e| e.to_string());
                    self.parsed
                        .insert(key.clone(), (Arc::clone(object), parsed.clone()));
                    parsed
                }
            };
            match parsed {
                Ok(policy) => {
                    if !policy.not_understood.is_empty() {
                        problems.push(format!(
                            "NetworkPolicy {}: {} not understood; the pods it selects are \
                             isolated without its allow rules (fail closed)",
                            policy.key(),
                            policy.not_understood.join(", ")
                        ));
                    }
                    self.last_good.insert(key.clone(), policy.clone());
                    policies.push(policy);
                }
                Err(error) => match self.last_good.get(key) {
                    Some(previous) => {
                        problems.push(format!("{error}; its last good version stays in force"));
                        policies.push(previous.clone());
                    }
                    None => problems.push(format!("{error}; ignored until it is fixed")),
                },
            }
        }
        (policies, problems)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn raw(spec: serde_json::Value) -> BTreeMap<(String, String), Arc<RawPolicy>> {
        let policy = RawPolicy::new(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "shop"}, "spec": spec
        }));
        BTreeMap::from([(("shop".into(), "p".into()), Arc::new(policy))])
    }

    #[test]
    fn a_malformed_edit_keeps_the_last_good_version() {
        let mut book = PolicyBook::default();
        let good = json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{}]});
        let (policies, problems) = book.update(&raw(good));
        assert_eq!(policies.len(), 1);
        assert!(problems.is_empty());
        let bad = json!({"podSelector": {}, "ingress": [{"ports": [{"port": 9, "endPort": 1}]}]});
        let (kept, problems) = book.update(&raw(bad.clone()));
        assert_eq!(kept, policies, "the previous version");
        assert_eq!(
            problems,
            [
                "NetworkPolicy shop/p: spec.ingress[0].ports[0].endPort: 1 is below port 9; \
                 its last good version stays in force"
            ]
        );
        // Deleted, then created malformed: nothing to fall back on.
        book.update(&BTreeMap::new());
        let (none, problems) = book.update(&raw(bad));
        assert!(none.is_empty());
        assert!(
            problems[0].ends_with("ignored until it is fixed"),
            "{problems:?}"
        );
    }

    #[test]
    fn fields_not_understood_are_reported_and_the_policy_kept() {
        let mut book = PolicyBook::default();
        let (policies, problems) = book.update(&raw(json!({"podSelector": {}, "newThing": {}})));
        assert_eq!(policies.len(), 1);
        assert!(
            problems[0].contains("spec.newThing not understood"),
            "{problems:?}"
        );
    }
}
