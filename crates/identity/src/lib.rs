//! Account identifiers, normalised so that every spelling of one account hashes the same.
//!
//! The rules (docs in the README's "Identifiers" section, tests below):
//! - **E-mail**: trimmed; the local part lower-cased (Unicode) with `+tags` kept; the domain
//!   through UTS #46 (lower-cased, IDN to punycode, STD3 rules) without a trailing dot.
//!   Rejected: no `@`, an empty or over-long part (local 64, address 254 bytes), white space or
//!   control characters, a dot at either end of the local part or two in a row, a domain
//!   without a dot, address literals (`[1.2.3.4]`).
//! - **Phone**: parsed with libphonenumber's metadata, with a default region for national
//!   numbers, and written in E.164 (`+442079460958`); numbers that are not valid are rejected.
//! - **Username**: trimmed and Unicode case-folded (`Straße` → `strasse`).
//!
//! [`Identifier::sha1_hex`] is the hash the account store keys on and HIBP's
//! `breachedaccount/range` uses. This crate stores nothing and never logs an identifier.

mod alias_block;
pub mod hex;
mod seal;

pub use alias_block::{AliasGroup, BlockBuilder, BlockKind, MAX_VALUE_LEN, SealedBlock};
pub use seal::{ALIAS_RECORD, DOMAIN_RECORD, OperatorKey, SealError, Sealer};
use std::borrow::Cow;

use sha1::Digest;

/// What an identifier is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A username (anything else).
    Username,
}

/// Why an identifier was rejected. The message never quotes the identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidIdentifier {
    /// Nothing but white space.
    #[error("empty identifier")]
    Empty,
    /// Not a usable e-mail address.
    #[error("invalid e-mail address: {0}")]
    Email(&'static str),
    /// Not a valid phone number.
    #[error("invalid phone number: {0}")]
    Phone(&'static str),
    /// Not a usable username.
    #[error("invalid username: {0}")]
    Username(&'static str),
}

/// A normalised identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    kind: Kind,
    normalized: String,
}

impl Identifier {
    /// Normalises `raw` as `kind`; phone numbers without a `+` need `default_region`
    /// (ISO 3166 alpha-2, e.g. `GB`).
    pub fn parse(
        kind: Kind,
        raw: &str,
        default_region: Option<&str>,
    ) -> Result<Identifier, InvalidIdentifier> {
        let normalized = match kind {
            Kind::Email => normalize_email(raw)?,
            Kind::Phone => normalize_phone(raw, default_region)?,
            Kind::Username => normalize_username(raw)?,
        };
        Ok(Identifier { kind, normalized })
    }

    /// Guesses the kind (an `@` is an e-mail; `+` or digits with phone punctuation is a
    /// phone; anything else a username) and normalises accordingly.
    pub fn detect(
        raw: &str,
        default_region: Option<&str>,
    ) -> Result<Identifier, InvalidIdentifier> {
        Self::parse(guess_kind(raw), raw, default_region)
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }
    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.normalized
    }
    /// SHA-1 of the normalised text's UTF-8 bytes.
    pub fn sha1(&self) -> [u8; 20] {
        sha1::Sha1::digest(self.normalized.as_bytes()).into()
    }
    /// Upper-case hex of [`Identifier::sha1`].
    pub fn sha1_hex(&self) -> String {
        self.sha1().iter().map(|b| format!("{b:02X}")).collect()
    }
    /// For an e-mail, the alias (local part, as normalised) and the domain (punycode).
    pub fn email_parts(&self) -> Option<(&str, &str)> {
        (self.kind == Kind::Email)
            .then(|| self.normalized.rsplit_once('@'))
            .flatten()
    }
    /// For an e-mail, the domain (punycode); otherwise `None`.
    pub fn email_domain(&self) -> Option<&str> {
        (self.kind == Kind::Email)
            .then(|| self.normalized.rsplit_once('@').map(|(_, d)| d))
            .flatten()
    }
}

/// The normalised forms a queried account may have been stored under: an e-mail address
/// if it has an `@`; a phone number *and* a username if it looks like a phone number (a
/// dump may hold `5551234` as either); a username otherwise. Errors only when no reading
/// is valid, with the reason of the most likely one.
pub fn lookup_candidates(
    raw: &str,
    default_region: Option<&str>,
) -> Result<Vec<Identifier>, InvalidIdentifier> {
    match guess_kind(raw) {
        Kind::Email => Ok(vec![Identifier::parse(Kind::Email, raw, default_region)?]),
        Kind::Phone => {
            let phone = Identifier::parse(Kind::Phone, raw, default_region);
            let user = Identifier::parse(Kind::Username, raw, default_region);
            match (phone, user) {
                (Ok(p), Ok(u)) => Ok(vec![p, u]),
                (Ok(p), Err(_)) => Ok(vec![p]),
                (Err(_), Ok(u)) => Ok(vec![u]),
                (Err(e), Err(_)) => Err(e),
            }
        }
        Kind::Username => Ok(vec![Identifier::parse(
            Kind::Username,
            raw,
            default_region,
        )?]),
    }
}

/// The kind [`Identifier::detect`] would pick.
pub fn guess_kind(raw: &str) -> Kind {
    let t = raw.trim();
    if t.contains('@') {
        Kind::Email
    } else if !t.is_empty()
        && (t.starts_with('+') || t.starts_with('('))
        && t.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        || t.chars().filter(char::is_ascii_digit).count() >= 7
            && t.chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        Kind::Phone
    } else {
        Kind::Username
    }
}

const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-.";

/// Normalises an e-mail address (see the crate docs for the rules).
pub fn normalize_email(raw: &str) -> Result<String, InvalidIdentifier> {
    use InvalidIdentifier::Email as Bad;
    let t = raw.trim();
    if t.is_empty() {
        return Err(InvalidIdentifier::Empty);
    }
    let (local, domain) = t.rsplit_once('@').ok_or(Bad("no @"))?;
    if local.is_empty() {
        return Err(Bad("empty local part"));
    }
    if local.len() > 64 {
        return Err(Bad("local part longer than 64 bytes"));
    }
    if !local.chars().all(|c| {
        c.is_alphanumeric()
            || LOCAL_SPECIALS.contains(c)
            || (!c.is_ascii() && !c.is_whitespace() && !c.is_control())
    }) {
        return Err(Bad("local part has a character not allowed in an address"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(Bad("misplaced dot in the local part"));
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() {
        return Err(Bad("empty domain"));
    }
    if domain.starts_with('[') {
        return Err(Bad("address literals are not accepted"));
    }
    let ascii = normalize_domain(domain)?;
    let address = format!("{}@{ascii}", local.to_lowercase());
    if address.len() > 254 {
        return Err(Bad("address longer than 254 bytes"));
    }
    Ok(address)
}

/// Normalises an e-mail domain as [`normalize_email`] does: UTS #46 to lower-case
/// punycode, at least two labels, a plausible top-level domain, no trailing dot.
pub fn normalize_domain(raw: &str) -> Result<String, InvalidIdentifier> {
    use InvalidIdentifier::Email as Bad;
    let domain = raw.trim();
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() {
        return Err(Bad("empty domain"));
    }
    let ascii = idna::domain_to_ascii_strict(domain)
        .map_err(|_| Bad("domain is not a valid (internationalised) domain name"))?;
    if !ascii.contains('.')
        || ascii.len() > 253
        || ascii.split('.').any(|l| l.is_empty() || l.len() > 63)
    {
        return Err(Bad("domain needs at least two labels of 1 to 63 bytes"));
    }
    if ascii
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.len() < 2 || tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(Bad("top-level domain is not valid"));
    }
    Ok(ascii)
}

/// Normalises a phone number to E.164.
pub fn normalize_phone(
    raw: &str,
    default_region: Option<&str>,
) -> Result<String, InvalidIdentifier> {
    use InvalidIdentifier::Phone as Bad;
    let t = raw.trim();
    if t.is_empty() {
        return Err(InvalidIdentifier::Empty);
    }
    let region = match default_region {
        Some(r) => Some(
            r.to_ascii_uppercase()
                .parse::<phonenumber::country::Id>()
                .map_err(|_| Bad("unknown default region"))?,
        ),
        None if t.starts_with('+') || t.starts_with("00") => None,
        None => return Err(Bad("a national number needs a default region")),
    };
    // Without a region, `00` is read as the international prefix most countries use.
    let international;
    let t = match t.strip_prefix("00") {
        Some(rest) if region.is_none() => {
            international = format!("+{rest}");
            international.as_str()
        }
        _ => t,
    };
    let mut number = phonenumber::parse(region, t).map_err(|_| Bad("not a phone number"))?;
    // phonenumber 0.3 strips the *default* region's national prefix from an international
    // number too: read with GB, "+39 06 …" loses Italy's leading 0 and becomes another number
    // (or none). An international number is therefore read again without a region, which
    // takes the metadata from its own country code.
    if let Some(region) = region {
        let international = match number.code().source() {
            phonenumber::country::Source::Plus => Some(Cow::Borrowed(t)),
            phonenumber::country::Source::Idd => after_idd(region, t).map(Cow::Owned),
            _ => None,
        };
        if let Some(international) = international {
            number = phonenumber::parse(None, international.as_ref())
                .map_err(|_| Bad("not a phone number"))?;
        }
    }
    if !phonenumber::is_valid(&number) {
        return Err(Bad("not a valid number for its region"));
    }
    let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
    // Only a fixed point is a normal form: what phonenumber reads from some spellings (vanity
    // letters, stray prefixes) it does not read back from its own E.164 output, and such a
    // number would be stored under a key that no query finds.
    let again = phonenumber::parse(None, &e164)
        .ok()
        .filter(phonenumber::is_valid)
        .map(|n| n.format().mode(phonenumber::Mode::E164).to_string());
    if again.as_deref() != Some(e164.as_str()) {
        return Err(Bad("not a valid number for its region"));
    }
    Ok(e164)
}

/// `+` and the digits after the international dialling prefix `region` uses (`00`, `011`…),
/// up to the first letter (an extension's `ext`/`x` is dropped, as E.164 drops it).
fn after_idd(region: phonenumber::country::Id, t: &str) -> Option<String> {
    let digits: String = t
        .chars()
        .take_while(|c| !c.is_alphabetic() && *c != '#' && *c != ';')
        .filter(char::is_ascii_digit)
        .collect();
    let idd = phonenumber::metadata::DATABASE
        .by_id(region.as_ref())?
        .international_prefix()?
        .find(&digits)
        .filter(|m| m.start() == 0)?;
    Some(format!("+{}", &digits[idd.end()..]))
}

/// Normalises a username: trimmed, Unicode case-folded.
pub fn normalize_username(raw: &str) -> Result<String, InvalidIdentifier> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(InvalidIdentifier::Empty);
    }
    if t.chars().any(char::is_control) {
        return Err(InvalidIdentifier::Username("control characters"));
    }
    if t.len() > 256 {
        return Err(InvalidIdentifier::Username("longer than 256 bytes"));
    }
    Ok(caseless::default_case_fold_str(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: Kind, raw: &str, region: Option<&str>, expected: Result<&str, ()>) {
        let got = Identifier::parse(kind, raw, region)
            .map(|i| i.as_str().to_owned())
            .map_err(|_| ());
        assert_eq!(got.as_deref().map_err(|_| ()), expected, "{kind:?} {raw:?}");
    }

    #[test]
    fn lookups_try_every_reading_of_a_phone_like_string() {
        let got = |raw: &str, region| {
            lookup_candidates(raw, region).map(|v| {
                v.iter()
                    .map(|i| (i.kind(), i.as_str().to_owned()))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            got("Kim@Example.ORG", None).unwrap(),
            [(Kind::Email, "kim@example.org".to_owned())]
        );
        assert_eq!(
            got("020 7946 0958", Some("GB")).unwrap(),
            [
                (Kind::Phone, "+442079460958".to_owned()),
                (Kind::Username, "020 7946 0958".to_owned())
            ]
        );
        assert_eq!(
            got("5551234567", None).unwrap(),
            [(Kind::Username, "5551234567".to_owned())]
        );
        assert!(got("no-at-all@", None).is_err());
        assert!(got("   ", None).is_err());
    }

    #[test]
    fn emails() {
        use Kind::Email;
        check(
            Email,
            " Foo.Bar+Tag@Example.COM ",
            None,
            Ok("foo.bar+tag@example.com"),
        );
        check(Email, "user@example.com.", None, Ok("user@example.com"));
        check(
            Email,
            "user@bücher.example",
            None,
            Ok("user@xn--bcher-kva.example"),
        );
        check(
            Email,
            "user@BÜCHER.Example",
            None,
            Ok("user@xn--bcher-kva.example"),
        );
        check(
            Email,
            "user@xn--bcher-kva.example",
            None,
            Ok("user@xn--bcher-kva.example"),
        );
        check(Email, "ÄBC@example.com", None, Ok("äbc@example.com"));
        check(
            Email,
            "o'brien-x_y@sub.example.co.uk",
            None,
            Ok("o'brien-x_y@sub.example.co.uk"),
        );
        check(Email, "a@b@example.com", None, Err(()));
        for bad in [
            "",
            "   ",
            "no-at-sign",
            "@example.com",
            "user@",
            "user@localhost",
            "user@exa mple.com",
            "user..dots@example.com",
            ".user@example.com",
            "user.@example.com",
            "us er@example.com",
            "user@[192.168.0.1]",
            "user@example.123",
            "user@-bad-.example",
            "user@ex_ample.com",
            "user\u{7}@example.com",
        ] {
            check(Email, bad, None, Err(()));
        }
        check(
            Email,
            &format!("{}@example.com", "a".repeat(64)),
            None,
            Ok(&format!("{}@example.com", "a".repeat(64))),
        );
        check(
            Email,
            &format!("{}@example.com", "a".repeat(65)),
            None,
            Err(()),
        );
    }

    #[test]
    fn phones() {
        use Kind::Phone;
        check(Phone, "+44 20 7946 0958", None, Ok("+442079460958"));
        check(Phone, "020 7946 0958", Some("GB"), Ok("+442079460958"));
        check(Phone, "020 7946 0958", Some("gb"), Ok("+442079460958"));
        check(Phone, "0044 20 7946 0958", None, Ok("+442079460958"));
        check(Phone, "+1 (650) 253-0000", None, Ok("+16502530000"));
        check(Phone, "650-253-0000", Some("US"), Ok("+16502530000"));
        check(Phone, "030 901820", Some("DE"), Ok("+4930901820"));
        check(Phone, "020 7946 0958", None, Err(()));
        check(Phone, "12345", Some("US"), Err(()));
        check(Phone, "+44 20", None, Err(()));
        check(Phone, "not a number", Some("GB"), Err(()));
        check(Phone, "020 7946 0958", Some("XX"), Err(()));
    }

    /// Found by fuzz target `dump_lines` (seed `fuzz/seeds/dump_lines/phone-renormalised`):
    /// read with a default region, an international number lost a leading 0 of its own
    /// national number to the *region's* national prefix, so `+8000000000002` came out as
    /// `+80000000002`, which read again was not a valid number.
    #[test]
    fn regression_fuzz_dump_lines_phone_renormalised_international_numbers_keep_their_zeros() {
        use Kind::Phone;
        for region in [None, Some("GB"), Some("US"), Some("IT")] {
            check(Phone, "+39 06 1234 5678", region, Ok("+390612345678"));
            check(Phone, "+800 1234 5678", region, Ok("+80012345678"));
            check(Phone, "+8000000000002", region, Err(()));
        }
        check(Phone, "0039 06 1234 5678", Some("GB"), Ok("+390612345678"));
        check(
            Phone,
            "011 39 06 1234 5678",
            Some("US"),
            Ok("+390612345678"),
        );
        check(Phone, "00 800 1234 5678", Some("GB"), Ok("+80012345678"));
        check(Phone, "06 1234 5678", Some("IT"), Ok("+390612345678"));
        check(
            Phone,
            "+44 20 7946 0958 ext. 123",
            Some("DE"),
            Ok("+442079460958"),
        );
        check(
            Phone,
            "0044 20 7946 0958 ext. 123",
            Some("DE"),
            Ok("+442079460958"),
        );
    }

    /// Found by fuzz target `dump_lines` (crash-2f5c82ea): a line of letters and digits that
    /// phonenumber read (with GB) as +37080000070, which it does not read back. A number
    /// whose E.164 form is not a fixed point is refused.
    #[test]
    fn regression_fuzz_dump_lines_crash_2f5c82ea_only_fixed_points_are_phone_numbers() {
        let raw = "{JJJJJJJJJJJJJJJ003~p0800000R0'";
        for region in [None, Some("GB")] {
            if let Ok(once) = normalize_phone(raw, region) {
                assert_eq!(normalize_phone(&once, None).as_deref(), Ok(once.as_str()));
                assert_eq!(normalize_phone(&once, region).as_deref(), Ok(once.as_str()));
            }
        }
        check(
            Kind::Phone,
            "+44 20 7946 0958",
            Some("GB"),
            Ok("+442079460958"),
        );
    }

    /// Whatever a phone number normalises to normalises to itself, with or without a region.
    #[test]
    fn phone_normalisation_is_idempotent() {
        let inputs = [
            "+8000000000002",
            "+80000000002",
            "+39 06 1234 5678",
            "0039 06 1234 5678",
            "011 39 06 1234 5678",
            "020 7946 0958",
            "+44 (0) 20 7946 0958",
            "650-253-0000",
            "+1 650 253 0000",
            "030 901820",
            "+49 30 901820",
            "00 800 1234 5678",
            "+378 0549 123456",
            "+7 495 123-45-67",
            "8 (495) 123-45-67",
            "+61 2 9876 5432",
        ];
        for raw in inputs {
            for region in [
                None,
                Some("GB"),
                Some("US"),
                Some("IT"),
                Some("RU"),
                Some("AU"),
            ] {
                if let Ok(once) = normalize_phone(raw, region) {
                    for again_region in [None, region] {
                        assert_eq!(
                            normalize_phone(&once, again_region).as_deref(),
                            Ok(once.as_str()),
                            "{raw:?} read with {region:?} gave {once:?}, read again with {again_region:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn usernames() {
        use Kind::Username;
        check(Username, "  JohnDoe ", None, Ok("johndoe"));
        check(Username, "Straße", None, Ok("strasse"));
        check(Username, "ΣΊΣΥΦΟΣ", None, Ok("σίσυφοσ"));
        check(Username, "two words", None, Ok("two words"));
        check(Username, " ", None, Err(()));
        check(Username, "bad\u{0}name", None, Err(()));
    }

    #[test]
    fn detection_and_hashing() {
        assert_eq!(guess_kind("a@b.example"), Kind::Email);
        assert_eq!(guess_kind("+44 20 7946 0958"), Kind::Phone);
        assert_eq!(guess_kind("020 7946 0958"), Kind::Phone);
        assert_eq!(guess_kind("(650) 253-0000"), Kind::Phone);
        assert_eq!(guess_kind("leet1337"), Kind::Username);
        assert_eq!(guess_kind("1234"), Kind::Username);
        // HIBP's range search hashes the lower-cased address: SHA-1("test@example.com").
        let id = Identifier::detect("Test@Example.com", None).unwrap();
        assert_eq!(id.sha1_hex(), "567159D622FFBB50B11B0EFD307BE358624A26EE");
        assert_eq!(id.email_domain(), Some("example.com"));
    }

    #[test]
    fn errors_never_quote_the_identifier() {
        let e = Identifier::parse(Kind::Email, "secret.person@", None).unwrap_err();
        assert!(!e.to_string().contains("secret"));
    }
}
