//! Who may use the admin API and the web admin: bearer tokens and their roles, web users
//! (name + argon2 password) and browser sessions.
//!
//! Takes token names and roles (from `rebound token …`), presented bearer tokens (from the
//! API), user names and passwords (`rebound user …`, the sign-in form) and session cookies;
//! gives the new token once, and for a presented token, password or session the
//! [`Principal`] it stands for. It never stores or logs a token, password or session secret:
//! only hashes are kept (SHA-256 for random secrets, argon2id for passwords), and a token is
//! shown exactly once, when it is created.

pub mod sessions;
pub mod tokens;
pub mod users;

pub use tokens::{Kind, Principal, Role, TokenError, TokenInfo};
pub use users::UserError;
