//! nf_tables over netlink for Portcullis, without libnftnl or the `nft` binary: one table
//! model ([`Table`]: chains, sets and maps, rules as typed [`Expr`]s) from which both the
//! netlink transaction ([`Transaction::replace`], [`Transaction::update`]) and the text
//! `nft list table` prints ([`render()`]) are made. [`wire`] lays out the bytes (pure);
//! [`socket`] sends a transaction and reads the kernel's refusals.
//!
//! Why not the `nftnl` crate: it has no map data (verdict maps), no interval end keys and no
//! concatenations, and it links libnftnl and libmnl, which a distroless image lacks.

#![forbid(unsafe_code)]

mod diff;
mod elements;
pub mod error;
pub mod expr;
pub mod family;
pub mod render;
pub mod set;
pub mod socket;
pub mod table;
pub mod transaction;
pub mod wire;

pub use error::{Classified, EncodeError, Fault, NftError, Refusal};
pub use expr::{CmpOp, CtKey, Expr, Field, MetaKey, Register, Verdict, ct_state};
pub use family::{Family, TableFamily};
pub use render::render;
pub use set::{Element, Interval, KeyType, Set, Value};
pub use socket::{apply, commit};
pub use table::{BaseChain, Chain, ChainPolicy, ChainType, Hook, Rule, Table};
pub use transaction::Transaction;
pub use wire::Encoded;
