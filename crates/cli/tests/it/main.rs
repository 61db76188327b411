//! leakwatch's integration tests, in one binary to keep link times down. They drive the real
//! `leakwatch` binary (ingest, serve, crash) and the library crates in-process, and compare
//! answers with references computed independently from the input files. The harness
//! (`harness.rs`) reports a test whose outside program is missing as ignored, saying what is
//! missing.

// Scenario tests read top to bottom as a story; the function-length lint is for non-test code.
#![allow(clippy::too_many_lines)]

#[macro_use]
mod harness;
mod support;

mod accounts;
mod answer_tier;
mod architecture;
mod audit;
mod auditlog;
mod backup;
mod bulk;
mod catalog;
mod clients;
mod corruption;
mod crash;
mod credentials;
mod dashboard;
mod demo;
mod fixture;
mod forget;
mod formats;
mod http;
mod keys;
mod lookalike;
mod mail;
mod mirror;
mod objstore;
mod packaging;
mod pastes;
mod proxy;
mod range_cache;
mod ranges;
mod security;
mod settings;
mod shared_catalog;
mod stealer;
mod tenants;
mod vendors;
mod web;

fn main() {
    harness::main(&[
        accounts::tests,
        answer_tier::tests,
        architecture::tests,
        audit::tests,
        auditlog::tests,
        backup::tests,
        bulk::tests,
        catalog::tests,
        clients::tests,
        corruption::tests,
        crash::tests,
        credentials::tests,
        dashboard::tests,
        demo::tests,
        fixture::tests,
        forget::tests,
        formats::tests,
        http::tests,
        keys::tests,
        lookalike::tests,
        mail::tests,
        mirror::tests,
        objstore::tests,
        packaging::tests,
        proxy::tests,
        range_cache::tests,
        ranges::tests,
        security::tests,
        settings::tests,
        shared_catalog::tests,
        pastes::tests,
        stealer::tests,
        tenants::tests,
        vendors::tests,
        web::tests,
    ]);
}
