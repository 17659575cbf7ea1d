//! One request, one target: the host and path that routing, the upstream request and the
//! forwarding headers all use, settled once per request, or the reason it is refused.

use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Version};
use portcullis_route::request_target::{HostRejection, PathRejection, check_host, normalise_path};

use crate::error_responses::ProxyAnswer;

/// What a request asks for, checked.
#[derive(Debug, Clone)]
pub struct Target {
    /// The host the client asked for, as sent (case and port kept): the URI authority
    /// (HTTP/2 `:authority`, an absolute-form request line) else `Host`. Sent upstream as
    /// `Host` and `X-Forwarded-Host`. `None` only for an HTTP/1.0 request without `Host`.
    pub host: Option<HeaderValue>,
    /// The normalised path and the query as sent: matched by the table, sent upstream.
    pub path_and_query: PathAndQuery,
}

impl Target {
    /// The host as text, or `""` when the request named none (only catch-all rules match).
    pub fn host_str(&self) -> &str {
        // check_host accepted only ASCII, so to_str cannot fail.
        self.host
            .as_ref()
            .and_then(|host| host.to_str().ok())
            .unwrap_or("")
    }
}

/// Settles `request`'s host and path (RFC 9112 §3.2 and §3.2.2, RFC 9113 §8.3.1).
pub fn settle<B>(request: &Request<B>) -> Result<Target, ProxyAnswer> {
    let host = settle_host(request).map_err(ProxyAnswer::BadHost)?;
    let path_and_query = settle_path(request).map_err(ProxyAnswer::BadPath)?;
    Ok(Target {
        host,
        path_and_query,
    })
}

fn settle_host<B>(request: &Request<B>) -> Result<Option<HeaderValue>, HostRejection> {
    let mut lines = request.headers().get_all(header::HOST).iter();
    let host_header = lines.next();
    if lines.next().is_some() {
        return Err(HostRejection::Duplicate);
    }
    if let Some(value) = host_header {
        check_host(value.as_bytes())?;
    }
    match (request.uri().authority(), host_header) {
        (Some(authority), header) => {
            let checked = check_host(authority.as_str().as_bytes())?;
            // An absolute-form HTTP/1 request's Host is replaced by its authority (§3.2.2);
            // HTTP/2 forbids the two naming different hosts (RFC 9113 §8.3.1).
            if request.version() == Version::HTTP_2
                && header.is_some_and(|h| !h.as_bytes().eq_ignore_ascii_case(checked.as_bytes()))
            {
                return Err(HostRejection::Mismatch);
            }
            if request.version() == Version::HTTP_11 && header.is_none() {
                return Err(HostRejection::Missing);
            }
            HeaderValue::from_str(checked)
                .map(Some)
                .map_err(|_| HostRejection::BadCharacter)
        }
        (None, Some(header)) => Ok(Some(header.clone())),
        (None, None) if request.version() == Version::HTTP_11 => Err(HostRejection::Missing),
        (None, None) => Ok(None),
    }
}

fn settle_path<B>(request: &Request<B>) -> Result<PathAndQuery, PathRejection> {
    let uri = request.uri();
    let normal = normalise_path(uri.path())?;
    match (normal, uri.path_and_query()) {
        (std::borrow::Cow::Borrowed(_), Some(as_sent)) => Ok(as_sent.clone()),
        (normal, _) => {
            let rebuilt = match uri.query() {
                Some(query) => format!("{normal}?{query}"),
                None => normal.into_owned(),
            };
            // The normalised path only holds characters the original path held (plus
            // upper-case hex digits), so it parses; refuse rather than guess if not.
            PathAndQuery::try_from(rebuilt).map_err(|_| PathRejection::BadEscape)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: Version, target: &str, hosts: &[&str]) -> Request<()> {
        let mut builder = Request::get(target).version(version);
        for host in hosts {
            builder = builder.header(header::HOST, *host);
        }
        builder.body(()).expect("request")
    }

    fn host_of(result: Result<Target, ProxyAnswer>) -> Result<Option<String>, ProxyAnswer> {
        result.map(|target| target.host.map(|h| h.to_str().expect("ascii").to_owned()))
    }

    #[test]
    fn the_authority_wins_and_one_host_is_required() {
        use HostRejection::*;
        let h1 = Version::HTTP_11;
        let h2 = Version::HTTP_2;
        type Case<'a> = (
            Version,
            &'a str,
            &'a [&'a str],
            Result<Option<&'a str>, HostRejection>,
        );
        let cases: [Case; 11] = [
            (h1, "/api", &["p.example"], Ok(Some("p.example"))),
            (
                h1,
                "http://p.example/api/x",
                &["admin.internal"],
                Ok(Some("p.example")),
            ),
            (h1, "http://p.example/api/x", &[], Err(Missing)),
            (h1, "/api", &["p.example", "admin.internal"], Err(Duplicate)),
            (h1, "/api", &["t.example/x?y"], Err(BadCharacter)),
            (h1, "/api", &["a@t.example"], Err(UserInfo)),
            (h1, "/api", &[""], Err(Empty)),
            (h1, "/api", &[], Err(Missing)),
            (Version::HTTP_10, "/api", &[], Ok(None)),
            (
                h2,
                "https://p.example/api",
                &["admin.internal"],
                Err(Mismatch),
            ),
            (
                h2,
                "https://p.example/api",
                &["P.example"],
                Ok(Some("p.example")),
            ),
        ];
        for (version, target, hosts, want) in cases {
            let got = host_of(settle(&request(version, target, hosts)));
            let want = want
                .map(|host| host.map(str::to_owned))
                .map_err(ProxyAnswer::BadHost);
            assert_eq!(got, want, "{version:?} {target} {hosts:?}");
        }
    }

    #[test]
    fn the_path_is_normalised_and_the_query_kept() {
        let target = settle(&request(
            Version::HTTP_11,
            "/api/%2e%2e/admin?a=../b",
            &["p"],
        ))
        .expect("accepted");
        assert_eq!(target.path_and_query.as_str(), "/admin?a=../b");
        let refused = settle(&request(Version::HTTP_11, "/api/..%2fadmin", &["p"]));
        assert_eq!(
            refused.map(|_| ()),
            Err(ProxyAnswer::BadPath(PathRejection::HiddenDotSegment))
        );
    }
}
