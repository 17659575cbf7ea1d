//! STATUS (CNI 1.1): can an ADD succeed now? Not if any range set has no free address.

use crate::error::{CniError, ErrorCode};
use crate::ipam::{RangeSet, Store, store_failure};

/// Ok if every range set has a free address (gateways aside), else error 50 naming the set.
pub fn check_status(store: &impl Store, sets: &[RangeSet]) -> Result<(), CniError> {
    let held = store.attachments().map_err(store_failure)?;
    for (index, set) in sets.iter().enumerate() {
        let capacity: u128 = set
            .iter()
            .map(|range| {
                let gateway_inside = set.iter().filter(|r| range.contains(r.gateway)).count();
                range.size().saturating_sub(gateway_inside as u128)
            })
            .sum();
        let used = held
            .iter()
            .filter(|a| set.iter().any(|r| r.contains(a.ip)))
            .count() as u128;
        if used >= capacity {
            return Err(CniError::new(
                ErrorCode::NotAvailable,
                format!("ipam range set {index}: all {capacity} addresses are in use"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::{MemoryStore, Range, allocate};

    #[test]
    fn unavailable_exactly_when_a_set_is_full() {
        let range = Range::new("10.0.0.0/29".parse().unwrap(), None, None, None).unwrap();
        let sets = vec![vec![range]];
        let mut store = MemoryStore::default();
        for n in 0..5 {
            assert!(check_status(&store, &sets).is_ok(), "{n} used");
            allocate(&mut store, &sets, &format!("c{n}"), "eth0").unwrap();
        }
        let error = check_status(&store, &sets).unwrap_err();
        assert_eq!(error.code, ErrorCode::NotAvailable);
        assert!(error.msg.contains("all 5 addresses"), "{}", error.msg);
    }
}
