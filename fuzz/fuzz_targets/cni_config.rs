//! The CNI plugin's stdin → `portcullis_cni::config::cni_version_of`, `parse_bridge_config` and
//! `gc::valid_attachments`, then what an ADD does with a configuration, minus netlink and disk:
//! allocate from its ranges (in memory), plan the `ipMasq` table, and encode the transaction
//! that would replace it. Checks: no panic; what the parser accepts holds what its
//! documentation promises (ranges inside their subnets, interface names the kernel takes);
//! allocated addresses lie in their range and are distinct; the bytes encode or give an error.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use portcullis_cni::config::{
    BridgeConfig, check_interface_name, cni_version_of, parse_bridge_config,
};
use portcullis_cni::gc::valid_attachments;
use portcullis_cni::ipam::{MemoryStore, Store, allocate};
use portcullis_cni::masquerade::{masquerade_table, plan_masquerade};
use portcullis_fuzz::debug;
use portcullis_nft::Transaction;

fuzz_target!(|data: &[u8]| {
    assert!(!cni_version_of(data).is_empty());
    let attachments = valid_attachments(data);
    debug(|| format!("{attachments:?}"));
    let config = parse_bridge_config(data);
    debug(|| format!("{config:?}"));
    match config {
        Ok(config) => check_config(&config),
        Err(error) => {
            let _ = error.to_string();
        }
    }
});

fn check_config(config: &BridgeConfig) {
    assert!(!config.name.is_empty() && !config.name.contains('/'));
    check_interface_name(&config.bridge).expect("the parser checked the bridge name");
    assert!(config.ipam.data_dir.is_absolute());
    assert!(!config.is_default_gateway || config.is_gateway);
    for set in &config.ipam.range_sets {
        assert!(!set.is_empty(), "an empty range set was accepted");
        for range in set {
            assert_eq!(
                range.subnet,
                range.subnet.trunc(),
                "host bits left in {range:?}"
            );
            assert!(
                range.contains(range.start) && range.contains(range.end),
                "{range:?}"
            );
            assert!(range.subnet.contains(&range.gateway), "{range:?}");
            assert!(range.size() >= 1);
            assert!(
                range.contains(range.after(range.end)),
                "after() left {range:?}"
            );
        }
    }

    // Two ADDs and a repeated one, against an in-memory store.
    let sets = &config.ipam.range_sets;
    let mut store = MemoryStore::default();
    let first = allocate(&mut store, sets, "container-a", "eth0");
    let second = allocate(&mut store, sets, "container-b", "eth0");
    if let Ok(first) = &first {
        assert_eq!(first.len(), sets.len());
        for allocated in first {
            assert!(
                allocated.range.contains(allocated.ip),
                "{allocated:?} outside its range"
            );
            assert_ne!(
                allocated.range.gateway, allocated.ip,
                "handed out the gateway"
            );
        }
        let again = allocate(&mut store, sets, "container-a", "eth0").expect("a repeated ADD");
        let ips = |list: &[portcullis_cni::ipam::Allocated]| -> Vec<_> {
            list.iter().map(|a| a.ip).collect()
        };
        assert_eq!(
            ips(&again),
            ips(first),
            "a repeated ADD got other addresses"
        );
    }
    let attachments = store.attachments().expect("memory");
    let distinct: BTreeSet<_> = attachments.iter().map(|a| a.ip).collect();
    assert_eq!(distinct.len(), attachments.len(), "one address held twice");
    if let (Ok(first), Ok(second)) = (&first, &second) {
        for (a, b) in first.iter().zip(second) {
            assert_ne!(a.ip, b.ip, "two attachments got the same address");
        }
    }

    // ipMasq: the table this network's attachments need, as the bytes sent to the kernel.
    let plan = plan_masquerade(&config.name, sets, &attachments);
    if !plan.is_empty() {
        let table = masquerade_table(&plan);
        let text = portcullis_nft::render(&table);
        debug(|| text.clone());
        let _ = Transaction::replace(&table).encode();
    }
}
