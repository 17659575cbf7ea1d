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
    /// The one route is the filtered one (path rewrite, request header, 10% canary), see
    /// `configs::Setup::filters`; `routes` is then 1.
    pub filters: bool,
}

/// The scenarios, grouped so the backend (body size) and the proxies (routes, filters) restart
/// rarely: a group's scenarios must be next to each other. The first (HTTP/1.1, 0 B, 1 route)
/// sets the open-loop rates and is the plain route the filtered one is compared with.
pub const SCENARIOS: [Scenario; 8] = [
    Scenario {
        name: "HTTP/1.1, 0 B",
        short: "h1 0 B",
        protocol: Protocol::H1,
        body: 0,
        routes: 1,
        filters: false,
    },
    Scenario {
        name: "HTTPS, 0 B",
        short: "https 0 B",
        protocol: Protocol::Https,
        body: 0,
        routes: 1,
        filters: false,
    },
    Scenario {
        name: "HTTP/2, 0 B",
        short: "h2 0 B",
        protocol: Protocol::H2,
        body: 0,
        routes: 1,
        filters: false,
    },
    Scenario {
        name: "HTTP/1.1, 0 B, 10,000 routes",
        short: "h1 10k routes",
        protocol: Protocol::H1,
        body: 0,
        routes: 10_000,
        filters: false,
    },
    Scenario {
        name: "HTTP/1.1, 0 B, rewrite + header + canary",
        short: "h1 filters",
        protocol: Protocol::H1,
        body: 0,
        routes: 1,
        filters: true,
    },
    Scenario {
        name: "HTTP/1.1, 1 KiB",
        short: "h1 1 KiB",
        protocol: Protocol::H1,
        body: 1024,
        routes: 1,
        filters: false,
    },
    Scenario {
        name: "HTTP/1.1, 64 KiB",
        short: "h1 64 KiB",
        protocol: Protocol::H1,
        body: 65_536,
        routes: 1,
        filters: false,
    },
    Scenario {
        name: "HTTPS, 64 KiB",
        short: "https 64 KiB",
        protocol: Protocol::Https,
        body: 65_536,
        routes: 1,
        filters: false,
    },
];

/// The plain HTTP/1.1, 0 B, 1 route scenario.
pub const PLAIN: usize = 0;

/// The filtered route's scenario: [`PLAIN`] but for its route.
pub const FILTERED: usize = 4;

/// What the proxies are started with for a scenario: (routes, filters).
pub fn routing(scenario: &Scenario) -> (usize, bool) {
    (scenario.routes, scenario.filters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filtered_differs_from_plain_only_in_its_route() {
        let (plain, filtered) = (&SCENARIOS[PLAIN], &SCENARIOS[FILTERED]);
        assert!(filtered.filters && !plain.filters);
        assert_eq!(SCENARIOS.iter().filter(|s| s.filters).count(), 1);
        assert_eq!(
            (filtered.protocol, filtered.body, filtered.routes),
            (plain.protocol, plain.body, plain.routes)
        );
    }

    /// The closed loop starts the backend once per body size and each proxy once per routing
    /// within it, in order: each group must be in one piece.
    #[test]
    fn groups_are_contiguous() {
        let mut bodies: Vec<usize> = SCENARIOS.iter().map(|s| s.body).collect();
        bodies.dedup();
        let mut groups: Vec<(usize, (usize, bool))> =
            SCENARIOS.iter().map(|s| (s.body, routing(s))).collect();
        groups.dedup();
        let (mut distinct_bodies, mut distinct_groups) = (bodies.clone(), groups.clone());
        distinct_bodies.sort();
        distinct_bodies.dedup();
        distinct_groups.sort();
        distinct_groups.dedup();
        assert_eq!(bodies.len(), distinct_bodies.len(), "{bodies:?}");
        assert_eq!(groups.len(), distinct_groups.len(), "{groups:?}");
    }
}
