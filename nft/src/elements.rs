//! Set elements as the kernel takes them, from the model's ranges: a single-field interval
//! set holds the start of each range and, flagged as an end, the value after it (with a
//! leading end marker at zero when the first range starts above it), as nft sends them; a
//! concatenated interval set holds each range's two ends (`KEY`, `KEY_END`), each field
//! padded to 4 bytes; other sets hold keys, maps keys with their verdicts.

use crate::expr::Verdict;
use crate::set::{Element, Interval, Set, low_bytes, number};
use crate::wire::{Attrs, attr};

/// `NFT_SET_ELEM_INTERVAL_END`.
const ELEM_INTERVAL_END: u32 = 0x1;

/// One element of a netlink element list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum KernelElement {
    /// A key; `end` marks the end of an interval.
    Key { key: Vec<u8>, end: bool },
    /// A range of a concatenated interval set: both ends inclusive.
    Range { from: Vec<u8>, to: Vec<u8> },
    /// A map element.
    Map { key: Vec<u8>, verdict: Verdict },
}

impl KernelElement {
    /// Ends an interval begun by the element before it, so the two go in one message.
    pub(crate) fn ends_interval(&self) -> bool {
        matches!(self, KernelElement::Key { end: true, .. })
    }

    /// `delete`: a map element is named by its key alone.
    pub(crate) fn encode(&self, list: &mut Attrs<'_>, delete: bool) {
        list.nest(attr::LIST_ELEM, |e| match self {
            KernelElement::Key { key, end } => {
                e.value(attr::ELEM_KEY, key);
                if *end {
                    e.u32(attr::ELEM_FLAGS, ELEM_INTERVAL_END);
                }
            }
            KernelElement::Range { from, to } => {
                e.value(attr::ELEM_KEY, from).value(attr::ELEM_KEY_END, to);
            }
            KernelElement::Map { key, verdict } => {
                e.value(attr::ELEM_KEY, key);
                if !delete {
                    verdict.encode(e, attr::ELEM_DATA);
                }
            }
        });
    }
}

/// Every kernel element of `elements` in `set`, as a whole set holds them.
pub(crate) fn whole(set: &Set, elements: &[Element]) -> Vec<KernelElement> {
    if set.interval && !set.is_concat() {
        let mut sorted: Vec<&Element> = elements.iter().collect();
        sorted.sort();
        let mut kernel: Vec<KernelElement> = zero_marker(set, elements).into_iter().collect();
        kernel.extend(sorted.into_iter().flat_map(|e| interval(set, e)));
        kernel
    } else {
        elements.iter().map(|e| single(set, e)).collect()
    }
}

/// The end marker at zero a single-field interval set of `elements` holds when its lowest
/// range does not start at zero.
pub(crate) fn zero_marker(set: &Set, elements: &[Element]) -> Option<KernelElement> {
    let first = elements.iter().min()?.key.first()?;
    (number(&first.first) != 0)
        .then(|| KernelElement::Key {
            key: vec![0; first.first.len()],
            end: true,
        })
        .filter(|_| set.interval && !set.is_concat())
}

/// One range of a single-field interval set: its start and, unless it reaches the top, the
/// value after its end, flagged as an end.
pub(crate) fn interval(set: &Set, element: &Element) -> Vec<KernelElement> {
    let Some(range) = element.key.first() else {
        return Vec::new();
    };
    let width = set.key.first().map_or(0, |k| k.width());
    let mut kernel = vec![KernelElement::Key {
        key: range.first.to_vec(),
        end: false,
    }];
    let last = number(&range.last);
    let top = if width >= 16 {
        u128::MAX
    } else {
        (1u128 << (8 * width)) - 1
    };
    if last != top {
        kernel.push(KernelElement::Key {
            key: low_bytes(last + 1, width),
            end: true,
        });
    }
    kernel
}

/// An element of a set that is not a single-field interval set.
pub(crate) fn single(set: &Set, element: &Element) -> KernelElement {
    let key = |pick: fn(&Interval) -> &[u8]| -> Vec<u8> {
        if set.is_concat() {
            element
                .key
                .iter()
                .flat_map(|field| padded(pick(field)))
                .collect()
        } else {
            element
                .key
                .first()
                .map(|f| pick(f).to_vec())
                .unwrap_or_default()
        }
    };
    match &element.verdict {
        Some(verdict) => KernelElement::Map {
            key: key(|f| &f.first),
            verdict: verdict.clone(),
        },
        None if set.interval => KernelElement::Range {
            from: key(|f| &f.first),
            to: key(|f| &f.last),
        },
        None => KernelElement::Key {
            key: key(|f| &f.first),
            end: false,
        },
    }
}

/// A concatenation field, padded to 4 bytes as registers hold it.
fn padded(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out.resize(bytes.len().div_ceil(4) * 4, 0);
    out
}

#[cfg(test)]
mod tests;
