//! The controller annotations an Ingress carries, reviewed before its rules are translated, so
//! none is silently ignored: honoured ones are read where they apply (`tls.rs` for
//! `ssl-redirect`), every other one is named in a warning, and an Ingress whose annotations ask
//! for access control we do not enforce yet is not served at all (its paths answer 503) rather
//! than served open.
//!
//! Annotations are read under `nginx.ingress.kubernetes.io/` (an ingress-nginx user's Ingresses
//! as they are) and, with the same meaning, under `portcullis.dev/`.

use std::collections::BTreeMap;

use portcullis_kube::objects::ObjectKey;

use portcullis_translation::{Diagnostic, Reason};

pub mod catalogue;
mod route_annotations;
mod snippet;
mod values;

use catalogue::{Support, support};

pub(super) use route_annotations::{BodySize, Canary, RouteAnnotations, parse};
pub(super) use values::size as parse_size;

/// The prefixes our annotations live under; the first wins when both are set.
pub const ANNOTATION_PREFIXES: [&str; 2] = ["portcullis.dev/", "nginx.ingress.kubernetes.io/"];

/// The controller annotations of one Ingress, looked up by name after the prefix.
#[derive(Debug, Clone, Copy)]
pub(super) struct Annotations<'a> {
    map: Option<&'a BTreeMap<String, String>>,
}

impl<'a> Annotations<'a> {
    pub(super) fn new(map: Option<&'a BTreeMap<String, String>>) -> Self {
        Annotations { map }
    }

    /// The full key and value of annotation `name`, under our prefix if it is set there, else
    /// under ingress-nginx's. An empty value counts as not set, as in ingress-nginx.
    pub(super) fn get(&self, name: &str) -> Option<(&'a str, &'a str)> {
        let map = self.map?;
        ANNOTATION_PREFIXES.iter().find_map(|prefix| {
            let (key, value) = map.get_key_value(&format!("{prefix}{name}"))?;
            (!value.trim().is_empty()).then_some((key.as_str(), value.as_str()))
        })
    }
}

/// What the review found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Review {
    /// The first annotation that keeps the Ingress from being served, with its full name.
    pub(super) fail_closed: Option<String>,
}

/// Reviews `annotations` of Ingress `key`, pushing one diagnostic per annotation that is not
/// honoured as written.
pub(super) fn review(
    key: &ObjectKey,
    annotations: Option<&BTreeMap<String, String>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Review {
    let mut review = Review::default();
    let Some(annotations) = annotations else {
        return review;
    };
    for full in annotations.keys() {
        let Some(name) = ANNOTATION_PREFIXES
            .iter()
            .find_map(|prefix| full.strip_prefix(prefix))
        else {
            continue;
        };
        let field = format!("metadata.annotations[{full}]");
        match support(name) {
            Support::Honoured | Support::HonouredWithDifference(_) => {}
            Support::FailsClosed => {
                diagnostics.push(Diagnostic::error(
                    Reason::UnsupportedAnnotation,
                    key,
                    field,
                    "restricts access in a way Portcullis does not enforce yet; the Ingress is \
                     not served (its paths answer 503) rather than served open",
                ));
                review.fail_closed.get_or_insert_with(|| full.clone());
            }
            Support::Unsupported => diagnostics.push(Diagnostic::warning(
                Reason::UnsupportedAnnotation,
                key,
                field,
                "not supported; ignored (the Ingress is served without it)",
            )),
        }
    }
    review
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ObjectKey {
        ObjectKey {
            kind: portcullis_kube::objects::Kind::Ingress,
            namespace: "shop".into(),
            name: "store".into(),
        }
    }

    fn run(pairs: &[(&str, &str)]) -> (Review, Vec<Diagnostic>) {
        let annotations: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut diagnostics = Vec::new();
        let review = review(&key(), Some(&annotations), &mut diagnostics);
        (review, diagnostics)
    }

    #[test]
    fn access_control_fails_closed_and_the_rest_is_named() {
        let cases: [(&str, bool); 12] = [
            ("nginx.ingress.kubernetes.io/auth-url", true),
            ("nginx.ingress.kubernetes.io/auth-type", true),
            ("portcullis.dev/auth-tls-secret", true),
            ("nginx.ingress.kubernetes.io/satisfy", true),
            ("nginx.ingress.kubernetes.io/enable-global-auth", true),
            ("nginx.ingress.kubernetes.io/auth-signin", true),
            ("nginx.ingress.kubernetes.io/modsecurity-snippet", true),
            ("nginx.ingress.kubernetes.io/auth-snippet", true),
            ("nginx.ingress.kubernetes.io/stream-snippet", true),
            (
                "nginx.ingress.kubernetes.io/session-cookie-change-on-failure",
                false,
            ),
            ("portcullis.dev/upstream-hash-by-subset", false),
            ("nginx.ingress.kubernetes.io/limit-rps", false),
        ];
        for (name, closed) in cases {
            let (review, diagnostics) = run(&[(name, "x")]);
            assert_eq!(review.fail_closed.is_some(), closed, "{name}");
            assert_eq!(diagnostics.len(), 1, "{name}");
            assert_eq!(diagnostics[0].reason, Reason::UnsupportedAnnotation);
            assert_eq!(
                diagnostics[0].field,
                format!("metadata.annotations[{name}]")
            );
        }
    }

    #[test]
    fn honoured_and_foreign_annotations_say_nothing() {
        let (review, diagnostics) = run(&[
            ("nginx.ingress.kubernetes.io/ssl-redirect", "false"),
            ("portcullis.dev/ssl-redirect", "true"),
            ("nginx.ingress.kubernetes.io/rewrite-target", "/$2"),
            ("portcullis.dev/canary-weight", "10"),
            (
                "nginx.ingress.kubernetes.io/whitelist-source-range",
                "10.0.0.0/8",
            ),
            ("nginx.ingress.kubernetes.io/enable-cors", "true"),
            ("kubernetes.io/ingress.class", "nginx"),
            ("cert-manager.io/cluster-issuer", "letsencrypt"),
        ]);
        assert_eq!(review, Review::default());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }
}
