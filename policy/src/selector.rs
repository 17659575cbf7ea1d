//! Kubernetes label selectors: `matchLabels` and `matchExpressions`, all ANDed.

use crate::model::Labels;

/// A parsed label selector. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Selector {
    /// `matchLabels`: each key must have exactly this value.
    pub match_labels: Vec<(String, String)>,
    /// `matchExpressions`.
    pub expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// `key`.
    pub key: String,
    /// `operator` with its `values`.
    pub operator: Operator,
}

/// A requirement's operator and values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operator {
    /// The label is set to one of these values.
    In(Vec<String>),
    /// The label is unset, or set to none of these values.
    NotIn(Vec<String>),
    /// The label is set.
    Exists,
    /// The label is not set.
    DoesNotExist,
}

impl Selector {
    /// True when `labels` satisfy every part of the selector.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
            && self.expressions.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match &self.operator {
            Operator::In(values) => value.is_some_and(|v| values.contains(v)),
            Operator::NotIn(values) => value.is_none_or(|v| !values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn requirement(key: &str, operator: Operator) -> Selector {
        Selector {
            match_labels: Vec::new(),
            expressions: vec![Requirement {
                key: key.into(),
                operator,
            }],
        }
    }

    #[test]
    fn each_operator_against_set_and_unset_labels() {
        let web = labels(&[("app", "web"), ("tier", "front")]);
        let bare = labels(&[]);
        let values = || vec!["web".to_string(), "api".to_string()];
        let cases = [
            (requirement("app", Operator::In(values())), true, false),
            (requirement("app", Operator::NotIn(values())), false, true),
            (requirement("app", Operator::Exists), true, false),
            (requirement("app", Operator::DoesNotExist), false, true),
            (Selector::default(), true, true),
        ];
        for (selector, on_web, on_bare) in cases {
            assert_eq!(selector.matches(&web), on_web, "{selector:?} on web");
            assert_eq!(selector.matches(&bare), on_bare, "{selector:?} on bare");
        }
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let selector = Selector {
            match_labels: vec![("app".into(), "web".into())],
            expressions: vec![Requirement {
                key: "tier".into(),
                operator: Operator::In(vec!["front".into()]),
            }],
        };
        assert!(selector.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "back")])));
        assert!(!selector.matches(&labels(&[("app", "api"), ("tier", "front")])));
    }
}
