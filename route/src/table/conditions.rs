//! Conditions compiled for matching: regexes built once per table, names in the form the
//! request carries them.

use http::header::HeaderMap;
use http::{HeaderName, Method};
use regex::Regex;

use crate::cookies::cookie_value;
use crate::pattern::{Anchoring, compile};
use crate::spec::{Conditions, ValueMatch};

/// What conditions may read from a request besides its host and path.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    /// The method; `None` fails every method condition.
    pub method: Option<&'a Method>,
    /// The headers (cookies are read from `Cookie`); `None` fails every header and cookie
    /// condition.
    pub headers: Option<&'a HeaderMap>,
    /// The query string without `?`; `None` fails every query condition.
    pub query: Option<&'a str>,
}

/// Every condition of one rule, ready to check.
#[derive(Debug)]
pub(super) struct CompiledConditions {
    /// Set for a rule whose conditions could not be compiled: it never matches.
    never: bool,
    method: Option<Method>,
    headers: Vec<(HeaderName, CompiledValue)>,
    query: Vec<(Box<str>, CompiledValue)>,
    cookies: Vec<(Box<str>, CompiledValue)>,
}

#[derive(Debug)]
enum CompiledValue {
    Exact(Box<str>),
    Regex(Regex),
}

impl CompiledValue {
    fn compile(value: &ValueMatch) -> Result<Self, String> {
        Ok(match value {
            ValueMatch::Exact(text) => CompiledValue::Exact(text.as_str().into()),
            ValueMatch::Regex(pattern) => CompiledValue::Regex(
                compile(pattern, Anchoring::Whole, false)
                    .map_err(|error| format!("regex {pattern:?}: {error}"))?,
            ),
        })
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            CompiledValue::Exact(expected) => **expected == *value,
            CompiledValue::Regex(regex) => regex.is_match(value),
        }
    }
}

impl CompiledConditions {
    /// `None` when there is nothing to check; an error names a regex that does not compile.
    pub(super) fn compile(conditions: &Conditions) -> Result<Option<Box<Self>>, String> {
        if conditions.is_empty() {
            return Ok(None);
        }
        let named = |list: &[crate::spec::NamedCondition]| {
            list.iter()
                .map(|c| Ok((c.name.as_str().into(), CompiledValue::compile(&c.value)?)))
                .collect::<Result<Vec<_>, String>>()
        };
        Ok(Some(Box::new(CompiledConditions {
            never: false,
            method: conditions.method.clone(),
            headers: conditions
                .headers
                .iter()
                .map(|c| Ok((c.name.clone(), CompiledValue::compile(&c.value)?)))
                .collect::<Result<_, String>>()?,
            query: named(&conditions.query)?,
            cookies: named(&conditions.cookies)?,
        })))
    }

    /// Conditions that never hold.
    pub(super) fn never() -> Self {
        CompiledConditions {
            never: true,
            method: None,
            headers: Vec::new(),
            query: Vec::new(),
            cookies: Vec::new(),
        }
    }

    /// True when the request satisfies every condition.
    pub(super) fn hold(&self, facts: &RequestFacts<'_>) -> bool {
        if self.never {
            return false;
        }
        if let Some(method) = &self.method
            && facts.method != Some(method)
        {
            return false;
        }
        let headers_hold = self.headers.iter().all(|(name, value)| {
            facts
                .headers
                .and_then(|headers| headers.get(name))
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| value.matches(v))
        });
        headers_hold
            && self.query.iter().all(|(name, value)| {
                facts
                    .query
                    .and_then(|query| query_value(query, name))
                    .is_some_and(|v| value.matches(v))
            })
            && self.cookies.iter().all(|(name, value)| {
                facts
                    .headers
                    .and_then(|headers| cookie_value(headers, name))
                    .is_some_and(|v| value.matches(v))
            })
    }
}

/// The first value of query parameter `name`, as sent (not percent-decoded).
pub(crate) fn query_value<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HeaderCondition, NamedCondition};
    use http::HeaderValue;
    use http::header;

    fn conditions() -> Conditions {
        Conditions {
            method: Some(Method::POST),
            headers: vec![HeaderCondition {
                name: HeaderName::from_static("x-canary"),
                value: ValueMatch::Regex("al+ways".into()),
            }],
            query: vec![NamedCondition {
                name: "v".into(),
                value: ValueMatch::Exact("2".into()),
            }],
            cookies: vec![NamedCondition {
                name: "canary".into(),
                value: ValueMatch::Exact("always".into()),
            }],
        }
    }

    #[test]
    fn every_condition_must_hold() {
        let compiled = CompiledConditions::compile(&conditions())
            .expect("compiles")
            .expect("not empty");
        let mut headers = HeaderMap::new();
        headers.insert("x-canary", HeaderValue::from_static("allways"));
        headers.append(header::COOKIE, HeaderValue::from_static("a=1"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("b=2; canary=always"),
        );
        let facts = RequestFacts {
            method: Some(&Method::POST),
            headers: Some(&headers),
            query: Some("a=1&v=2&v=3"),
        };
        assert!(compiled.hold(&facts));
        let wrong_method = RequestFacts {
            method: Some(&Method::GET),
            ..facts
        };
        assert!(!compiled.hold(&wrong_method));
        assert!(!compiled.hold(&RequestFacts {
            query: Some("v=3&v=2"),
            ..facts
        }));
        assert!(!compiled.hold(&RequestFacts::default()));
        let mut other = headers.clone();
        other.insert("x-canary", HeaderValue::from_static("always-not"));
        assert!(!compiled.hold(&RequestFacts {
            headers: Some(&other),
            ..facts
        }));
    }

    #[test]
    fn cookie_and_query_parsing() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static(" x = \"q\" ;y=2"));
        assert_eq!(cookie_value(&headers, "x"), Some("q"));
        assert_eq!(cookie_value(&headers, "y"), Some("2"));
        assert_eq!(cookie_value(&headers, "z"), None);
        assert_eq!(query_value("flag&k=v", "flag"), Some(""));
        assert_eq!(query_value("k=v=w", "k"), Some("v=w"));
    }

    #[test]
    fn a_bad_regex_is_named() {
        let mut bad = conditions();
        bad.headers[0].value = ValueMatch::Regex("(".into());
        let error = CompiledConditions::compile(&bad).expect_err("refused");
        assert!(error.contains("\"(\""), "{error}");
    }
}
