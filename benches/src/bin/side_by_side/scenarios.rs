//! What is measured: the protocols and the scenarios, in the order they run.

pub use portcullis_benches::harness::protocol::Protocol;

/// One measured situation.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Its row in the report.
    pub name: &'static str,
    /// Its label in charts.
    pub short: &'static str,
    /// Protocol.
    pub protocol: Protocol,
    /// Response body size.
    pub body: usize,
    /// Routes configured.
    pub routes: usize,
}

/// The scenarios, grouped so the backend (body size) and the proxies (routes) restart rarely.
/// The first (HTTP/1.1, 0 B, 1 route) sets the open-loop rates.
pub const SCENARIOS: [Scenario; 7] = [
    Scenario {
        name: "HTTP/1.1, 0 B",
        short: "h1 0 B",
        protocol: Protocol::H1,
        body: 0,
        routes: 1,
    },
    Scenario {
        name: "HTTPS, 0 B",
        short: "https 0 B",
        protocol: Protocol::Https,
        body: 0,
        routes: 1,
    },
    Scenario {
        name: "HTTP/2, 0 B",
        short: "h2 0 B",
        protocol: Protocol::H2,
        body: 0,
        routes: 1,
    },
    Scenario {
        name: "HTTP/1.1, 0 B, 10,000 routes",
        short: "h1 10k routes",
        protocol: Protocol::H1,
        body: 0,
        routes: 10_000,
    },
    Scenario {
        name: "HTTP/1.1, 1 KiB",
        short: "h1 1 KiB",
        protocol: Protocol::H1,
        body: 1024,
        routes: 1,
    },
    Scenario {
        name: "HTTP/1.1, 64 KiB",
        short: "h1 64 KiB",
        protocol: Protocol::H1,
        body: 65_536,
        routes: 1,
    },
    Scenario {
        name: "HTTPS, 64 KiB",
        short: "https 64 KiB",
        protocol: Protocol::Https,
        body: 65_536,
        routes: 1,
    },
];
