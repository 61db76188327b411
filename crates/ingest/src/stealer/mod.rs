//! Stealer logs (issue #22): from a log file to the credentials it captured — where each was
//! typed (the website), the login and the password.
//!
//! Three layouts, detected per file ([`detect`]):
//! - **ULP lines**, `URL:login:password`. The URL may hold colons itself (a port, a path,
//!   `android://…@com.app/`) and so may the password, so the URL is recognised first
//!   ([`split_ulp`]): a scheme and its authority (user-info and port included), then a path
//!   up to the next colon; then the login up to the next colon; the rest is the password. A
//!   line without a scheme is read as `host[:port][/path]:login:password`. A port is taken as
//!   one only when a login and a password still follow it (`host:8443:login:pw`); a path
//!   that holds a colon itself is read as ending there (the layout cannot tell).
//! - **Blocks**, as common stealer families write `passwords.txt` / `All Passwords.txt`:
//!   `Key: value` lines (`URL`/`Host`, `Username`/`Login`/`USER`, `Password`/`PASS`; others
//!   such as `Application`/`Soft`/`Browser` are read past), blocks separated by blank lines
//!   or lines of one repeated symbol (`====`, `----`, `****`) ([`Blocks`]).
//! - **CSV/TSV/JSONL** with url, login and password columns ([`Table`]): by `--map
//!   url=COL,login=COL,password=COL` or the conventional names (url/host/website,
//!   login/username/email, password/pass), RFC 4180 quoting as for dumps.
//!
//! A **website** is the registrable domain of the URL's host by the Public Suffix List
//! ([`website_of`]): IDN hosts in punycode, lower case. An IP-address host, a host that is
//! a public suffix itself or a single label (`localhost`), and an app scheme (`android://`,
//! anything but http, https, ftp, ws, wss) are captured credentials of **no website**.
//!
//! A unit that does not read — a line of the line layouts, a block of the block layout — is
//! a [`Malformed`] unit, counted and sampled by its (first) line number by the caller;
//! nothing here keeps or logs a line's content.

mod blocks;
pub(crate) mod import;
mod table;
mod tree;
mod ulp;
mod walk;

use std::borrow::Cow;

pub use blocks::{BlockRead, Blocks};
pub use table::{Table, TableMap};
pub use tree::{StealerLayout, TreeStats, TreeUnit, detect, read_file, read_source, read_tree};
pub use ulp::{parse_ulp, split_ulp};

/// Whether `source` holds stealer logs rather than a breach dump: a directory, a `.zip`,
/// `.tar` or `.tar.gz`, or a file (or standard input) whose first lines [`detect`] reads as
/// a stealer-log layout. A combolist (`address:password`) reads as none of them.
pub fn looks_like_logs(source: &crate::Source) -> Result<bool, crate::IngestError> {
    use std::io::Read;
    let path = match source {
        crate::Source::Dir(_) => return Ok(true),
        crate::Source::File(p) => p,
        // Standard input cannot be read twice: a stealer-log set's stdin is stealer logs.
        crate::Source::Stdin => return Ok(true),
    };
    let name = path.to_string_lossy().to_ascii_lowercase();
    if [".zip", ".tar", ".tar.gz", ".tgz"]
        .iter()
        .any(|e| name.ends_with(e))
    {
        return Ok(true);
    }
    let mut head = Vec::with_capacity(64 << 10);
    std::fs::File::open(path)
        .and_then(|f| f.take(64 << 10).read_to_end(&mut head))
        .map_err(crate::io_err(format!("reading {}", path.display())))?;
    Ok(detect(Some(&name), &head) != StealerLayout::Other)
}

/// Where a credential was typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Website {
    /// The registrable domain of a web URL's host (punycode, lower case).
    Domain(String),
    /// An app scheme, an IP-address host, or a host that has no registrable domain.
    None,
}

/// Why a unit was not read (no content: only what kind of fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// No URL could be recognised at the start.
    NoUrl,
    /// The URL's host is empty or not a host name.
    BadHost,
    /// No login, or an empty one.
    NoLogin,
    /// No password, or an empty one.
    NoPassword,
    /// Not text (invalid UTF-8).
    NotText,
    /// A block with none of the fields a credential needs.
    Junk,
    /// A table row that does not split into its columns (quoting), or a JSON line that is
    /// not an object.
    BadRow,
}

impl Malformed {
    /// A one-line reason, for the rejects file.
    pub fn reason(self) -> &'static str {
        match self {
            Malformed::NoUrl => "no URL at the start",
            Malformed::BadHost => "the URL has no valid host",
            Malformed::NoLogin => "no login",
            Malformed::NoPassword => "no password",
            Malformed::NotText => "not UTF-8 text",
            Malformed::Junk => "a block without URL, login and password",
            Malformed::BadRow => "a row that does not split into its columns",
        }
    }
}

/// One captured credential, as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture<'a> {
    /// Where it was typed.
    pub website: Website,
    /// The login as typed (trimmed): an e-mail address, a username, a phone number.
    pub login: Cow<'a, str>,
    /// The password, byte for byte.
    pub password: Cow<'a, [u8]>,
}

/// Schemes whose host is a website; any other scheme is an app's.
const WEB_SCHEMES: &[&str] = &["http", "https", "ftp", "ws", "wss"];

/// The website of `url` (a URL with a scheme, or `host[:port][/path]` without one).
pub fn website_of(url: &str) -> Result<Website, Malformed> {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => (scheme.to_ascii_lowercase(), rest),
        _ => ("http".to_owned(), url),
    };
    if !WEB_SCHEMES.contains(&scheme.as_str()) {
        return Ok(Website::None);
    }
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(Malformed::BadHost);
    }
    // The host as written: after any user-info, before any port.
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some((h, port)) if h.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    // Trailing dots go before the parser sees the host: WHATWG drops only one before it asks
    // whether the last label is a number, so `a.0x1..` would pass as a domain and be reported
    // as `a.0x1`, which is no host at all.
    let host = host.trim_end_matches('.');
    // IP addresses as a browser reads them (WHATWG: `0x7f.1` is one too).
    let parsed = url::Url::parse(&format!("{scheme}://{host}/")).map_err(|_| Malformed::BadHost)?;
    match parsed.host() {
        Some(url::Host::Domain(_)) => {}
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => return Ok(Website::None),
        None => return Err(Malformed::BadHost),
    }
    if !host.contains('.') {
        // One label (`localhost`, an intranet name): no registrable domain.
        return Ok(Website::None);
    }
    // Punycode as e-mail domains are normalised (UTS #46, IDNA 2008: `ß` stays `ß`), so a
    // website and an address's domain compare.
    let host = leakwatch_identity::normalize_domain(host).map_err(|_| Malformed::BadHost)?;
    // A host that is a public suffix itself has no registrable domain.
    Ok(match psl::domain_str(&host) {
        Some(domain) => Website::Domain(domain.to_owned()),
        None => Website::None,
    })
}

/// RFC 3986's scheme: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Which field a block's key, a table's column or a JSON key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Url,
    Login,
    Password,
    /// Known and read past (application, browser, profile…).
    Other,
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A website that is a registrable domain.
    pub(crate) fn domain(d: &str) -> Website {
        Website::Domain(d.to_owned())
    }

    #[test]
    fn websites_are_registrable_domains_and_apps_and_addresses_are_none() {
        let check = |url: &str, want: Result<Website, Malformed>| {
            assert_eq!(website_of(url), want, "{url}");
        };
        check("https://www.netflix.com/login", Ok(domain("netflix.com")));
        check(
            "https://accounts.google.co.uk:8443/x",
            Ok(domain("google.co.uk")),
        );
        check("HTTP://Shop.EXAMPLE.test/", Ok(domain("example.test")));
        check(
            "https://user:pw@mail.example.org/",
            Ok(domain("example.org")),
        );
        check("bücher.example.de/login", Ok(domain("example.de")));
        check("https://münchen.de/", Ok(domain("xn--mnchen-3ya.de")));
        check("login.example.com:8080", Ok(domain("example.com")));
        check("https://192.0.2.7/admin", Ok(Website::None));
        check("http://[2001:db8::1]:8080/", Ok(Website::None));
        check("android://hash==@com.example.app/", Ok(Website::None));
        check("https://localhost:3000/", Ok(Website::None));
        check("https://co.uk/", Ok(Website::None));
        check("https:///nohost", Err(Malformed::BadHost));
        check("https://exa mple.com/", Err(Malformed::BadHost));
    }

    /// Fuzz `stealer_logs` (CI of 2026-12-07): a browser drops one trailing dot before it
    /// asks whether a host ends in a number, so `a.0x1..` was a domain while the `a.0x1` it
    /// was reported as is an address that does not parse; a website must be its own website.
    #[test]
    fn regression_trailing_dots_hid_a_numeric_last_label() {
        for url in ["a.0x1..", "http://a.0x1../", "a.0x1.", "a.0x1", "b.a.12.."] {
            assert_eq!(website_of(url), Err(Malformed::BadHost), "{url}");
        }
        assert_eq!(website_of("shop.example.com.."), Ok(domain("example.com")));
    }
}
