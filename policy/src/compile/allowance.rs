//! What the rules of the policies isolating a pod allow it, in one direction: each rule's
//! peers times its ports, made into the disjoint pieces the kernel's sets take.

use std::collections::BTreeMap;

use crate::intervals::{AddrRange, PortRange, disjoint_boxes, merge};
use crate::model::{Pod, Protocol};
use crate::policy::{PortMatch, PortRule};
use crate::ruleset::{Allow, PortedPeers};

use super::Direction;
use super::peers::Resolved;

/// Adds what one rule (its resolved peers on its ports) allows `pod` to `builder`.
pub(super) fn add_rule(
    builder: &mut AllowBuilder,
    pod: &Pod,
    ports: Option<&[PortRule]>,
    peers: &Resolved,
    direction: Direction,
) {
    let Some(ports) = ports else {
        if peers.everyone {
            builder.everything = true;
        } else {
            builder.peers.extend(peers.addresses.iter().copied());
        }
        return;
    };
    for port in ports {
        let protocol = port.protocol;
        match &port.port {
            PortMatch::All => builder.add_boxes(protocol, &peers.addresses, (0, u16::MAX)),
            PortMatch::Range(low, high) => {
                builder.add_boxes(protocol, &peers.addresses, (*low, *high));
            }
            PortMatch::Named(name) => match direction {
                // The destination is the selected pod itself.
                Direction::Ingress => {
                    if let Some(number) = pod.named_port(name, protocol) {
                        builder.add_boxes(protocol, &peers.addresses, (number, number));
                    }
                }
                // The destination is each peer pod, which may name a different number.
                Direction::Egress => {
                    for peer in &peers.pods {
                        if let Some(number) = peer.named_port(name, protocol) {
                            let own: Vec<AddrRange> =
                                peer.ips.iter().map(|ip| AddrRange::single(*ip)).collect();
                            builder.add_boxes(protocol, &own, (number, number));
                        }
                    }
                }
            },
        }
    }
}

/// Collects one direction's allowances before they are made disjoint.
#[derive(Default)]
pub(super) struct AllowBuilder {
    everything: bool,
    peers: Vec<AddrRange>,
    boxes: BTreeMap<Protocol, Vec<(AddrRange, PortRange)>>,
}

impl AllowBuilder {
    fn add_boxes(&mut self, protocol: Protocol, addresses: &[AddrRange], ports: PortRange) {
        let boxes = self.boxes.entry(protocol).or_default();
        boxes.extend(addresses.iter().map(|a| (*a, ports)));
    }

    pub(super) fn finish(self) -> Allow {
        if self.everything {
            return Allow {
                everything: true,
                ..Allow::default()
            };
        }
        let mut ported: Vec<PortedPeers> = self
            .boxes
            .into_iter()
            .flat_map(|(protocol, boxes)| {
                disjoint_boxes(&boxes)
                    .into_iter()
                    .map(move |(addrs, ports)| PortedPeers {
                        addrs,
                        protocol,
                        ports,
                    })
            })
            .collect();
        ported.sort_unstable();
        Allow {
            everything: false,
            peers: merge(self.peers),
            ported,
        }
    }
}
