//! Logins: normalised as the README's identifier rules say, bucketed by their SHA-256, and
//! encoded with a password into the bytes the OPRF is evaluated on.

use leakwatch_identity::{InvalidIdentifier, normalize_email, normalize_username};
use sha2::{Digest, Sha256};

/// Bits of a login's SHA-256 a client sends: 2^20 buckets, as the password ranges have, so
/// that at 16 billion credentials a bucket holds ~15,000 logins' entries (FORMAT.md says how
/// a larger bucket is split).
pub const BUCKET_BITS: u32 = 20;

/// The most bits of a login's SHA-256 a client can be asked to send (a split bucket).
pub const MAX_BUCKET_BITS: u32 = 32;

/// The login as leaked data and clients both spell it: an e-mail address (anything with an
/// `@`) by the e-mail rule, anything else by the username rule (trimmed, case-folded).
pub fn normalize_login(raw: &str) -> Result<String, InvalidIdentifier> {
    if raw.contains('@') {
        normalize_email(raw)
    } else {
        normalize_username(raw)
    }
}

/// The bucket of a normalised login: the first `bits` (1..=32) bits of its SHA-256, big-endian.
pub fn bucket_of(login: &str, bits: u32) -> u32 {
    assert!(
        (1..=32).contains(&bits),
        "bucket bits {bits} outside 1..=32"
    );
    let digest = Sha256::digest(login.as_bytes());
    let top = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    top >> (32 - bits)
}

/// The first 32 bits of a normalised login's SHA-256: what an entry's key keeps of its login.
pub fn login_prefix(login: &str) -> u32 {
    bucket_of(login, MAX_BUCKET_BITS)
}

/// Label of the OPRF input's encoding (its version: a change of encoding is a new label).
const INPUT_LABEL: &[u8] = b"leakwatch credential v1";

/// The bytes the OPRF is evaluated on for a normalised login and a password: the label, the
/// login's length (two bytes, big-endian), the login, the password's UTF-8 bytes as typed
/// (passwords are not normalised). `None` when it would exceed RFC 9497's 65,535-byte input.
pub fn oprf_input(login: &str, password: &str) -> Option<Vec<u8>> {
    let login_len = u16::try_from(login.len()).ok()?;
    let len = INPUT_LABEL.len() + 2 + login.len() + password.len();
    if len > usize::from(u16::MAX) || login.is_empty() {
        return None;
    }
    let mut input = Vec::with_capacity(len);
    input.extend_from_slice(INPUT_LABEL);
    input.extend_from_slice(&login_len.to_be_bytes());
    input.extend_from_slice(login.as_bytes());
    input.extend_from_slice(password.as_bytes());
    Some(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_follow_the_identifier_rules() {
        let check = |raw: &str, want: &str| assert_eq!(normalize_login(raw).unwrap(), want);
        check(
            " Foo+News@Bücher.Example. ",
            "foo+news@xn--bcher-kva.example",
        );
        check(" Straße ", "strasse");
        check("JSmith", "jsmith");
        assert!(normalize_login("not@an@address").is_err());
    }

    /// The vector file the JavaScript client is tested against too (its references are
    /// Python's `str.casefold` and `hashlib`, and hand-written addresses).
    #[test]
    fn the_shared_login_vectors() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../tests/logins.json")).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 20);
        for case in cases {
            let raw = case["raw"].as_str().unwrap();
            match case["login"].as_str() {
                Some(login) => {
                    assert_eq!(normalize_login(raw).as_deref(), Ok(login), "{raw:?}");
                    let bucket = format!("{:05X}", bucket_of(login, BUCKET_BITS));
                    assert_eq!(bucket, case["bucket"].as_str().unwrap(), "{raw:?}");
                }
                None => assert!(normalize_login(raw).is_err(), "{raw:?} accepted"),
            }
        }
    }

    /// The browser folds usernames by `tests/casefold.json` (Python's `str.casefold`, Unicode
    /// 14, and the 27 folds of code points Unicode 16 added, which the `caseless` crate
    /// knows): the Rust rule must fold every code point the same, or the two clients would ask
    /// different buckets for one login.
    #[test]
    fn the_username_rule_folds_every_code_point_as_the_shared_table_does() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../tests/casefold.json")).unwrap();
        let table = doc["fold"].as_object().unwrap();
        let newer = doc["newer"].as_object().unwrap();
        assert!(table.len() > 1_400 && newer.len() < 64);
        let mut differ = Vec::new();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let hex = format!("{:X}", c as u32);
            let want = table
                .get(&hex)
                .or_else(|| newer.get(&hex))
                .map_or_else(|| c.to_string(), |v| v.as_str().unwrap().to_owned());
            let got = caseless::default_case_fold_str(&c.to_string());
            if got != want {
                differ.push(format!("U+{:04X} {got:?} != {want:?}", c as u32));
            }
        }
        assert!(differ.is_empty(), "{} differ: {:?}", differ.len(), &differ);
    }

    #[test]
    fn a_bucket_is_the_top_bits_of_the_sha256() {
        // SHA-256("abc") = ba7816bf 8f01cfea… (FIPS 180-2's example).
        assert_eq!(bucket_of("abc", 20), 0xba781);
        assert_eq!(bucket_of("abc", 32), 0xba78_16bf);
        assert_eq!(bucket_of("abc", 1), 1);
    }

    #[test]
    fn the_input_separates_login_from_password() {
        // Without the length, ("ab", "c") and ("a", "bc") would be one input.
        assert_ne!(oprf_input("ab", "c"), oprf_input("a", "bc"));
        let input = oprf_input("ab", "pw").unwrap();
        assert_eq!(&input[..INPUT_LABEL.len()], INPUT_LABEL);
        assert_eq!(&input[INPUT_LABEL.len()..], b"\x00\x02abpw");
        assert_eq!(oprf_input("", "pw"), None);
        assert_eq!(oprf_input("a", &"x".repeat(70_000)), None);
    }
}
