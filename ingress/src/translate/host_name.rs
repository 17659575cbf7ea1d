//! Parses `spec.rules[].host` into a [`HostMatch`], with the Kubernetes validation rules.

use std::net::IpAddr;

use portcullis_route::spec::HostMatch;

/// A rule's host: empty or absent means every host; `*.foo.com` is a one-label wildcard;
/// anything else must be a DNS name (compared case-insensitively, so stored lower case).
pub fn parse_host(raw: Option<&str>) -> Result<HostMatch, String> {
    let host = match raw {
        None | Some("") => return Ok(HostMatch::Any),
        Some(host) => host.to_ascii_lowercase(),
    };
    if host.parse::<IpAddr>().is_ok() {
        return Err(format!(
            "{host:?} is an IP address; hosts must be DNS names (leave host empty to match every host)"
        ));
    }
    if host.contains(':') {
        return Err(format!("{host:?} has a port; hosts must not carry one"));
    }
    let (wildcard, name) = match host.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, host.as_str()),
    };
    validate_dns_name(name).map_err(|why| format!("{host:?} is not a valid host: {why}"))?;
    if wildcard {
        Ok(HostMatch::Wildcard(name.to_string()))
    } else {
        Ok(HostMatch::Exact(host))
    }
}

fn validate_dns_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty name");
    }
    if name.len() > 253 {
        return Err("longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters");
        }
        if label.contains('*') {
            return Err("'*' is only allowed as the whole first label, as in *.example.com");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("only letters, digits, '-' and '.' are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with '-'");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates_hosts() {
        let exact = |h: &str| Ok(HostMatch::Exact(h.to_string()));
        let wildcard = |h: &str| Ok(HostMatch::Wildcard(h.to_string()));
        let cases: [(Option<&str>, Result<HostMatch, ()>); 14] = [
            (None, Ok(HostMatch::Any)),
            (Some(""), Ok(HostMatch::Any)),
            (Some("foo.bar.com"), exact("foo.bar.com")),
            (Some("Foo.Bar.COM"), exact("foo.bar.com")),
            (Some("localhost"), exact("localhost")),
            (Some("*.foo.com"), wildcard("foo.com")),
            (Some("*"), Err(())),
            (Some("*.*.foo.com"), Err(())),
            (Some("foo.*.com"), Err(())),
            (Some("10.0.0.1"), Err(())),
            (Some("foo.com:80"), Err(())),
            (Some("foo..com"), Err(())),
            (Some("-foo.com"), Err(())),
            (Some("foo_bar.com"), Err(())),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_host(raw).map_err(|_| ()), want, "host {raw:?}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let error = parse_host(Some("10.1.2.3")).unwrap_err();
        assert!(error.contains("IP address"), "{error}");
        let error = parse_host(Some("a.*.com")).unwrap_err();
        assert!(error.contains("first label"), "{error}");
    }
}
