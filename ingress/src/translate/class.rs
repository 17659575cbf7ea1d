//! Which Ingresses this controller serves, by the IngressClass rules of the Kubernetes spec.
//!
//! In order: `spec.ingressClassName` names an IngressClass whose `spec.controller` is ours; else
//! the legacy `kubernetes.io/ingress.class` annotation equals our class name; else the Ingress
//! has no class and the cluster's default IngressClass (annotation
//! `ingressclass.kubernetes.io/is-default-class: "true"`, the newest one if several) is ours.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use portcullis_kube::objects::ObjectKey;
use portcullis_translation::{Diagnostic, Reason};

/// The legacy class annotation, still honoured for Ingresses without `spec.ingressClassName`.
pub const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// Marks an IngressClass as the default for Ingresses that name none.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// Our identity: the class name and the controller value IngressClasses point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassIdentity {
    /// `--ingress-class`: the name matched by the legacy annotation.
    pub ingress_class: String,
    /// `--controller-name`: the `spec.controller` of IngressClasses that are ours.
    pub controller_name: String,
}

/// Decides class membership for every Ingress of one snapshot.
#[derive(Debug)]
pub struct ClassFilter<'a> {
    identity: &'a ClassIdentity,
    classes: &'a BTreeMap<String, Arc<IngressClass>>,
    default_is_ours: bool,
}

impl<'a> ClassFilter<'a> {
    /// Reads the IngressClasses once, including which one is the default.
    pub fn new(
        identity: &'a ClassIdentity,
        classes: &'a BTreeMap<String, Arc<IngressClass>>,
    ) -> Self {
        let default_class = classes
            .values()
            .filter(|class| {
                class
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                    .is_some_and(|v| v == "true")
            })
            .max_by(|a, b| {
                let created = |c: &IngressClass| c.metadata.creation_timestamp.clone();
                created(a)
                    .cmp(&created(b))
                    // Same age: the alphabetically first name wins, so max takes the smaller name.
                    .then_with(|| b.metadata.name.cmp(&a.metadata.name))
            });
        let default_is_ours = default_class.is_some_and(|class| is_ours(class, identity));
        ClassFilter {
            identity,
            classes,
            default_is_ours,
        }
    }

    /// True when this controller serves the Ingress. A class name that points nowhere and
    /// looks meant for us yields a diagnostic, since the Ingress is then silently unserved.
    pub fn accepts(
        &self,
        key: &ObjectKey,
        ingress: &Ingress,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> bool {
        let class_name = ingress
            .spec
            .as_ref()
            .and_then(|spec| spec.ingress_class_name.as_deref());
        if let Some(name) = class_name {
            return match self.classes.get(name) {
                Some(class) => is_ours(class, self.identity),
                None => {
                    if name == self.identity.ingress_class {
                        diagnostics.push(Diagnostic::error(
 Reason::IngressClassMissing,
                            key,
                            "spec.ingressClassName",
                            format!(
                                "IngressClass {name:?} does not exist, so this Ingress is not served; \
                                 create it with spec.controller: {}",
                                self.identity.controller_name
                            ),
                        ));
                    }
                    false
                }
            };
        }
        let legacy = ingress
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(LEGACY_CLASS_ANNOTATION));
        match legacy {
            Some(name) => *name == self.identity.ingress_class,
            None => self.default_is_ours,
        }
    }
}

fn is_ours(class: &IngressClass, identity: &ClassIdentity) -> bool {
    class
        .spec
        .as_ref()
        .and_then(|spec| spec.controller.as_deref())
        .is_some_and(|controller| controller == identity.controller_name)
}
