//! Domain ownership: the proof a domain's owner publishes in DNS, and the role addresses
//! a verification mail may go to.

use leakwatch_identity::OperatorKey;

/// The local parts a verification mail may go to, as HIBP offers.
pub const ROLE_ADDRESSES: [&str; 5] =
    ["security", "admin", "hostmaster", "postmaster", "webmaster"];

/// The TXT record value that proves control of `domain` for API key `key`.
pub fn dns_token(operator: &OperatorKey, key: i64, domain: &str) -> String {
    let digest =
        operator.keyed_digest(b"domain verification", format!("{key}:{domain}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("leakwatch-verify={hex}")
}

/// How long a domain verification link works.
pub const VERIFY_LINK_SECS: u64 = 2 * 86_400;
