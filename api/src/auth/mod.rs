//! Who is calling: passwords, tokens, and the [`Caller`] extractor every protected handler takes.

pub mod caller;
pub mod jwt;
pub mod password;
pub mod refresh;

pub use caller::Caller;
