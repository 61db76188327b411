//! Look-alike domains: every variant of a protected domain, and a verdict for one sender.
//! Pure computation (`leakwatch-lookalike`); here so that who may ask is decided in one
//! place with the other actions.

pub use leakwatch_lookalike::{InvalidDomain, Options, Variant, Verdict};

use leakwatch_catalog::{Catalog, keys::Scope};
use leakwatch_identity::OperatorKey;

use crate::{Principal, ServiceError};

/// The domains `by`'s tenant protects from look-alikes: its verified domains (scope
/// `lookalike`).
pub fn protected_domains(
    catalog: &Catalog,
    operator: &OperatorKey,
    by: &Principal,
) -> Result<Vec<String>, ServiceError> {
    by.require(Scope::Lookalike)?;
    crate::domains::verified_domains(catalog, operator, by.tenant()?)
}

/// Every look-alike variant of `domain` (the domain itself first).
pub fn variants(domain: &str, options: &Options) -> Result<Vec<Variant>, InvalidDomain> {
    leakwatch_lookalike::generate(domain, options)
}

/// Whether `sender` (a domain or an address) imitates one of `protected`, and how.
pub fn verdict(sender: &str, protected: &[String]) -> Result<Verdict, InvalidDomain> {
    leakwatch_lookalike::check(sender, protected)
}

/// Which of `variants` look registered — have name servers or an address — asking the DNS
/// `resolver` (at most 32 names at a time, 2 s a try): the look-alikes someone already holds.
/// In the variants' order.
pub fn registered(
    resolver: std::net::SocketAddr,
    variants: &[Variant],
) -> Result<Vec<bool>, ServiceError> {
    let names: Vec<String> = variants.iter().map(|v| v.punycode.clone()).collect();
    Ok(crate::dns::registered(
        resolver,
        &names,
        std::time::Duration::from_secs(2),
        32,
    )?)
}
