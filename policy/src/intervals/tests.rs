#![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

use super::*;

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn shown(ranges: &[AddrRange]) -> Vec<String> {
    ranges.iter().map(ToString::to_string).collect()
}

#[test]
fn a_cidr_minus_its_exceptions() {
    let cases: [(&str, &[&str], &[&str]); 5] = [
        ("10.0.0.0/8", &[], &["10.0.0.0/8"]),
        (
            "10.0.0.0/8",
            &["10.1.0.0/16"],
            &["10.0.0.0/16", "10.2.0.0-10.255.255.255"],
        ),
        (
            "10.0.0.0/30",
            &["10.0.0.1/32", "10.0.0.2/32"],
            &["10.0.0.0", "10.0.0.3"],
        ),
        (
            "0.0.0.0/0",
            &["10.0.0.0/8"],
            &["0.0.0.0-9.255.255.255", "11.0.0.0-255.255.255.255"],
        ),
        ("fd00::/64", &["fd00::/65"], &["fd00::8000:0:0:0/65"]),
    ];
    for (cidr, except, expected) in cases {
        let except: Vec<IpNet> = except.iter().map(|e| net(e)).collect();
        assert_eq!(
            shown(&cidr_minus(net(cidr), &except)),
            expected,
            "{cidr} - {except:?}"
        );
    }
}

#[test]
fn merge_joins_overlapping_and_adjacent_ranges_per_family() {
    let merged = merge(vec![
        AddrRange::cidr(net("10.0.1.0/24")),
        AddrRange::cidr(net("10.0.0.0/24")),
        AddrRange::single("10.0.0.7".parse().unwrap()),
        AddrRange::cidr(net("10.0.3.0/24")),
        AddrRange::cidr(net("::/0")),
    ]);
    assert_eq!(shown(&merged), ["10.0.0.0/23", "10.0.3.0/24", "::/0"]);
}

#[test]
fn overlapping_boxes_become_disjoint_and_cover_the_same_points() {
    let a = AddrRange::cidr(net("10.0.0.0/8"));
    let b = AddrRange::cidr(net("10.1.0.0/16"));
    let c = AddrRange::cidr(net("192.168.0.0/24"));
    let boxes = [(a, (80, 80)), (b, (80, 90)), (c, (85, 85))];
    let out = disjoint_boxes(&boxes);
    let text: Vec<String> = out
        .iter()
        .map(|(r, p)| format!("{r} {}-{}", p.0, p.1))
        .collect();
    assert_eq!(
        text,
        [
            "10.0.0.0/8 80-80",
            "10.1.0.0/16 81-84",
            "10.1.0.0/16 85-85",
            "10.1.0.0/16 86-90",
            "192.168.0.0/24 85-85",
        ]
    );
    // Disjoint: no two boxes share a point.
    for (i, (ra, pa)) in out.iter().enumerate() {
        for (rb, pb) in &out[i + 1..] {
            let addresses = ra.v6 == rb.v6 && ra.start <= rb.end && rb.start <= ra.end;
            let ports = pa.0 <= pb.1 && pb.0 <= pa.1;
            assert!(!(addresses && ports), "{ra} {pa:?} overlaps {rb} {pb:?}");
        }
    }
    // Same points: sample every port from 79 to 91 at a few addresses.
    let probes = ["10.0.0.1", "10.1.2.3", "192.168.0.9", "11.0.0.1"];
    for port in 79..=91u16 {
        for probe in probes {
            let n = AddrRange::single(probe.parse().unwrap()).start;
            let inside = |set: &[(AddrRange, PortRange)]| {
                set.iter()
                    .any(|(r, p)| r.start <= n && n <= r.end && p.0 <= port && port <= p.1)
            };
            assert_eq!(inside(&boxes), inside(&out), "{probe}:{port}");
        }
    }
}
