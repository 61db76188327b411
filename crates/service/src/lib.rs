//! leakwatch's service layer, between the edges (the HTTP API in `leakwatch-api`, the CLI in
//! `leakwatch`) and the engines (store, ingest, catalog, notify, identity, …). Every action a
//! person or program takes is a function here, and each names its [`Principal`], so that
//! scope checks, tenancy and the audit trail are made in one place. The edges speak HTTP and
//! flags and call this; they do not reach into the engines for domain logic.
//!
//! Being built (issue #17): what lives here so far is marked in ARCHITECTURE.md.

pub mod accounts;
pub mod audit;
pub mod backup;
pub mod dns;
pub mod domain_search;
pub mod domains;
mod handles;
pub mod impact;
pub mod lookalike;
pub mod mail;
mod mail_texts;
pub mod mirror;
pub mod outbox;
mod principal;
pub mod stats;
pub mod vendors;

pub use handles::{CatalogHandle, Forgot, StoreHandle};
pub use leakwatch_datadir::DataDir;
pub use principal::Principal;
