//! Path rewrites and redirect locations, computed from a request's parts: pure, so every case
//! ingress-nginx documents is a table test here and the proxy only calls it.

use http::HeaderValue;
use http::uri::PathAndQuery;

use crate::host::strip_port;
use crate::spec::{RedirectLocation, RedirectPort};
use crate::table::{CompiledPathRewrite, CompiledRedirect};

/// A rewrite produced something that is not a path (a capture or template made it so); the
/// route's configuration is at fault and retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the rewrite produced {0:?}, which is not a valid request target")]
pub struct InvalidRewrite(pub String);

/// The request parts a redirect may keep.
#[derive(Debug, Clone, Copy)]
pub struct RedirectInput<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The request's host, possibly with a port.
    pub host: &'a str,
    /// The (normalised) path and query.
    pub path_and_query: &'a PathAndQuery,
}

/// The path and query sent upstream after `rewrite`; `None` when a regex rewrite's pattern
/// does not match (the request goes up unchanged, as nginx's `rewrite` leaves it).
pub fn rewrite_path(
    rewrite: &CompiledPathRewrite,
    path_and_query: &PathAndQuery,
) -> Option<Result<PathAndQuery, InvalidRewrite>> {
    let path = path_and_query.path();
    let query = path_and_query.query();
    let text = match rewrite {
        CompiledPathRewrite::Full(new) => with_query(new, query),
        CompiledPathRewrite::ReplacePrefix { prefix, with } => {
            let rest = path.strip_prefix(&**prefix).unwrap_or(path);
            let rest = if **prefix == *"/" { path } else { rest };
            let mut new = with.trim_end_matches('/').to_owned();
            new.push_str(rest);
            if new.is_empty() {
                new.push('/');
            }
            with_query(&new, query)
        }
        CompiledPathRewrite::Regex { regex, replacement } => {
            let captures = regex.captures(path)?;
            let mut new = String::with_capacity(replacement.len() + path.len());
            let mut chars = replacement.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, chars.peek().and_then(|d| d.to_digit(10))) {
                    ('$', Some(group)) => {
                        chars.next();
                        let group = usize::try_from(group).unwrap_or(usize::MAX);
                        new.push_str(captures.get(group).map_or("", |m| m.as_str()));
                    }
                    _ => new.push(c),
                }
            }
            if !new.starts_with('/') {
                new.insert(0, '/');
            }
            match new.split_once('?') {
                // nginx: new arguments first, then the request's.
                Some((new_path, new_query)) => {
                    let mut joined = format!("{new_path}?{new_query}");
                    if let Some(query) = query {
                        joined.push('&');
                        joined.push_str(query);
                    }
                    joined
                }
                None => with_query(&new, query),
            }
        }
    };
    Some(PathAndQuery::try_from(text.as_str()).map_err(|_| InvalidRewrite(text)))
}

fn with_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    }
}

/// The `Location` of a redirect for this request.
pub fn redirect_location(
    redirect: &CompiledRedirect,
    request: RedirectInput<'_>,
) -> Result<HeaderValue, InvalidRewrite> {
    let text = match &redirect.location {
        RedirectLocation::Fixed(location) => location.clone(),
        RedirectLocation::Rebuilt {
            scheme,
            host,
            port,
            keep_query,
            ..
        } => {
            let scheme = scheme.as_deref().unwrap_or(request.scheme);
            let request_host = strip_port(request.host);
            let host = host.as_deref().unwrap_or(request_host);
            let port = match port {
                RedirectPort::Keep => request.host[request_host.len()..].to_owned(),
                RedirectPort::SchemeDefault => String::new(),
                RedirectPort::Number(443) if scheme == "https" => String::new(),
                RedirectPort::Number(80) if scheme == "http" => String::new(),
                RedirectPort::Number(port) => format!(":{port}"),
            };
            let rewritten = match &redirect.path {
                Some(rewrite) => rewrite_path(rewrite, request.path_and_query).transpose()?,
                None => None,
            };
            let target = rewritten.as_ref().unwrap_or(request.path_and_query);
            let path = if *keep_query {
                target.as_str()
            } else {
                target.path()
            };
            format!("{scheme}://{host}{port}{path}")
        }
    };
    HeaderValue::try_from(text.as_str()).map_err(|_| InvalidRewrite(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{Anchoring, compile};
    use http::StatusCode;

    fn regex(pattern: &str, replacement: &str) -> CompiledPathRewrite {
        CompiledPathRewrite::Regex {
            regex: compile(pattern, Anchoring::Start, true).expect("valid"),
            replacement: replacement.into(),
        }
    }

    fn apply(rewrite: &CompiledPathRewrite, target: &str) -> Option<String> {
        let target = PathAndQuery::try_from(target).expect("valid");
        rewrite_path(rewrite, &target).map(|r| r.expect("valid").as_str().to_owned())
    }

    #[test]
    fn rewrite_target_with_capture_groups_as_ingress_nginx_documents() {
        // https://kubernetes.github.io/ingress-nginx/examples/rewrite/
        let rewrite = regex("/something(/|$)(.*)", "/$2");
        assert_eq!(apply(&rewrite, "/something").as_deref(), Some("/"));
        assert_eq!(apply(&rewrite, "/something/").as_deref(), Some("/"));
        assert_eq!(apply(&rewrite, "/something/new").as_deref(), Some("/new"));
        assert_eq!(
            apply(&rewrite, "/SOMETHING/new?a=1").as_deref(),
            Some("/new?a=1")
        );
        assert_eq!(apply(&rewrite, "/other"), None);
    }

    #[test]
    fn a_plain_rewrite_target_replaces_the_whole_path() {
        let rewrite = regex("/app", "/");
        assert_eq!(apply(&rewrite, "/app/x/y").as_deref(), Some("/"));
        let rewrite = regex("/app", "$1x");
        assert_eq!(apply(&rewrite, "/app").as_deref(), Some("/x"));
        let rewrite = regex("/a(.*)", "/b?from=a$1");
        assert_eq!(
            apply(&rewrite, "/a/c?q=1").as_deref(),
            Some("/b?from=a/c&q=1")
        );
    }

    #[test]
    fn prefix_and_full_rewrites_keep_the_query() {
        let prefix = |p: &str, w: &str| CompiledPathRewrite::ReplacePrefix {
            prefix: p.into(),
            with: w.into(),
        };
        assert_eq!(
            apply(&prefix("/foo", "/xyz"), "/foo/bar?q").as_deref(),
            Some("/xyz/bar?q")
        );
        assert_eq!(
            apply(&prefix("/foo", "/"), "/foo/bar").as_deref(),
            Some("/bar")
        );
        assert_eq!(apply(&prefix("/foo", "/"), "/foo").as_deref(), Some("/"));
        assert_eq!(
            apply(&prefix("/foo", "/xyz/"), "/foo").as_deref(),
            Some("/xyz")
        );
        assert_eq!(apply(&prefix("/", "/v2"), "/a").as_deref(), Some("/v2/a"));
        let full = CompiledPathRewrite::Full("/new".into());
        assert_eq!(apply(&full, "/old/x?k=v").as_deref(), Some("/new?k=v"));
    }

    #[test]
    fn redirect_locations() {
        let target = PathAndQuery::from_static("/p?q=1");
        let input = RedirectInput {
            scheme: "http",
            host: "Shop.example:8080",
            path_and_query: &target,
        };
        let rebuilt =
            |scheme: Option<&str>, host: Option<&str>, port: RedirectPort| CompiledRedirect {
                status: StatusCode::PERMANENT_REDIRECT,
                location: RedirectLocation::Rebuilt {
                    scheme: scheme.map(str::to_owned),
                    host: host.map(str::to_owned),
                    port,
                    path: None,
                    keep_query: true,
                },
                path: None,
            };
        let location = |r: &CompiledRedirect| redirect_location(r, input).expect("valid");
        assert_eq!(
            location(&rebuilt(Some("https"), None, RedirectPort::SchemeDefault)),
            "https://Shop.example/p?q=1"
        );
        assert_eq!(
            location(&rebuilt(
                None,
                Some("www.example"),
                RedirectPort::Number(8443)
            )),
            "http://www.example:8443/p?q=1"
        );
        assert_eq!(
            location(&rebuilt(Some("https"), None, RedirectPort::Number(443))),
            "https://Shop.example/p?q=1"
        );
        assert_eq!(
            location(&rebuilt(None, None, RedirectPort::Keep)),
            "http://Shop.example:8080/p?q=1"
        );
        let app_root = CompiledRedirect {
            status: StatusCode::FOUND,
            location: RedirectLocation::Rebuilt {
                scheme: None,
                host: None,
                port: RedirectPort::Keep,
                path: Some(crate::spec::PathRewrite::Full("/app1".into())),
                keep_query: false,
            },
            path: Some(CompiledPathRewrite::Full("/app1".into())),
        };
        assert_eq!(location(&app_root), "http://Shop.example:8080/app1");
        let fixed = CompiledRedirect {
            status: StatusCode::MOVED_PERMANENTLY,
            location: RedirectLocation::Fixed("https://www.google.com".into()),
            path: None,
        };
        assert_eq!(location(&fixed), "https://www.google.com");
    }
}
