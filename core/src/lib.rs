//! The domain of fieldsurvey: the household verification form, the identifiers parsed at the
//! edge, RFC 8785 canonical bytes and the verifier's signature, the document and photo checks
//! that decide `rejected`, and the seven indicators that decide `meets_standard`.
//!
//! Owns: rules. Must not touch I/O: no database, broker, HTTP or image decoding here, so every
//! rule is tested with plain values.

pub mod audit;
pub mod bulletin;
pub mod canonical;
pub mod checks;
pub mod compare;
pub mod deadline;
pub mod decision;
pub mod dossier;
pub mod export;
pub mod flags;
pub mod form;
pub mod fuzzing;
pub mod ids;
pub mod indicators;
pub mod ledger;
pub mod merkle;
pub mod messages;
pub mod photos;
pub mod pii;
pub mod rejection;
pub mod sampling;
pub mod signing;
pub mod transitions;
pub mod vocab;
