//! Input formats and line parsing: from one line of text to (namespace, key, count) records.
//!
//! Pure functions, no I/O: detection looks at sample lines, parsing looks at one line.
//! Plaintext passwords are hashed here and nowhere else, and never copied out of the line
//! buffer; a rejected plaintext line is reported by number and reason only.

use leakwatch_store::{Key, Namespace};

/// The formats `leakwatch ingest` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Pwned Passwords lines `HASH:COUNT`: 40 hex digits (SHA-1) or 32 (NTLM), any case.
    Hibp,
    /// The official downloader's directory of `XXXXX.txt` files of `SUFFIX:COUNT` lines.
    HibpDir,
    /// One plaintext password per line; each is hashed to SHA-1 and NTLM, counted once.
    Plain,
    /// A breach dump of `identifier<sep>password` lines ([`crate::dump`]).
    Combo,
    /// A breach dump in CSV with a header.
    Csv,
    /// A breach dump in TSV with a header.
    Tsv,
    /// A breach dump in JSON Lines.
    Jsonl,
    /// Stealer logs: a file, a directory tree or an archive of ULP lines, `Key: value`
    /// blocks and url/login/password tables ([`crate::stealer`]).
    Stealer,
}

impl Format {
    /// Whether rejected lines of this format may contain a plaintext secret (a password,
    /// or an identifier that must not be logged in clear).
    pub fn lines_are_secret(self) -> bool {
        !matches!(self, Format::Hibp | Format::HibpDir)
    }
    /// Whether this is a breach-dump format (identifiers linked to a breach).
    pub fn is_dump(self) -> bool {
        matches!(
            self,
            Format::Combo | Format::Csv | Format::Tsv | Format::Jsonl | Format::Stealer
        )
    }
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Hibp => "hibp",
            Format::HibpDir => "hibp-dir",
            Format::Plain => "plain",
            Format::Combo => "combo",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Jsonl => "jsonl",
            Format::Stealer => "stealer",
        }
    }
}

/// Longest plaintext password line accepted, in bytes.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a line was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Nothing but white space.
    Empty,
    /// Not `HEX:COUNT` with 40 or 32 hex digits.
    NotAHashLine,
    /// The hash has a non-hex digit.
    BadHex,
    /// The count is missing, not a number, or out of range.
    BadCount,
    /// The count is 0 (padding entries, never real data).
    ZeroCount,
    /// A password line that is not valid UTF-8 (NTLM needs text).
    NotUtf8,
    /// A password over [`MAX_PASSWORD_LEN`] bytes.
    TooLong,
    /// A dump line's identifier did not normalise.
    Identifier(leakwatch_identity::InvalidIdentifier),
    /// A dump line with no identifier in any mapped field.
    NoIdentifier,
    /// A CSV/TSV line with fewer fields than the mapping needs.
    TooFewColumns,
    /// A CSV/TSV line whose quotes do not close (or a field spanning lines).
    BadQuoting,
    /// A JSON Lines line that is not a JSON object of strings and numbers.
    BadJson,
    /// A stealer-log unit (a line, or a block) that does not read.
    Stealer(crate::stealer::Malformed),
}

impl Reject {
    /// A short human reason (never quoting the line).
    pub fn reason(self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(match self {
            Reject::Empty => "empty line",
            Reject::NotAHashLine => "not HASH:COUNT with a 40-hex SHA-1 or 32-hex NTLM hash",
            Reject::BadHex => "hash is not hexadecimal",
            Reject::BadCount => "count missing or not a positive integer",
            Reject::ZeroCount => "count is 0",
            Reject::NotUtf8 => "password is not valid UTF-8",
            Reject::TooLong => "password longer than 1024 bytes",
            Reject::Identifier(e) => return std::borrow::Cow::Owned(e.to_string()),
            Reject::NoIdentifier => "no identifier (e-mail, phone or username) in the line",
            Reject::TooFewColumns => "fewer fields than the column mapping needs",
            Reject::BadQuoting => "unbalanced or misplaced quotes (fields may not span lines)",
            Reject::BadJson => "not a JSON object of string or number fields",
            Reject::Stealer(m) => m.reason(),
        })
    }
}

/// Strips a trailing `\r` (CRLF files).
#[inline]
pub fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses a `HASH:COUNT` line into its namespace, key and count.
pub fn parse_hash_line(line: &[u8]) -> Result<(Namespace, Key, u64), Reject> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Err(Reject::Empty);
    }
    let (hash, count) = match memchr::memchr(b':', line) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => return Err(Reject::NotAHashLine),
    };
    let ns = Namespace::from_hex_len(hash.len()).ok_or(Reject::NotAHashLine)?;
    let key = Key::from_hex(hash).ok_or(Reject::BadHex)?;
    let count = parse_count(count)?;
    Ok((ns, key, count))
}

fn parse_count(s: &[u8]) -> Result<u64, Reject> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return Err(Reject::BadCount);
    }
    let n = s.iter().fold(0u64, |acc, &d| acc * 10 + (d - b'0') as u64);
    if n == 0 {
        Err(Reject::ZeroCount)
    } else {
        Ok(n)
    }
}

/// SHA-1 and NTLM keys of one plaintext password line.
pub fn hash_password(line: &[u8]) -> Result<(Key, Key), Reject> {
    if line.is_empty() {
        return Err(Reject::Empty);
    }
    if line.len() > MAX_PASSWORD_LEN {
        return Err(Reject::TooLong);
    }
    let text = std::str::from_utf8(line).map_err(|_| Reject::NotUtf8)?;
    Ok((Key::sha1_of(text.as_bytes()), Key::ntlm_of(text)))
}

/// Picks `Hibp` when every sampled non-empty line is a hash line, else `Plain`.
pub fn detect(sample: &[u8]) -> Format {
    let mut lines = sample
        .split(|&b| b == b'\n')
        .map(trim_cr)
        .map(|l| l.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(l))
        .filter(|l| !l.trim_ascii().is_empty())
        .take(50)
        .peekable();
    // The last line of a sample may be cut short; judge it only if it is the only one.
    if lines.peek().is_none() {
        return Format::Plain;
    }
    let sampled: Vec<&[u8]> = lines.collect();
    let judged = if sampled.len() > 1 && !sample.ends_with(b"\n") {
        &sampled[..sampled.len() - 1]
    } else {
        &sampled[..]
    };
    if judged.iter().all(|l| parse_hash_line(l).is_ok()) {
        Format::Hibp
    } else {
        Format::Plain
    }
}

/// Whether a rejected line may be quoted in the rejects file: only text that looks like a
/// damaged hash line (hex, digits, `:`, white space), and never for password formats.
pub fn quotable(format: Format, line: &[u8]) -> bool {
    !format.lines_are_secret()
        && line
            .iter()
            .all(|b| b.is_ascii_hexdigit() || b":\r\t ".contains(b) || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expected: Result<(Namespace, &str, u64), Reject>) {
        let got = parse_hash_line(line.as_bytes()).map(|(ns, k, c)| (ns, k.to_hex(ns), c));
        assert_eq!(
            got,
            expected.map(|(ns, h, c)| (ns, h.to_string(), c)),
            "{line:?}"
        );
    }

    #[test]
    fn hash_lines() {
        let sha = "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8";
        check(
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004",
            Ok((Namespace::Sha1, sha, 10434004)),
        );
        check(
            "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8:3\r",
            Ok((Namespace::Sha1, sha, 3)),
        );
        check(
            "  8846F7EAEE8FB117AD06BDD830B7586C:7 ",
            Ok((Namespace::Ntlm, "8846F7EAEE8FB117AD06BDD830B7586C", 7)),
        );
        check("", Err(Reject::Empty));
        check(
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8",
            Err(Reject::NotAHashLine),
        );
        check(
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD:1",
            Err(Reject::NotAHashLine),
        );
        check(
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FDX:1",
            Err(Reject::BadHex),
        );
        check(
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:",
            Err(Reject::BadCount),
        );
        check(
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:-1",
            Err(Reject::BadCount),
        );
        check(
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:99999999999999999999",
            Err(Reject::BadCount),
        );
        check(
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:0",
            Err(Reject::ZeroCount),
        );
    }

    #[test]
    fn password_hashes_match_known_vectors() {
        let (sha, ntlm) = hash_password(b"password").unwrap();
        assert_eq!(
            sha.to_hex(Namespace::Sha1),
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"
        );
        assert_eq!(
            ntlm.to_hex(Namespace::Ntlm),
            "8846F7EAEE8FB117AD06BDD830B7586C"
        );
        // Non-ASCII goes through UTF-16LE for NTLM.
        let (_, ntlm) = hash_password("pässwörd".as_bytes()).unwrap();
        assert_eq!(ntlm, Key::ntlm_of("pässwörd"));
        assert_eq!(hash_password(b""), Err(Reject::Empty));
        assert_eq!(hash_password(b"\xFF\xFE"), Err(Reject::NotUtf8));
        assert_eq!(hash_password(&[b'a'; 1025]), Err(Reject::TooLong));
    }

    #[test]
    fn detection() {
        assert_eq!(detect(b"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1\r\n8846F7EAEE8FB117AD06BDD830B7586C:2\n"), Format::Hibp);
        assert_eq!(
            detect(b"\xEF\xBB\xBF5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1\n5BAA6"),
            Format::Hibp
        );
        assert_eq!(detect(b"password\n123456\n"), Format::Plain);
        assert_eq!(
            detect(b"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1\nhunter2\n"),
            Format::Plain
        );
        assert_eq!(detect(b""), Format::Plain);
    }

    #[test]
    fn secrets_are_never_quotable() {
        assert!(quotable(
            Format::Hibp,
            b"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:12a"
        ));
        assert!(!quotable(Format::Hibp, b"hunter2"));
        assert!(!quotable(Format::Plain, b"ABCDEF"));
    }
}
