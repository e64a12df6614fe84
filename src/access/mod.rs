//! Who may use the admin API: bearer tokens and their roles.
//!
//! Takes token names and roles (from `rebound token …`) and presented bearer tokens (from the
//! API); gives the new token once, and for a presented one the [`Principal`] it stands for.
//! It never stores or logs a token: only its SHA-256 is kept, and a token is shown exactly
//! once, when it is created.

pub mod tokens;

pub use tokens::{Principal, Role, TokenError, TokenInfo};
