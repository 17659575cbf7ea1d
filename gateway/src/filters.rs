//! HTTPRoute filters and timeouts as route model values: header modifiers, redirects,
//! rewrites, CORS. Each parser names the field of a value it refuses.

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use portcullis_kube::objects::gateway_api::{
    HeaderModifier, HttpCors, PathModifier, RequestRedirect, UrlRewrite,
};
use portcullis_route::spec::{
    CorsOrigins, CorsPolicy, HeaderEdits, PathRewrite, Redirect, RedirectLocation, RedirectPort,
    Rewrite,
};

/// A value that cannot be used: the field (below the filter) and why.
pub type Refusal = (String, String);

/// `requestHeaderModifier` / `responseHeaderModifier` as header edits.
pub fn header_edits(modifier: &HeaderModifier) -> Result<HeaderEdits, Refusal> {
    let pair = |field: &str, index: usize, name: &str, value: &str| {
        let at = format!("{field}[{index}]");
        let name = HeaderName::try_from(name)
            .map_err(|_| (at.clone(), format!("{name:?} is not a header name")))?;
        let value = HeaderValue::try_from(value)
            .map_err(|_| (at, format!("{value:?} is not a header value")))?;
        Ok::<_, Refusal>((name, value))
    };
    let mut edits = HeaderEdits::default();
    for (index, header) in modifier.set.iter().enumerate() {
        edits
            .set
            .push(pair("set", index, &header.name, &header.value)?);
    }
    for (index, header) in modifier.add.iter().enumerate() {
        edits
            .add
            .push(pair("add", index, &header.name, &header.value)?);
    }
    for (index, name) in modifier.remove.iter().enumerate() {
        edits
            .remove
            .push(HeaderName::try_from(name.as_str()).map_err(|_| {
                (
                    format!("remove[{index}]"),
                    format!("{name:?} is not a header name"),
                )
            })?);
    }
    Ok(edits)
}

/// A path modifier against the rule's matched prefix (`None` for other match types).
fn path_rewrite(
    modifier: &PathModifier,
    matched_prefix: Option<&str>,
) -> Result<PathRewrite, Refusal> {
    match modifier.modifier_type.as_str() {
        "ReplaceFullPath" => Ok(PathRewrite::Full(
            modifier
                .replace_full_path
                .clone()
                .unwrap_or_else(|| "/".into()),
        )),
        "ReplacePrefixMatch" => {
            let prefix = matched_prefix.ok_or_else(|| {
                (
                    "path.replacePrefixMatch".to_string(),
                    "ReplacePrefixMatch needs a PathPrefix match".to_string(),
                )
            })?;
            Ok(PathRewrite::ReplacePrefix {
                prefix: prefix.trim_end_matches('/').to_string(),
                with: modifier
                    .replace_prefix_match
                    .clone()
                    .unwrap_or_else(|| "/".into()),
            })
        }
        other => Err((
            "path.type".to_string(),
            format!("{other:?} is not ReplaceFullPath or ReplacePrefixMatch"),
        )),
    }
}

/// `requestRedirect` on a listener of `listener_port`: without a port, the location keeps
/// the listener's port unless the scheme changes (then the new scheme's default).
pub fn redirect(
    filter: &RequestRedirect,
    matched_prefix: Option<&str>,
    listener_port: u16,
) -> Result<Redirect, Refusal> {
    let status = match filter.status_code.unwrap_or(302) {
        code @ (301 | 302 | 303 | 307 | 308) => code as u16,
        other => {
            return Err((
                "statusCode".into(),
                format!("{other} is not a redirect status (301, 302)"),
            ));
        }
    };
    let scheme = match filter.scheme.as_deref() {
        None => None,
        Some(scheme @ ("http" | "https")) => Some(scheme.to_string()),
        Some(other) => {
            return Err(("scheme".into(), format!("{other:?} is not http or https")));
        }
    };
    let port = match filter.port {
        Some(port) => RedirectPort::Number(
            u16::try_from(port)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| ("port".to_string(), format!("{port} is not a port")))?,
        ),
        None if scheme.is_some() => RedirectPort::SchemeDefault,
        None => RedirectPort::Number(listener_port),
    };
    let path = filter
        .path
        .as_ref()
        .map(|p| path_rewrite(p, matched_prefix))
        .transpose()?;
    Ok(Redirect {
        status,
        location: RedirectLocation::Rebuilt {
            scheme,
            host: filter.hostname.clone(),
            port,
            path,
            keep_query: true,
        },
    })
}

/// `urlRewrite`.
pub fn rewrite(filter: &UrlRewrite, matched_prefix: Option<&str>) -> Result<Rewrite, Refusal> {
    Ok(Rewrite {
        host: filter.hostname.clone(),
        path: filter
            .path
            .as_ref()
            .map(|p| path_rewrite(p, matched_prefix))
            .transpose()?,
    })
}

/// `cors`.
pub fn cors(filter: &HttpCors) -> Result<CorsPolicy, Refusal> {
    let joined = |field: &str, values: &[String], default: &str| {
        let text = if values.is_empty() {
            default.to_string()
        } else {
            values.join(", ")
        };
        HeaderValue::try_from(text)
            .map_err(|_| (field.to_string(), "not a header value".to_string()))
    };
    let origins = if filter.allow_origins.iter().any(|o| o == "*") {
        CorsOrigins::Any
    } else {
        CorsOrigins::List(
            filter
                .allow_origins
                .iter()
                .map(|o| o.to_ascii_lowercase())
                .collect(),
        )
    };
    Ok(CorsPolicy {
        origins,
        allow_methods: joined("allowMethods", &filter.allow_methods, "GET, HEAD, POST")?,
        allow_headers: joined("allowHeaders", &filter.allow_headers, "")?,
        expose_headers: (!filter.expose_headers.is_empty())
            .then(|| joined("exposeHeaders", &filter.expose_headers, ""))
            .transpose()?,
        allow_credentials: filter.allow_credentials.unwrap_or(false),
        max_age: u64::try_from(filter.max_age.unwrap_or(5)).unwrap_or(0),
    })
}

/// A Gateway API duration (`1h`, `30m`, `10s`, `500ms`, combined as `1m30s`); `0s` is none.
pub fn duration(text: &str) -> Result<Option<Duration>, String> {
    let bad = || format!("{text:?} is not a duration such as 10s, 500ms or 1m30s");
    let mut rest = text;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, length) = if rest.starts_with("ms") {
            (Duration::from_millis(number), 2)
        } else if rest.starts_with('h') {
            (Duration::from_secs(number * 3600), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(number * 60), 1)
        } else if rest.starts_with('s') {
            (Duration::from_secs(number), 1)
        } else {
            return Err(bad());
        };
        total += unit;
        rest = &rest[length..];
    }
    Ok((!total.is_zero()).then_some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_the_api_writes_them() {
        assert_eq!(duration("10s"), Ok(Some(Duration::from_secs(10))));
        assert_eq!(duration("500ms"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(duration("1m30s"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(duration("1h"), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(duration("0s"), Ok(None));
        for bad in ["", "10", "s", "1.5s", "10d", "123456s"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_keep_the_listener_port_unless_the_scheme_changes() {
        let port_of = |filter: RequestRedirect| match redirect(&filter, None, 8080)
            .expect("valid")
            .location
        {
            RedirectLocation::Rebuilt { port, .. } => port,
            RedirectLocation::Fixed(_) => panic!("rebuilt"),
        };
        assert_eq!(
            port_of(RequestRedirect::default()),
            RedirectPort::Number(8080)
        );
        assert_eq!(
            port_of(RequestRedirect {
                scheme: Some("https".into()),
                ..Default::default()
            }),
            RedirectPort::SchemeDefault
        );
        assert_eq!(
            port_of(RequestRedirect {
                scheme: Some("https".into()),
                port: Some(8443),
                ..Default::default()
            }),
            RedirectPort::Number(8443)
        );
        assert!(
            redirect(
                &RequestRedirect {
                    status_code: Some(200),
                    ..Default::default()
                },
                None,
                80
            )
            .is_err()
        );
    }
}
