//! Events out: signed webhooks to a real HTTP receiver on loopback, on both backends (and
//! through real `serve` processes).

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod alerts;
mod api;
mod counting;
mod delivery;
mod receiver;
mod rules_api;
mod webhooks;
