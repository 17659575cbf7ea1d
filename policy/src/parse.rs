//! A NetworkPolicy as the API serves it (JSON) → [`Policy`]. Pure. Reading the JSON instead of a
//! typed struct lets the parser notice fields it does not know (a newer API, a typo in a
//! manifest): those make the policy fail closed instead of being silently dropped.

use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::model::Protocol;
use crate::policy::{Peer, Policy, PortMatch, PortRule, Rule};
use crate::selector::{Operator, Requirement, Selector};

/// A malformed NetworkPolicy: the user's to fix in the object; retrying will not help. The
/// agent keeps the last good version of the policy meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("NetworkPolicy {policy}: {field}: {message}")]
pub struct PolicyError {
    /// `namespace/name`.
    pub policy: String,
    /// The field path, e.g. `spec.ingress[0].from[1].ipBlock.cidr`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Parses one NetworkPolicy object (`metadata` and `spec`).
pub fn parse_policy(object: &Value) -> Result<Policy, PolicyError> {
    let meta = object.get("metadata");
    let text = |field: &str| {
        meta.and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (namespace, name) = (text("namespace"), text("name"));
    let namespace = if namespace.is_empty() {
        "default".to_string()
    } else {
        namespace
    };
    let mut walk = Walk {
        policy: format!("{namespace}/{name}"),
        not_understood: Vec::new(),
    };
    let empty = Value::Object(Map::new());
    let spec = walk.object(
        object.get("spec").unwrap_or(&empty),
        "spec",
        &["podSelector", "policyTypes", "ingress", "egress"],
    )?;
    let pod_selector = match spec.get("podSelector") {
        Some(value) => walk.selector(value, "spec.podSelector")?,
        None => return Err(walk.error("spec.podSelector", "is required ({} selects every pod)")),
    };
    let ingress = walk.rules(spec.get("ingress"), "spec.ingress", "from")?;
    let egress = walk.rules(spec.get("egress"), "spec.egress", "to")?;
    let (ingress_isolated, egress_isolated) = match spec.get("policyTypes") {
        None | Some(Value::Null) => (true, !egress.is_empty()),
        Some(types) => {
            let types = walk.list(types, "spec.policyTypes")?;
            let mut isolated = (false, false);
            for (index, kind) in types.iter().enumerate() {
                match kind.as_str() {
                    Some("Ingress") => isolated.0 = true,
                    Some("Egress") => isolated.1 = true,
                    _ => {
                        return Err(walk.error(
                            &format!("spec.policyTypes[{index}]"),
                            &format!("{kind} is not Ingress or Egress"),
                        ));
                    }
                }
            }
            isolated
        }
    };
    Ok(Policy {
        namespace,
        name,
        pod_selector,
        ingress_isolated,
        egress_isolated,
        ingress,
        egress,
        not_understood: walk.not_understood,
    })
}

/// The parser's position: whose policy, and the fields it did not understand so far.
struct Walk {
    policy: String,
    not_understood: Vec<String>,
}

impl Walk {
    fn error(&self, field: &str, message: &str) -> PolicyError {
        PolicyError {
            policy: self.policy.clone(),
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    /// The value as an object; keys outside `known` are noted as not understood.
    fn object<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        known: &[&str],
    ) -> Result<&'v Map<String, Value>, PolicyError> {
        let Some(map) = value.as_object() else {
            return Err(self.error(path, &format!("expected an object, got {value}")));
        };
        for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
            self.not_understood.push(format!("{path}.{key}"));
        }
        Ok(map)
    }

    fn list<'v>(&self, value: &'v Value, path: &str) -> Result<&'v Vec<Value>, PolicyError> {
        value
            .as_array()
            .ok_or_else(|| self.error(path, &format!("expected a list, got {value}")))
    }

    fn string<'v>(&self, value: Option<&'v Value>, path: &str) -> Result<&'v str, PolicyError> {
        match value {
            Some(Value::String(text)) => Ok(text),
            Some(other) => Err(self.error(path, &format!("expected a string, got {other}"))),
            None => Err(self.error(path, "is required")),
        }
    }

    fn selector(&mut self, value: &Value, path: &str) -> Result<Selector, PolicyError> {
        let map = self.object(value, path, &["matchLabels", "matchExpressions"])?;
        let mut selector = Selector::default();
        if let Some(labels) = map.get("matchLabels").filter(|v| !v.is_null()) {
            let field = format!("{path}.matchLabels");
            let labels = labels
                .as_object()
                .ok_or_else(|| self.error(&field, "expected an object of label values"))?;
            for (key, value) in labels {
                let value = self.string(Some(value), &format!("{field}.{key}"))?;
                selector.match_labels.push((key.clone(), value.to_string()));
            }
        }
        if let Some(expressions) = map.get("matchExpressions").filter(|v| !v.is_null()) {
            let field = format!("{path}.matchExpressions");
            for (index, entry) in self.list(expressions, &field)?.iter().enumerate() {
                let at = format!("{field}[{index}]");
                let entry = self.object(entry, &at, &["key", "operator", "values"])?;
                let key = self.string(entry.get("key"), &format!("{at}.key"))?;
                let values = match entry.get("values").filter(|v| !v.is_null()) {
                    Some(values) => {
                        let at = format!("{at}.values");
                        let list = self.list(values, &at)?;
                        list.iter()
                            .enumerate()
                            .map(|(i, v)| {
                                self.string(Some(v), &format!("{at}[{i}]"))
                                    .map(str::to_string)
                            })
                            .collect::<Result<Vec<_>, _>>()?
                    }
                    None => Vec::new(),
                };
                let operator_field = format!("{at}.operator");
                let operator = match self.string(entry.get("operator"), &operator_field)? {
                    "In" | "NotIn" if values.is_empty() => {
                        return Err(self.error(&format!("{at}.values"), "In and NotIn need values"));
                    }
                    "Exists" | "DoesNotExist" if !values.is_empty() => {
                        return Err(self.error(
                            &format!("{at}.values"),
                            "Exists and DoesNotExist take no values",
                        ));
                    }
                    "In" => Operator::In(values),
                    "NotIn" => Operator::NotIn(values),
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => {
                        return Err(self.error(
                            &operator_field,
                            &format!("{other:?} is not In, NotIn, Exists or DoesNotExist"),
                        ));
                    }
                };
                selector.expressions.push(Requirement {
                    key: key.to_string(),
                    operator,
                });
            }
        }
        Ok(selector)
    }

    /// `spec.ingress` or `spec.egress`; `peers_key` is `from` or `to`.
    fn rules(
        &mut self,
        value: Option<&Value>,
        path: &str,
        peers_key: &str,
    ) -> Result<Vec<Rule>, PolicyError> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(Vec::new());
        };
        let mut rules = Vec::new();
        for (index, rule) in self.list(value, path)?.iter().enumerate() {
            let at = format!("{path}[{index}]");
            let rule = self.object(rule, &at, &[peers_key, "ports"])?;
            let peers = self.optional_list(
                rule.get(peers_key),
                &format!("{at}.{peers_key}"),
                Self::peer,
            )?;
            let ports =
                self.optional_list(rule.get("ports"), &format!("{at}.ports"), Self::port)?;
            rules.push(Rule { peers, ports });
        }
        Ok(rules)
    }

    /// A list each entry of which `parse` reads; `None` when missing, null or empty (which
    /// NetworkPolicy reads as "every peer" or "every port").
    fn optional_list<T>(
        &mut self,
        value: Option<&Value>,
        path: &str,
        parse: fn(&mut Self, &Value, &str) -> Result<T, PolicyError>,
    ) -> Result<Option<Vec<T>>, PolicyError> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let entries = self
            .list(value, path)?
            .iter()
            .enumerate()
            .map(|(index, entry)| parse(self, entry, &format!("{path}[{index}]")))
            .collect::<Result<Vec<T>, _>>()?;
        Ok((!entries.is_empty()).then_some(entries))
    }

    fn peer(&mut self, value: &Value, path: &str) -> Result<Peer, PolicyError> {
        let map = self.object(
            value,
            path,
            &["podSelector", "namespaceSelector", "ipBlock"],
        )?;
        let present = |key: &str| map.get(key).is_some_and(|v| !v.is_null());
        if present("ipBlock") {
            if present("podSelector") || present("namespaceSelector") {
                return Err(self.error(
                    path,
                    "ipBlock cannot be combined with podSelector or namespaceSelector",
                ));
            }
            let at = format!("{path}.ipBlock");
            let block = self.object(&map["ipBlock"], &at, &["cidr", "except"])?;
            let cidr = self.cidr(block.get("cidr"), &format!("{at}.cidr"))?;
            let mut except = Vec::new();
            if let Some(list) = block.get("except").filter(|v| !v.is_null()) {
                for (index, entry) in self.list(list, &format!("{at}.except"))?.iter().enumerate() {
                    let field = format!("{at}.except[{index}]");
                    let inner = self.cidr(Some(entry), &field)?;
                    if !cidr.contains(&inner) || inner == cidr {
                        return Err(self.error(
                            &field,
                            &format!("{inner} is not strictly inside cidr {cidr}"),
                        ));
                    }
                    except.push(inner);
                }
            }
            return Ok(Peer::IpBlock { cidr, except });
        }
        let namespaces = match map.get("namespaceSelector").filter(|v| !v.is_null()) {
            Some(value) => Some(self.selector(value, &format!("{path}.namespaceSelector"))?),
            None => None,
        };
        let pods = match map.get("podSelector").filter(|v| !v.is_null()) {
            Some(value) => Some(self.selector(value, &format!("{path}.podSelector"))?),
            None => None,
        };
        if namespaces.is_none() && pods.is_none() {
            return Err(self.error(
                path,
                "needs podSelector, namespaceSelector or ipBlock (an empty peer is not allowed)",
            ));
        }
        Ok(Peer::Pods { namespaces, pods })
    }

    fn cidr(&self, value: Option<&Value>, path: &str) -> Result<IpNet, PolicyError> {
        let text = self.string(value, path)?;
        let cidr: IpNet = text
            .parse()
            .map_err(|_| self.error(path, &format!("{text:?} is not a CIDR")))?;
        Ok(cidr.trunc())
    }

    fn port(&mut self, value: &Value, path: &str) -> Result<PortRule, PolicyError> {
        let map = self.object(value, path, &["protocol", "port", "endPort"])?;
        let protocol = match map.get("protocol").filter(|v| !v.is_null()) {
            None => Protocol::Tcp,
            Some(value) => {
                let field = format!("{path}.protocol");
                let text = self.string(Some(value), &field)?;
                match Protocol::from_api(text) {
                    Some(protocol) => protocol,
                    None => {
                        // A protocol this compiler cannot match: fail closed, not malformed.
                        self.not_understood.push(format!("{field} ({text})"));
                        Protocol::Tcp
                    }
                }
            }
        };
        let end_port = match map.get("endPort").filter(|v| !v.is_null()) {
            None => None,
            Some(value) => Some(self.port_number(value, &format!("{path}.endPort"))?),
        };
        let port = match map.get("port").filter(|v| !v.is_null()) {
            None if end_port.is_some() => {
                return Err(self.error(&format!("{path}.endPort"), "needs a numeric port"));
            }
            None => PortMatch::All,
            Some(Value::String(name)) if name.parse::<u16>().is_err() => {
                if end_port.is_some() {
                    return Err(self.error(
                        &format!("{path}.endPort"),
                        "cannot be used with a named port",
                    ));
                }
                PortMatch::Named(name.clone())
            }
            Some(value) => {
                let port = self.port_number(value, &format!("{path}.port"))?;
                let end = end_port.unwrap_or(port);
                if end < port {
                    return Err(self.error(
                        &format!("{path}.endPort"),
                        &format!("{end} is below port {port}"),
                    ));
                }
                PortMatch::Range(port, end)
            }
        };
        Ok(PortRule { protocol, port })
    }

    fn port_number(&self, value: &Value, path: &str) -> Result<u16, PolicyError> {
        let number = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(text) => text.parse::<u64>().ok(),
            _ => None,
        };
        match number {
            Some(n @ 1..=65535) => Ok(n as u16),
            _ => Err(self.error(path, &format!("{value} is not a port number (1-65535)"))),
        }
    }
}

impl portcullis_fault::Classified for PolicyError {
    /// The policy's author wrote something invalid.
    fn fault(&self) -> portcullis_fault::Fault {
        portcullis_fault::Fault::User
    }

    /// The same policy parses the same way.
    fn retryable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
