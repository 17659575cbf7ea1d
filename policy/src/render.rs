//! A [`Ruleset`] as `nft list table inet portcullis` prints it (elements sorted): the golden
//! text tests and reviewers read, and what the kernel is checked against.

use std::fmt::Write;

use crate::nft::program::{MAPS, TABLE, chain_name, map_name, pod_set_names};
use crate::ruleset::{Allow, Ruleset};

/// The whole table as text.
pub fn render(ruleset: &Ruleset) -> String {
    let mut blocks: Vec<String> = Vec::new();
    for (ingress, v6) in MAPS {
        let name = map_name(v6, ingress);
        let mut elements: Vec<String> = ruleset
            .pods
            .iter()
            .filter_map(|pod| Some((pod, pod.allowance(ingress)?)))
            .flat_map(|(pod, id)| {
                let chain = chain_name(ingress, id);
                pod.ips
                    .iter()
                    .filter(move |ip| ip.is_ipv6() == v6)
                    .map(move |ip| format!("{ip} : jump {chain}"))
            })
            .collect();
        elements.sort();
        let key = if v6 { "ipv6_addr" } else { "ipv4_addr" };
        blocks.push(set_block(
            "map",
            name,
            &format!("{key} : verdict"),
            false,
            &elements,
        ));
    }
    for (name, v6) in [("known4", false), ("known6", true)] {
        let elements: Vec<String> = ruleset
            .known
            .iter()
            .filter(|ip| ip.is_ipv6() == v6)
            .map(ToString::to_string)
            .collect();
        let key = if v6 { "ipv6_addr" } else { "ipv4_addr" };
        blocks.push(set_block("set", name, key, false, &elements));
    }
    let mut chains = vec![forward_chain(ruleset)];
    // The same order as the transaction makes them: ingress allowances, then egress, by id.
    for (ingress, allows) in [(true, &ruleset.ingress), (false, &ruleset.egress)] {
        for (id, allow) in allows {
            let names = pod_set_names(id, ingress, allow);
            for (name, v6, ported) in &names {
                blocks.push(pod_set(name, *v6, *ported, allow));
            }
            chains.push(pod_chain(&chain_name(ingress, id), ingress, allow, &names));
        }
    }
    blocks.extend(chains);
    let mut text = format!("table inet {TABLE} {{\n");
    text.push_str(&blocks.join("\n"));
    text.push_str("}\n");
    text
}

fn set_block(kind: &str, name: &str, type_: &str, interval: bool, elements: &[String]) -> String {
    let mut block = format!("\t{kind} {name} {{\n\t\ttype {type_}\n");
    if interval {
        block.push_str("\t\tflags interval\n");
    }
    if !elements.is_empty() {
        let _ = writeln!(block, "\t\telements = {{ {} }}", elements.join(", "));
    }
    block.push_str("\t}\n");
    block
}

fn pod_set(name: &str, v6: bool, ported: bool, allow: &Allow) -> String {
    let address = if v6 { "ipv6_addr" } else { "ipv4_addr" };
    if ported {
        let mut elements: Vec<String> = allow
            .ported
            .iter()
            .filter(|p| p.addrs.v6 == v6)
            .map(|p| {
                let ports = if p.ports.0 == p.ports.1 {
                    p.ports.0.to_string()
                } else {
                    format!("{}-{}", p.ports.0, p.ports.1)
                };
                format!("{} . {} . {ports}", p.addrs, p.protocol)
            })
            .collect();
        elements.sort();
        let type_ = format!("{address} . inet_proto . inet_service");
        set_block("set", name, &type_, true, &elements)
    } else {
        let mut elements: Vec<String> = allow
            .peers
            .iter()
            .filter(|r| r.v6 == v6)
            .map(ToString::to_string)
            .collect();
        elements.sort();
        set_block("set", name, address, true, &elements)
    }
}

fn forward_chain(ruleset: &Ruleset) -> String {
    let mut block = "\tchain forward {\n\
                     \t\ttype filter hook forward priority filter; policy accept;\n\
                     \t\tct state established,related accept\n"
        .to_string();
    for net in &ruleset.guarded {
        let (family, set) = if net.addr().is_ipv6() {
            ("ip6", "known6")
        } else {
            ("ip", "known4")
        };
        let shown = if net.prefix_len() == net.max_prefix_len() {
            net.addr().to_string()
        } else {
            net.to_string()
        };
        for side in ["saddr", "daddr"] {
            let _ = writeln!(
                block,
                "\t\t{family} {side} {shown} {family} {side} != @{set} drop"
            );
        }
    }
    block.push_str(
        "\t\tip saddr vmap @egress4\n\
         \t\tip6 saddr vmap @egress6\n\
         \t\tip daddr vmap @ingress4\n\
         \t\tip6 daddr vmap @ingress6\n\
         \t}\n",
    );
    block
}

fn pod_chain(chain: &str, ingress: bool, allow: &Allow, sets: &[(String, bool, bool)]) -> String {
    let verdict = if ingress { "accept" } else { "return" };
    let side = if ingress { "saddr" } else { "daddr" };
    let mut block = format!("\tchain {chain} {{\n");
    for (name, v6, ported) in sets {
        let family = if *v6 { "ip6" } else { "ip" };
        if *ported {
            let _ = writeln!(
                block,
                "\t\t{family} {side} . meta l4proto . th dport @{name} {verdict}"
            );
        } else {
            let _ = writeln!(block, "\t\t{family} {side} @{name} {verdict}");
        }
    }
    let last = if allow.everything { verdict } else { "drop" };
    let _ = writeln!(block, "\t\t{last}");
    block.push_str("\t}\n");
    block
}
