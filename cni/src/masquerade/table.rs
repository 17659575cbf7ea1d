//! A [`MasqueradePlan`] as its nftables table model: `inet portcullis-cni-NAME` (or the
//! node's table) with the pods' addresses in a set per family and a NAT `postrouting` chain
//! at `srcnat` priority where, for each source (the set, each pod subnet), exempt
//! destinations return and the rest is masqueraded. Both the transaction (`apply.rs`) and
//! the plan's text come from it.

use std::net::IpAddr;

use ipnet::IpNet;
use portcullis_nft::{
    BaseChain, Chain, ChainPolicy, ChainType, Element, Family, Field, Hook, KeyType, Rule, Set,
    Table, TableFamily, Verdict,
};

use super::plan::{FamilyRules, MasqueradePlan};

/// The `srcnat` priority of a NAT postrouting chain.
const SRCNAT_PRIORITY: i32 = 100;

/// The table the plan asks for (sets and chain even when it is empty: an empty plan removes
/// the table instead, see [`MasqueradePlan::is_empty`]).
pub fn masquerade_table(plan: &MasqueradePlan) -> Table {
    let mut table = Table::new(TableFamily::Inet, &plan.table);
    let mut chain = Chain::base(
        "postrouting",
        BaseChain {
            kind: ChainType::Nat,
            hook: Hook::Postrouting,
            priority: SRCNAT_PRIORITY,
            policy: ChainPolicy::Accept,
        },
    );
    add_family(&mut table, &mut chain, Family::Ipv4, &plan.v4);
    add_family(&mut table, &mut chain, Family::Ipv6, &plan.v6);
    table.chains.push(chain);
    table
}

/// The set's name for a family: `pods4` or `pods6`.
fn set_name(family: Family) -> String {
    format!("pods{}", family.digit())
}

/// One family's set and rules; nothing when the family is empty.
fn add_family<A, N>(table: &mut Table, chain: &mut Chain, family: Family, rules: &FamilyRules<A, N>)
where
    A: Copy + Into<IpAddr>,
    N: Copy + Into<IpNet>,
{
    let set = set_name(family);
    if !rules.pods.is_empty() {
        let elements = rules
            .pods
            .iter()
            .map(|ip| Element::addr((*ip).into()))
            .collect();
        table
            .sets
            .push(Set::new(&set, KeyType::addr(family)).with_elements(elements));
    }
    let source = Field::Source(family);
    let from_set = (!rules.pods.is_empty())
        .then(|| Rule::new().family(family).field_in_set(source, &set, false));
    let from_subnets = rules.pod_subnets.iter().map(|net| {
        Rule::new()
            .family(family)
            .field_in_net(source, (*net).into())
    });
    for from in from_set.into_iter().chain(from_subnets) {
        for net in &rules.exempt {
            let exempt = from
                .clone()
                .field_in_net(Field::Destination(family), (*net).into());
            chain.rules.push(exempt.verdict(Verdict::Return));
        }
        chain.rules.push(from.masquerade());
    }
}
