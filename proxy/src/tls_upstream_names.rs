//! The names TLS upstream requests carry. A backend spoken to over TLS (`backend-protocol:
//! HTTPS`/`GRPCS`) gets the Service's host as SNI (`<service>.<namespace>.svc`), while the
//! connection goes to one endpoint's address. The upstream client only sees the request URI,
//! so the URI host holds both: `<address>.<service host>`, the first label being the endpoint's
//! address with `-` for each `.` (IPv4) or `:` (IPv6), as Kubernetes writes pod addresses in DNS
//! names. The connector's resolver reads the address back; the TLS layer sends the rest.

use std::net::{IpAddr, SocketAddr};

/// `<service>.<namespace>.svc`, the SNI of a Service's endpoints.
pub fn service_host(service: &str, namespace: &str) -> String {
    format!("{service}.{namespace}.svc")
}

/// The URI authority naming `endpoint` under `service_host`.
pub fn endpoint_authority(endpoint: SocketAddr, service_host: &str) -> String {
    let address = match endpoint.ip() {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => v6.to_string().replace(':', "-"),
    };
    format!("{address}.{service_host}:{}", endpoint.port())
}

/// The endpoint address and the service host of a URI host made by [`endpoint_authority`];
/// `None` for any other host.
pub fn split_host(host: &str) -> Option<(IpAddr, &str)> {
    let (first, service_host) = host.split_once('.')?;
    if service_host.is_empty() {
        return None;
    }
    let address = first
        .replace('-', ".")
        .parse::<IpAddr>()
        .or_else(|_| first.replace('-', ":").parse::<IpAddr>())
        .ok()?;
    Some((address, service_host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_survive_the_round_trip_and_other_hosts_are_not_read() {
        let cases: [(&str, &str); 3] = [
            ("10.1.2.3:8443", "10-1-2-3.web.shop.svc:8443"),
            ("[2001:db8::1]:443", "2001-db8--1.web.shop.svc:443"),
            ("[::1]:8443", "--1.web.shop.svc:8443"),
        ];
        for (endpoint, authority) in cases {
            let endpoint: SocketAddr = endpoint.parse().unwrap();
            let made = endpoint_authority(endpoint, &service_host("web", "shop"));
            assert_eq!(made, authority);
            let host = made.rsplit_once(':').unwrap().0;
            assert_eq!(split_host(host), Some((endpoint.ip(), "web.shop.svc")));
        }
        for host in [
            "web.shop.svc",
            "10.1.2.3",
            "example.com",
            "10-1-2-3.",
            "localhost",
        ] {
            assert_eq!(split_host(host), None, "{host}");
        }
    }
}
