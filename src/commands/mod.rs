//! The subcommands: each wires settings to the crates and does nothing else.

pub mod admin;
pub mod bulletin;
pub mod check;
pub mod compare;
pub mod dev;
pub mod gc;
pub mod import;
pub mod ledger;
pub mod serve;
