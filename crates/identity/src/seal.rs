//! The operator key: seals e-mail aliases so that store files alone reveal no address.
//!
//! Domain search has to give back the local parts ("aliases") of a domain's breached
//! addresses, so they cannot be only hashed. Each alias is sealed with AES-SIV (RFC 5297,
//! deterministic authenticated encryption) under a key derived from the operator key, with
//! the domain as associated data, and filed under a tag: HMAC-SHA-256 of the domain, also
//! keyed, cut to 64 bits. Beside a domain's aliases lies one sealed record of the domain
//! name itself, so that a key rotation can re-tag and re-seal everything without the
//! original dumps. A sealed record starts with a kind byte ([`DOMAIN_RECORD`] or
//! [`ALIAS_RECORD`]; the domain record sorts first in its tag) and then the AES-SIV output. Deterministic sealing makes re-imports byte-identical and lets
//! files deduplicate; it reveals only that two records hold the same alias on the same
//! domain, which the account hashes reveal anyway. Without the key, a store file shows
//! neither which domains it holds nor any alias.
//!
//! The operator key is 32 random bytes written as 64 hex digits (`leakwatch operator-key
//! generate`); its id (a digest, not the key) is recorded with every alias file so that a
//! rotation knows what to re-seal. This module does not read configuration.

use aes_siv::{KeyInit, siv::Aes256Siv};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// First byte of a sealed domain-name record.
pub const DOMAIN_RECORD: u8 = 0;
/// First byte of a sealed alias record.
pub const ALIAS_RECORD: u8 = 1;

/// Why a key or a sealed alias was refused. Never quotes key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The key is not 64 hex digits.
    #[error(
        "an operator key is 64 hex digits (32 bytes); generate one with `leakwatch operator-key generate`"
    )]
    BadKey,
    /// The sealed bytes do not open under this key and domain (wrong key, or damage).
    #[error("sealed alias does not open under this operator key")]
    Unseal,
}

/// Key material derived from one operator key.
#[derive(Clone)]
pub struct OperatorKey {
    tag_mac: Hmac<Sha256>,
    siv_key: [u8; 64],
    id: String,
}

/// One thread's sealing state, with the cipher's key schedule and the MAC's keyed state
/// prepared once: re-deriving them per record was a tenth of a dump import's time.
pub struct Sealer {
    tag_mac: Hmac<Sha256>,
    pub(crate) siv: Aes256Siv,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn derive(key: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl OperatorKey {
    /// Reads a key written as 64 hex digits (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<OperatorKey, SealError> {
        let key = crate::hex::key_from_hex(text).ok_or(SealError::BadKey)?;
        Ok(Self::from_bytes(&key))
    }

    /// Derives the sealing and tagging keys from 32 key bytes.
    pub fn from_bytes(key: &[u8; 32]) -> OperatorKey {
        let mut siv_key = [0u8; 64];
        siv_key[..32].copy_from_slice(&derive(key, b"leakwatch alias siv mac"));
        siv_key[32..].copy_from_slice(&derive(key, b"leakwatch alias siv ctr"));
        let id = crate::hex::to_hex(&Sha256::digest(derive(key, b"leakwatch key id"))[..8]);
        OperatorKey {
            tag_mac: <Hmac<Sha256> as Mac>::new_from_slice(&derive(key, b"leakwatch domain tag"))
                .expect("HMAC takes any key length"),
            siv_key,
            id,
        }
    }

    /// A fresh random key, as 64 hex digits.
    pub fn generate_hex() -> String {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source");
        crate::hex::to_hex(&key)
    }

    /// A public identifier of the key (16 hex digits): safe to store and log.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A sealing state for one thread (see [`Sealer`]).
    pub fn sealer(&self) -> Sealer {
        Sealer {
            tag_mac: self.tag_mac.clone(),
            siv: Aes256Siv::new((&self.siv_key).into()),
        }
    }

    /// The 64-bit tag a (normalised, punycode) domain's aliases are filed under.
    pub fn domain_tag(&self, domain: &str) -> u64 {
        tag(&self.tag_mac, domain)
    }

    /// Seals an alias of `domain`: the kind byte, 16 bytes of synthetic IV, the ciphertext.
    pub fn seal(&self, domain: &str, alias: &str) -> Vec<u8> {
        self.sealer().seal(domain, alias)
    }

    /// Opens what [`OperatorKey::seal`] sealed for the same domain.
    pub fn open(&self, domain: &str, sealed: &[u8]) -> Result<String, SealError> {
        self.sealer().open(domain, sealed)
    }

    /// Seals the domain name itself, to be filed under its own tag.
    pub fn seal_domain(&self, domain: &str) -> Vec<u8> {
        self.sealer().seal_domain(domain)
    }

    /// Opens a domain-name record, checking that it belongs under `tag`.
    pub fn open_domain(&self, tag: u64, sealed: &[u8]) -> Result<String, SealError> {
        self.sealer().open_domain(tag, sealed)
    }

    /// A keyed digest (HMAC-SHA-256) of `value` in `context`, to find a sealed record by
    /// its plaintext without storing the plaintext. `context` must not contain a NUL byte
    /// (domain tags, which hash bare domain names, never do either).
    pub fn keyed_digest(&self, context: &[u8], value: &[u8]) -> [u8; 32] {
        let mut mac = self.tag_mac.clone();
        mac.update(context);
        mac.update(&[0]);
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// Seals arbitrary bytes bound to `context` (which must be given again to open them):
    /// 16 random bytes, then AES-SIV over `plain` with the context and those bytes as
    /// associated data, so equal inputs seal differently. For queued notifications, which
    /// must name their recipient.
    pub fn seal_bytes(&self, context: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).expect("the operating system's random source works");
        let mut out = nonce.to_vec();
        out.extend(
            Aes256Siv::new((&self.siv_key).into())
                .encrypt([context, &nonce[..]], plain)
                .expect("AES-SIV encryption cannot fail"),
        );
        out
    }

    /// Opens what [`OperatorKey::seal_bytes`] sealed with the same `context`.
    pub fn open_bytes(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < 32 {
            return Err(SealError::Unseal);
        }
        let (nonce, body) = sealed.split_at(16);
        Aes256Siv::new((&self.siv_key).into())
            .decrypt([context, nonce], body)
            .map_err(|_| SealError::Unseal)
    }
}

fn tag(keyed: &Hmac<Sha256>, domain: &str) -> u64 {
    let mut mac = keyed.clone();
    mac.update(domain.as_bytes());
    let out = mac.finalize().into_bytes();
    u64::from_be_bytes(out[..8].try_into().expect("8 bytes"))
}

impl Sealer {
    /// As [`OperatorKey::domain_tag`].
    pub fn domain_tag(&self, domain: &str) -> u64 {
        tag(&self.tag_mac, domain)
    }

    fn seal_record(&mut self, kind: u8, ad: &[&[u8]], text: &str) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend(
            self.siv
                .encrypt(ad, text.as_bytes())
                .expect("AES-SIV encryption of a short text cannot fail"),
        );
        out
    }

    fn open_record(&mut self, kind: u8, ad: &[&[u8]], sealed: &[u8]) -> Result<String, SealError> {
        let body = sealed.strip_prefix(&[kind]).ok_or(SealError::Unseal)?;
        let plain = self.siv.decrypt(ad, body).map_err(|_| SealError::Unseal)?;
        String::from_utf8(plain).map_err(|_| SealError::Unseal)
    }

    /// As [`OperatorKey::seal`].
    pub fn seal(&mut self, domain: &str, alias: &str) -> Vec<u8> {
        self.seal_record(ALIAS_RECORD, &[b"alias", domain.as_bytes()], alias)
    }

    /// As [`OperatorKey::open`].
    pub fn open(&mut self, domain: &str, sealed: &[u8]) -> Result<String, SealError> {
        self.open_record(ALIAS_RECORD, &[b"alias", domain.as_bytes()], sealed)
    }

    /// As [`OperatorKey::seal_domain`].
    pub fn seal_domain(&mut self, domain: &str) -> Vec<u8> {
        self.seal_record(DOMAIN_RECORD, &[b"domain"], domain)
    }

    /// As [`OperatorKey::open_domain`].
    pub fn open_domain(&mut self, tag: u64, sealed: &[u8]) -> Result<String, SealError> {
        let domain = self.open_record(DOMAIN_RECORD, &[b"domain"], sealed)?;
        if self.domain_tag(&domain) != tag {
            return Err(SealError::Unseal);
        }
        Ok(domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn seals_deterministically_and_opens_only_with_the_same_key_and_domain() {
        let k = OperatorKey::from_hex(KEY).unwrap();
        let sealed = k.seal("example.org", "alex.smith+news");
        assert_eq!(sealed, k.seal("example.org", "alex.smith+news"));
        assert_eq!(sealed.len(), 1 + 16 + "alex.smith+news".len());
        assert!(!sealed.windows(5).any(|w| w == b"smith"));
        assert_eq!(k.open("example.org", &sealed).unwrap(), "alex.smith+news");
        assert_eq!(k.open("example.com", &sealed), Err(SealError::Unseal));
        let other = OperatorKey::from_hex(&OperatorKey::generate_hex()).unwrap();
        assert_eq!(other.open("example.org", &sealed), Err(SealError::Unseal));
        assert_ne!(other.id(), k.id());
        let mut damaged = sealed.clone();
        damaged[3] ^= 1;
        assert_eq!(k.open("example.org", &damaged), Err(SealError::Unseal));
        // Domain records: sort before the aliases, open only as what they are, under their tag.
        let d = k.seal_domain("example.org");
        assert!(d < sealed);
        let tag = k.domain_tag("example.org");
        assert_eq!(k.open_domain(tag, &d).unwrap(), "example.org");
        assert_eq!(k.open_domain(tag + 1, &d), Err(SealError::Unseal));
        assert_eq!(k.open("example.org", &d), Err(SealError::Unseal));
        assert_eq!(k.open_domain(tag, &sealed), Err(SealError::Unseal));
    }

    #[test]
    fn tags_depend_on_key_and_domain_and_keys_must_be_64_hex() {
        let k = OperatorKey::from_hex(KEY).unwrap();
        let k2 = OperatorKey::from_hex(&KEY.replace("1f", "20")).unwrap();
        assert_eq!(k.domain_tag("a.example"), k.domain_tag("a.example"));
        assert_ne!(k.domain_tag("a.example"), k.domain_tag("b.example"));
        assert_ne!(k.domain_tag("a.example"), k2.domain_tag("a.example"));
        for bad in [
            "",
            "00",
            &KEY[1..],
            &KEY.replace('0', "g"),
            &format!("{KEY}00"),
        ] {
            assert_eq!(
                OperatorKey::from_hex(bad).unwrap_err(),
                SealError::BadKey,
                "{bad}"
            );
        }
        assert!(OperatorKey::from_hex(&format!(" {KEY}\n")).is_ok());
        assert!(
            !format!("{k:?}").contains("0102"),
            "Debug must not print key bytes"
        );
    }
}
