//! Pastes (issue #22): adding one to the catalogue — every e-mail address found in its text,
//! normalised, kept only as a digest keyed under the operator key (so the catalogue, which
//! may live on a shared PostgreSQL server, holds no address and no digest anyone without the
//! key can test guesses against) — and HIBP's `pasteaccount` lookup, scope `pastes`. An
//! address forgotten in the store (`leakwatch forget`, opt-out) is never answered, from the
//! moment the store forgets it; `forget` with the operator key also drops its rows.

use std::collections::BTreeSet;

use leakwatch_catalog::{
    Catalog, CatalogError, format_date_time, keys::Scope, parse_date, pastes::Paste,
};
use leakwatch_identity::OperatorKey;
use leakwatch_store::{Key, Snapshot};

use crate::{Principal, ServiceError};

/// What a paste is filed under, before its addresses are counted.
#[derive(Debug, Clone)]
pub struct PasteMeta {
    /// Where it was posted (`Pastebin`, …).
    pub source: String,
    /// Its id there.
    pub id: String,
    /// Its title, if any.
    pub title: Option<String>,
    /// When it was posted: RFC 3339 (any offset, read as UTC) or `YYYY-MM-DD`.
    pub date: Option<String>,
}

/// What adding a paste did.
#[derive(Debug, Clone)]
pub struct Added {
    /// The paste as `pasteaccount` answers it.
    pub paste: Paste,
    /// It replaced the paste of the same source and id.
    pub replaced: bool,
}

/// The digest a paste's address is filed under: keyed under the operator key, so the
/// rows are worthless without it.
pub fn account_digest(key: &OperatorKey, address: &str) -> [u8; 32] {
    key.keyed_digest(b"leakwatch paste account v1", address.as_bytes())
}

/// The digest a paste's e-mail domain is counted under, for alerts to the domain's owner.
pub fn domain_digest(key: &OperatorKey, domain: &str) -> [u8; 32] {
    key.keyed_digest(b"leakwatch paste domain v1", domain.as_bytes())
}

/// Adds the paste `meta` of text `text`, with every address in it (see
/// [`addresses_in`]); the same source and id again replaces it.
pub fn add(
    catalog: &mut Catalog,
    _by: &Principal,
    key: &OperatorKey,
    meta: PasteMeta,
    text: &str,
) -> Result<Added, ServiceError> {
    let date = meta.date.as_deref().map(utc_date_time).transpose()?;
    let addresses = addresses_in(text);
    let digests: Vec<[u8; 32]> = addresses.iter().map(|a| account_digest(key, a)).collect();
    let mut per_domain: std::collections::BTreeMap<&str, u64> = Default::default();
    for a in &addresses {
        if let Some((_, domain)) = a.rsplit_once('@') {
            *per_domain.entry(domain).or_default() += 1;
        }
    }
    let domains: Vec<([u8; 32], u64)> = per_domain
        .into_iter()
        .map(|(d, n)| (domain_digest(key, d), n))
        .collect();
    let title = meta
        .title
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let paste = Paste {
        source: meta.source.trim().to_owned(),
        id: meta.id.trim().to_owned(),
        title,
        date,
        email_count: addresses.len() as u64,
    };
    let replaced = catalog.put_paste(&paste, &digests, &domains, crate::now_unix() as i64)?;
    Ok(Added { paste, replaced })
}

/// The pastes holding `email` (HIBP's `pasteaccount`), for a principal with scope `pastes`;
/// empty for an address the store has forgotten.
pub fn of_account(
    catalog: &Catalog,
    snap: &Snapshot,
    by: &Principal,
    key: &OperatorKey,
    email: &str,
) -> Result<Vec<Paste>, ServiceError> {
    by.require(Scope::Pastes)?;
    let address = leakwatch_identity::normalize_email(email)?;
    if snap.is_forgotten(Key::account(&address)) {
        return Ok(Vec::new());
    }
    Ok(catalog.pastes_of(&account_digest(key, &address))?)
}

/// Every paste, oldest first (the operator's listing).
pub fn list(catalog: &Catalog, _by: &Principal) -> Result<Vec<Paste>, ServiceError> {
    Ok(catalog.pastes()?)
}

/// Drops the paste rows of `addresses` (normalised as lookups read them); returns how
/// many links went.
pub fn forget(
    catalog: &mut Catalog,
    key: &OperatorKey,
    addresses: &[String],
) -> Result<usize, ServiceError> {
    let digests: Vec<[u8; 32]> = addresses
        .iter()
        .filter_map(|a| leakwatch_identity::normalize_email(a).ok())
        .map(|a| account_digest(key, &a))
        .collect();
    Ok(catalog.forget_paste_accounts(&digests)?)
}

/// Characters of an address's local part as extraction reads them: the conventional
/// `[A-Za-z0-9._%+-]`, not all of RFC 5322's atom text, whose quotes, `=` and `?` in a
/// paste are far more often the text around an address (`'a@b.example'`, MIME words)
/// than a part of it.
fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._%+-".contains(&b)
}

fn domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// Every distinct e-mail address in `text`, normalised: around each `@`, the longest run
/// of local-part characters before it and of host characters after it, trimmed of the
/// dots and hyphens that end sentences and lists; kept when the host has a dot and a
/// top-level label of two or more letters and the whole normalises as an address.
pub fn addresses_in(text: &str) -> BTreeSet<String> {
    let b = text.as_bytes();
    let mut found = BTreeSet::new();
    for at in memchr::memchr_iter(b'@', b) {
        let mut start = at;
        while start > 0 && local_char(b[start - 1]) {
            start -= 1;
        }
        while start < at && b[start] == b'.' {
            start += 1;
        }
        let mut end = at + 1;
        while end < b.len() && domain_char(b[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        if start == at || end == at + 1 {
            continue;
        }
        let host = &text[at + 1..end];
        let tld = host.rsplit_once('.').map(|(_, t)| t).unwrap_or("");
        if tld.len() < 2 || !tld.bytes().all(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        if let Ok(address) = leakwatch_identity::normalize_email(&text[start..end]) {
            found.insert(address);
        }
    }
    found
}

/// A paste's date as HIBP writes it (`YYYY-MM-DDTHH:MM:SSZ`), from RFC 3339 (`T`, `t` or a
/// space between date and time; fractions dropped; any offset turned into UTC) or a bare
/// `YYYY-MM-DD` (midnight UTC).
pub fn utc_date_time(raw: &str) -> Result<String, ServiceError> {
    let bad = || {
        ServiceError::Catalog(CatalogError::Invalid(format!(
            "a paste's date must be RFC 3339 (2014-03-04T19:14:54Z) or YYYY-MM-DD, not {raw:?}"
        )))
    };
    let s = raw.trim();
    let days = parse_date(s.get(..10).ok_or_else(bad)?).ok_or_else(bad)?;
    let rest = &s.as_bytes()[10..];
    let midnight = (days * 86_400) as u64;
    if rest.is_empty() {
        return Ok(format_date_time(midnight));
    }
    let num = |r: &[u8]| -> Option<i64> {
        (r.len() == 2 && r.iter().all(u8::is_ascii_digit))
            .then(|| i64::from(r[0] - b'0') * 10 + i64::from(r[1] - b'0'))
    };
    if rest.len() < 9
        || !matches!(rest[0], b'T' | b't' | b' ')
        || rest[3] != b':'
        || rest[6] != b':'
    {
        return Err(bad());
    }
    let (h, m, sec) = (
        num(&rest[1..3]).ok_or_else(bad)?,
        num(&rest[4..6]).ok_or_else(bad)?,
        num(&rest[7..9]).ok_or_else(bad)?,
    );
    if h > 23 || m > 59 || sec > 60 {
        return Err(bad());
    }
    let mut zone = &rest[9..];
    if let Some(frac) = zone.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad());
        }
        zone = &frac[digits..];
    }
    let offset = match zone {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), oh @ ..] if oh.len() == 5 && oh[2] == b':' => {
            let (oh, om) = (
                num(&oh[..2]).ok_or_else(bad)?,
                num(&oh[3..]).ok_or_else(bad)?,
            );
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let minutes = oh * 60 + om;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return Err(bad()),
    };
    // A leap second is read as the second before the next minute's first.
    let t = days * 86_400 + h * 3600 + m * 60 + sec.min(59) - offset * 60;
    u64::try_from(t).map(format_date_time).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_as_rfc_3339_or_a_day_and_written_as_hibp_does() {
        for (raw, want) in [
            ("2014-03-04", "2014-03-04T00:00:00Z"),
            ("2014-03-04T19:14:54Z", "2014-03-04T19:14:54Z"),
            ("2014-03-04t19:14:54.123z", "2014-03-04T19:14:54Z"),
            ("2014-03-04 19:14:54+02:30", "2014-03-04T16:44:54Z"),
            ("2014-03-04T23:30:00-01:00", "2014-03-05T00:30:00Z"),
            ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z"),
        ] {
            assert_eq!(utc_date_time(raw).unwrap(), want, "{raw}");
        }
        for raw in [
            "",
            "2014-3-4",
            "2014-02-30",
            "2014-03-04T19:14Z",
            "2014-03-04T19:14:54",
            "2014-03-04T24:00:00Z",
            "2014-03-04T19:14:54+0200",
            "2014-03-04T19:14:54.Z",
            "04/03/2014",
        ] {
            assert!(utc_date_time(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn addresses_are_found_in_running_text_once_each_and_normalised() {
        let text = "dump:\r\nAlice.Smith@Mailbox.Example:hunter2\n<bob+tag@corp.example>, \
                    'carol@corp.example'. mail dave@host then (erin@sub.corp.example).\n\
                    alice.smith@mailbox.example;pw\nnot@an-address, x@y.z, @corp.example, \
                    ..frank@corp.example.. and =?utf-8?q?gina@corp.example?=\n";
        let got: Vec<String> = addresses_in(text).into_iter().collect();
        assert_eq!(
            got,
            [
                "alice.smith@mailbox.example",
                "bob+tag@corp.example",
                "carol@corp.example",
                "erin@sub.corp.example",
                "frank@corp.example",
                "gina@corp.example",
            ]
        );
    }
}
