use super::*;

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn defaults_follow_host_local() {
    let cases = [
        // subnet, start, end, gateway
        ("10.22.0.0/16", "10.22.0.1", "10.22.255.254", "10.22.0.1"),
        ("10.22.3.77/24", "10.22.3.1", "10.22.3.254", "10.22.3.1"),
        (
            "192.168.0.0/30",
            "192.168.0.1",
            "192.168.0.2",
            "192.168.0.1",
        ),
        ("fd00::/120", "fd00::1", "fd00::ff", "fd00::1"),
    ];
    for (subnet, start, end, gateway) in cases {
        let range = Range::new(net(subnet), None, None, None).unwrap();
        assert_eq!(
            (range.start, range.end, range.gateway),
            (ip(start), ip(end), ip(gateway)),
            "{subnet}"
        );
    }
}

#[test]
fn explicit_bounds_are_checked() {
    let subnet = net("10.0.0.0/24");
    let ok = Range::new(
        subnet,
        Some(ip("10.0.0.10")),
        Some(ip("10.0.0.20")),
        Some(ip("10.0.0.254")),
    );
    assert_eq!(ok.unwrap().size(), 11);
    let problems = [
        (
            Some("10.0.1.5"),
            None,
            None,
            "rangeStart 10.0.1.5 is not a usable address of 10.0.0.0/24",
        ),
        (
            Some("10.0.0.0"),
            None,
            None,
            "rangeStart 10.0.0.0 is not a usable address of 10.0.0.0/24",
        ),
        (
            None,
            Some("10.0.0.255"),
            None,
            "rangeEnd 10.0.0.255 is not a usable address of 10.0.0.0/24",
        ),
        (
            Some("10.0.0.9"),
            Some("10.0.0.8"),
            None,
            "rangeStart 10.0.0.9 is after rangeEnd 10.0.0.8",
        ),
        (
            None,
            None,
            Some("10.9.9.9"),
            "gateway 10.9.9.9 is not a usable address of 10.0.0.0/24",
        ),
    ];
    for (start, end, gateway, message) in problems {
        let problem = Range::new(subnet, start.map(ip), end.map(ip), gateway.map(ip)).unwrap_err();
        assert_eq!(problem.to_string(), message);
    }
}

#[test]
fn subnets_without_room_are_refused() {
    for subnet in ["10.0.0.0/31", "10.0.0.7/32", "fd00::/128"] {
        let problem = Range::new(net(subnet), None, None, None).unwrap_err();
        assert!(
            matches!(problem, RangeProblem::TooSmall(_)),
            "{subnet}: {problem}"
        );
    }
}

#[test]
fn after_wraps_inside_the_range() {
    let range = Range::new(
        net("10.0.0.0/29"),
        Some(ip("10.0.0.2")),
        Some(ip("10.0.0.4")),
        None,
    )
    .unwrap();
    assert_eq!(range.after(ip("10.0.0.2")), ip("10.0.0.3"));
    assert_eq!(range.after(ip("10.0.0.4")), ip("10.0.0.2"));
    assert_eq!(
        range.after(ip("10.0.0.6")),
        ip("10.0.0.2"),
        "outside: back to the start"
    );
}

#[test]
fn overlap_needs_the_same_family_and_shared_addresses() {
    let a = Range::new(net("10.0.0.0/24"), None, Some(ip("10.0.0.100")), None).unwrap();
    let b = Range::new(net("10.0.0.0/24"), Some(ip("10.0.0.100")), None, None).unwrap();
    let c = Range::new(net("10.0.0.0/24"), Some(ip("10.0.0.101")), None, None).unwrap();
    let v6 = Range::new(net("fd00::/64"), None, None, None).unwrap();
    assert!(a.overlaps(&b));
    assert!(!a.overlaps(&c));
    assert!(!a.overlaps(&v6));
}
