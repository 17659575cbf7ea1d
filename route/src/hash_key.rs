//! The key `upstream-hash-by` hashes a request by: its parts read from the request, never an
//! evaluated expression.

use std::net::IpAddr;

use http::HeaderMap;
use http::uri::PathAndQuery;

use crate::cookies::cookie_value;
use crate::spec::HashPart;
use crate::table::query_value;

/// What a hash key may read of a request.
#[derive(Debug, Clone, Copy)]
pub struct HashFacts<'a> {
    /// Path and query.
    pub target: &'a PathAndQuery,
    /// The request's host.
    pub host: &'a str,
    /// The client address.
    pub client: IpAddr,
    /// The headers (and so cookies).
    pub headers: &'a HeaderMap,
}

/// FNV-1a over the parts, each followed by a separator byte (so `ab`+`c` and `a`+`bc`
/// differ); a missing value hashes as empty.
pub fn hash_key(parts: &[HashPart], facts: &HashFacts<'_>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let feed = |hash: u64, bytes: &[u8]| {
        bytes
            .iter()
            .chain(std::iter::once(&0xff))
            .fold(hash, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
    };
    parts.iter().fold(OFFSET, |hash, part| match part {
        HashPart::Text(text) => feed(hash, text.as_bytes()),
        HashPart::RequestUri => feed(hash, facts.target.as_str().as_bytes()),
        HashPart::Uri => feed(hash, facts.target.path().as_bytes()),
        HashPart::RemoteAddr => feed(hash, facts.client.to_string().as_bytes()),
        HashPart::Host => feed(hash, facts.host.as_bytes()),
        HashPart::Header(name) => feed(
            hash,
            facts.headers.get(name).map_or(&[][..], |v| v.as_bytes()),
        ),
        HashPart::Cookie(name) => feed(
            hash,
            cookie_value(facts.headers, name).unwrap_or("").as_bytes(),
        ),
        HashPart::Arg(name) => {
            let value = facts.target.query().and_then(|q| query_value(q, name));
            feed(hash, value.unwrap_or("").as_bytes())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    #[test]
    fn keys_follow_the_parts_they_read() {
        let target = PathAndQuery::from_static("/a?user=7");
        let mut headers = HeaderMap::new();
        headers.insert("x-user", HeaderValue::from_static("alice"));
        let facts = HashFacts {
            target: &target,
            host: "shop.test",
            client: "10.0.0.1".parse().expect("valid"),
            headers: &headers,
        };
        let by_header = [HashPart::Header(HeaderName::from_static("x-user"))];
        let key = hash_key(&by_header, &facts);
        let other_target = PathAndQuery::from_static("/b");
        assert_eq!(
            key,
            hash_key(
                &by_header,
                &HashFacts {
                    target: &other_target,
                    ..facts
                }
            )
        );
        let by_uri = [HashPart::RequestUri];
        assert_ne!(
            hash_key(&by_uri, &facts),
            hash_key(
                &by_uri,
                &HashFacts {
                    target: &other_target,
                    ..facts
                }
            )
        );
        let split = |a: &str, b: &str| [HashPart::Text(a.into()), HashPart::Text(b.into())];
        assert_ne!(
            hash_key(&split("ab", "c"), &facts),
            hash_key(&split("a", "bc"), &facts)
        );
        assert_ne!(
            hash_key(&[HashPart::Arg("user".into())], &facts),
            hash_key(&[HashPart::Arg("none".into())], &facts)
        );
    }
}
