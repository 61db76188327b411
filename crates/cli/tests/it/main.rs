//! leakwatch's integration tests, in one binary to keep link times down. They drive the real
//! `leakwatch` binary (ingest, serve, crash) and the library crates in-process, and compare
//! answers with references computed independently from the input files.

mod accounts;
mod audit;
mod backup;
mod catalog;
mod clients;
mod corruption;
mod crash;
mod fixture;
mod forget;
mod formats;
mod http;
mod keys;
mod lookalike;
mod mail;
mod mirror;
mod packaging;
mod ranges;
mod settings;
mod support;
mod vendors;
mod web;
