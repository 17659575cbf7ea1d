//! Gateway API hostnames: a listener's and a route's, their intersection, and which listener
//! is the most specific for a name. A wildcard `*.example.com` covers one or more labels in
//! front of `example.com`, never `example.com` itself.

use portcullis_route::spec::HostMatch;

/// A hostname as a listener or route writes it, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hostname {
    /// One name.
    Exact(String),
    /// `*.suffix`: the stored suffix, without `*.`.
    Wildcard(String),
}

impl Hostname {
    /// Parses a hostname field; the error says what is wrong.
    pub fn parse(raw: &str) -> Result<Hostname, String> {
        let host = raw.to_ascii_lowercase();
        let (wildcard, name) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host.as_str()),
        };
        if name.is_empty()
            || name.len() > 253
            || name.parse::<std::net::IpAddr>().is_ok()
            || !name.split('.').all(valid_label)
        {
            return Err(format!(
                "{raw:?} is not a valid hostname (DNS labels of a-z, 0-9 and '-', optionally after \"*.\"; no IP addresses)"
            ));
        }
        Ok(if wildcard {
            Hostname::Wildcard(name.to_string())
        } else {
            Hostname::Exact(host)
        })
    }

    /// True when this (a listener's hostname) covers the name or wildcard `other`.
    fn covers(&self, other: &Hostname) -> bool {
        match (self, other) {
            (Hostname::Exact(a), Hostname::Exact(b)) => a == b,
            (Hostname::Exact(_), Hostname::Wildcard(_)) => false,
            (Hostname::Wildcard(suffix), Hostname::Exact(name)) => is_below(name, suffix),
            (Hostname::Wildcard(a), Hostname::Wildcard(b)) => a == b || is_below(b, a),
        }
    }

    /// How specific a listener hostname is: exact names first, then longer wildcards.
    fn specificity(hostname: Option<&Hostname>) -> (u8, usize) {
        match hostname {
            Some(Hostname::Exact(_)) => (2, 0),
            Some(Hostname::Wildcard(suffix)) => (1, suffix.len()),
            None => (0, 0),
        }
    }

    /// The virtual host of the routing table this hostname is.
    pub fn host_match(&self) -> HostMatch {
        match self {
            Hostname::Exact(name) => HostMatch::Exact(name.clone()),
            Hostname::Wildcard(suffix) => HostMatch::Suffix(suffix.clone()),
        }
    }
}

/// `name` ends with `.suffix` after at least one label.
fn is_below(name: &str, suffix: &str) -> bool {
    name.len() > suffix.len() + 1
        && name.ends_with(suffix)
        && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// The hostnames a route serves on a listener: the route's own narrowed to the listener's
/// (`None` in the list means every host). Empty when they do not meet.
pub fn intersect(listener: Option<&Hostname>, route: &[Hostname]) -> Vec<Option<Hostname>> {
    if route.is_empty() {
        return vec![listener.cloned()];
    }
    let Some(listener) = listener else {
        return route.iter().cloned().map(Some).collect();
    };
    let mut served = Vec::new();
    for hostname in route {
        let narrowed = if listener.covers(hostname) {
            Some(hostname.clone())
        } else if hostname.covers(listener) {
            Some(listener.clone())
        } else {
            None
        };
        if let Some(narrowed) = narrowed
            && !served.contains(&Some(narrowed.clone()))
        {
            served.push(Some(narrowed));
        }
    }
    served
}

/// True when two routes' hostnames on one listener (`None`: every host it takes) share a name.
pub fn overlap(a: &[Option<Hostname>], b: &[Option<Hostname>]) -> bool {
    a.iter().any(|x| {
        b.iter().any(|y| match (x, y) {
            (Some(x), Some(y)) => x.covers(y) || y.covers(x),
            _ => true,
        })
    })
}

/// True when a listener with `own` hostname is (one of) the most specific of `all` (the
/// hostnames of every listener on the same port) for `served`: a more specific listener owns
/// the name, and requests for it never reach a less specific one.
pub fn owns<'h>(
    own: Option<&Hostname>,
    served: Option<&Hostname>,
    all: impl IntoIterator<Item = Option<&'h Hostname>>,
) -> bool {
    let covering = |listener: Option<&Hostname>| match (listener, served) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(listener), Some(served)) => listener.covers(served),
    };
    let best = all
        .into_iter()
        .filter(|listener| covering(*listener))
        .map(Hostname::specificity)
        .max();
    best.is_none_or(|best| Hostname::specificity(own) >= best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(raw: &str) -> Hostname {
        Hostname::parse(raw).expect("valid")
    }

    #[test]
    fn wildcards_cover_any_number_of_labels_but_not_the_bare_suffix() {
        let wild = host("*.wildcard.io");
        assert!(wild.covers(&host("foo.wildcard.io")));
        assert!(wild.covers(&host("foo.bar.wildcard.io")));
        assert!(!wild.covers(&host("wildcard.io")));
        assert!(!wild.covers(&host("foowildcard.io")));
        assert!(wild.covers(&host("*.bar.wildcard.io")));
    }

    #[test]
    fn intersections_narrow_to_the_more_specific_side() {
        let cases: &[(Option<&str>, &[&str], &[&str])] = &[
            (None, &[], &["*"]),
            (Some("very.specific.com"), &[], &["very.specific.com"]),
            (
                Some("very.specific.com"),
                &["non.matching.com", "*.specific.com"],
                &["very.specific.com"],
            ),
            (
                Some("*.wildcard.io"),
                &["wildcard.io", "foo.wildcard.io", "foo.bar.wildcard.io"],
                &["foo.wildcard.io", "foo.bar.wildcard.io"],
            ),
            (Some("*.wildcard.io"), &["*.io"], &["**.wildcard.io"]),
            (
                Some("*.anotherwildcard.io"),
                &["*.anotherwildcard.io"],
                &["**.anotherwildcard.io"],
            ),
            (
                Some("very.specific.com"),
                &["specific.but.wrong.com", "wildcard.io"],
                &[],
            ),
        ];
        for (listener, route, expected) in cases {
            let listener = listener.map(host);
            let route: Vec<Hostname> = route.iter().map(|r| host(r)).collect();
            let served: Vec<String> = intersect(listener.as_ref(), &route)
                .iter()
                .map(|h| match h {
                    Some(h) => h.host_match().to_string(),
                    None => "*".to_string(),
                })
                .collect();
            assert_eq!(served, *expected, "{listener:?} {route:?}");
        }
    }

    #[test]
    fn the_most_specific_listener_owns_a_name() {
        let all = [
            Some(host("bar.com")),
            Some(host("foo.bar.com")),
            Some(host("*.bar.com")),
            None,
        ];
        let wild = host("*.bar.com");
        assert!(!owns(
            Some(&wild),
            Some(&host("foo.bar.com")),
            all.iter().map(Option::as_ref)
        ));
        assert!(owns(
            Some(&host("foo.bar.com")),
            Some(&host("foo.bar.com")),
            all.iter().map(Option::as_ref)
        ));
        assert!(owns(
            Some(&wild),
            Some(&host("baz.bar.com")),
            all.iter().map(Option::as_ref)
        ));
        assert!(!owns(
            None,
            Some(&host("baz.bar.com")),
            all.iter().map(Option::as_ref)
        ));
        assert!(owns(
            None,
            Some(&host("other.org")),
            all.iter().map(Option::as_ref)
        ));
        assert!(owns(None, None, all.iter().map(Option::as_ref)));
        assert!(Hostname::parse("10.0.0.1").is_err());
        assert!(Hostname::parse("a..b").is_err());
        assert!(Hostname::parse("*").is_err());
    }
}
