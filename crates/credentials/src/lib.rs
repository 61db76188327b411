//! The private credential check (issue #24): a user or a login server learns whether a
//! (login, password) pair was leaked — **exact** — or a password close to it with the same
//! login — **similar** — while the server learns only the login's bucket, in the manner of
//! Cloudflare's MIGP (Pal et al., USENIX Security 2022) and Google's Password Checkup.
//!
//! The pieces, each its own module:
//! - [`login`]: how a login is normalised (the README's identifier rules), the bytes the OPRF
//!   is evaluated on, and the login's bucket (the first [`BUCKET_BITS`] bits of SHA-256);
//! - [`oprf`]: RFC 9497's OPRF, suite ristretto255-SHA512 (the `voprf` crate): the server's
//!   key, evaluation and blind evaluation, and the client's blind and finalise;
//! - [`variants`]: the password variants a leaked pair also stands for (at most
//!   [`variants::MAX_VARIANTS`]), after MIGP's rules;
//! - [`entry`]: a bucket entry, a 96-bit tag of an OPRF output that says exact or similar,
//!   which nobody without the OPRF key can link to a login or a password.
//!
//! Architecture invariant: this crate knows nothing of HTTP, the store or the catalogue; it
//! holds the protocol's arithmetic and byte formats, so that the server, the CLI client, the
//! build job and the login-server library all compute them one way (docs/FORMAT.md).

pub mod entry;
pub mod login;
pub mod oprf;
pub mod variants;

pub use entry::{
    LOGIN_BITS, MAX_ANSWER_ENTRIES, Match, TAG_BITS, TAG_BYTES, Tag, answer_bits, bucket_tags,
    entry_key, key_login_prefix, key_tag, lookup, tag, tags_from_bytes, tags_to_bytes,
};
pub use login::{
    BUCKET_BITS, MAX_BUCKET_BITS, bucket_of, login_prefix, normalize_login, oprf_input,
};
pub use oprf::{Blinded, ELEMENT_LEN, OUTPUT_LEN, OprfError, OprfKey};

/// Bytes from hex digits, for the tests' vectors.
#[cfg(test)]
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/entries.json` was written by the JavaScript client (crates/api/src/web/
    /// credentials.js over @noble/curves): the two implementations agree on the whole
    /// protocol — login, bucket, input, the OPRF's output under a key, both tags.
    #[test]
    fn the_javascript_clients_entries_are_the_rust_ones() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../tests/entries.json")).unwrap();
        let key = OprfKey::from_hex(doc["skSm"].as_str().unwrap()).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 5);
        for case in cases {
            let s = |k: &str| case[k].as_str().unwrap();
            let login = normalize_login(s("raw")).unwrap();
            assert_eq!(login, s("login"));
            assert_eq!(
                format!("{:05X}", bucket_of(&login, BUCKET_BITS)),
                s("bucket")
            );
            assert_eq!(format!("{:08x}", login_prefix(&login)), s("prefix"));
            let input = oprf_input(&login, s("password")).unwrap();
            assert_eq!(input, unhex(s("input")), "{login}");
            let output = key.evaluate(&input).unwrap();
            assert_eq!(output.to_vec(), unhex(s("output")), "{login}");
            assert_eq!(format!("{:024x}", tag(&output, Match::Exact)), s("exact"));
            assert_eq!(
                format!("{:024x}", tag(&output, Match::Similar)),
                s("similar")
            );
        }
    }
}
