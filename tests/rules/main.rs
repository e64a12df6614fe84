//! The rules: the stored, ordered list and the shipped library.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod library;
mod list;
