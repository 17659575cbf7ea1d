//! What a request must carry besides its path for a rule to match: method, headers, query
//! parameters and cookies (ingress-nginx canaries by header and cookie; Gateway API matches).

use std::fmt;

use http::{HeaderName, Method};

/// Every condition must hold; an empty set always holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Conditions {
    /// The request method, if one is required.
    pub method: Option<Method>,
    /// Request headers (by name, case-insensitive); a header sent several times matches if
    /// its first value does.
    pub headers: Vec<HeaderCondition>,
    /// Query parameters (by exact name); the first occurrence is compared.
    pub query: Vec<NamedCondition>,
    /// Cookies of the `Cookie` header (by exact name).
    pub cookies: Vec<NamedCondition>,
}

/// One header and the value it must have.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderCondition {
    /// Header name.
    pub name: HeaderName,
    /// What its value must be.
    pub value: ValueMatch,
}

/// A query parameter or cookie and the value it must have.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamedCondition {
    /// Parameter or cookie name, compared exactly.
    pub name: String,
    /// What its value must be.
    pub value: ValueMatch,
}

/// How a value is compared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueMatch {
    /// Byte for byte.
    Exact(String),
    /// The whole value matches this regular expression (compiled once per table).
    Regex(String),
}

impl Conditions {
    /// True when there is nothing to check besides the path.
    pub fn is_empty(&self) -> bool {
        self.method.is_none()
            && self.headers.is_empty()
            && self.query.is_empty()
            && self.cookies.is_empty()
    }
}

impl fmt::Display for ValueMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueMatch::Exact(value) => write!(f, "={value:?}"),
            ValueMatch::Regex(pattern) => write!(f, "~{pattern:?}"),
        }
    }
}

/// Renders ` [method GET, header x-canary="always", cookie c~"v.*"]`, or nothing when empty:
/// part of the golden text.
impl fmt::Display for Conditions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        let mut parts: Vec<String> = Vec::new();
        if let Some(method) = &self.method {
            parts.push(format!("method {method}"));
        }
        for header in &self.headers {
            parts.push(format!("header {}{}", header.name, header.value));
        }
        for query in &self.query {
            parts.push(format!("query {}{}", query.name, query.value));
        }
        for cookie in &self.cookies {
            parts.push(format!("cookie {}{}", cookie.name, cookie.value));
        }
        write!(f, " [{}]", parts.join(", "))
    }
}
