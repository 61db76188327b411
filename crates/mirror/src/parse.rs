//! A range answer's body: `SUFFIX:COUNT` lines (CRLF or LF) to sorted keys with counts.
//!
//! Padding lines (count 0, from `Add-Padding`) are not entries and are skipped silently.
//! Other lines that are not a suffix of the namespace's length and a count are rejected:
//! counted, reported by range and line number (never by content), and skipped. Repeated
//! suffixes are summed, as an import sums repeated hashes.
//!
//! This module does not decompress or fetch anything.

use leakwatch_store::{Key, Namespace};

/// One line that was not an entry: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based line number in the body.
    pub line: u32,
    /// Why it is not an entry.
    pub reason: &'static str,
}

/// The entries of range `prefix` in `body`, sorted by key, and the lines rejected.
pub fn parse_range(ns: Namespace, prefix: u32, body: &[u8]) -> (Vec<(Key, u64)>, Vec<Rejected>) {
    let digits = ns.suffix_hex_len();
    let head = format!("{prefix:05X}");
    let mut entries = Vec::with_capacity(body.len() / (digits + 4) + 1);
    let mut rejected = Vec::new();
    let mut hex = Vec::with_capacity(ns.hex_len());
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let mut reject = |reason| {
            rejected.push(Rejected {
                line: i as u32 + 1,
                reason,
            });
        };
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            reject("no ':' between suffix and count");
            continue;
        };
        let (suffix, count) = (&line[..colon], &line[colon + 1..]);
        if suffix.len() != digits {
            reject("suffix of the wrong length for the mode");
            continue;
        }
        let count = match std::str::from_utf8(count)
            .ok()
            .map(str::trim)
            .map(str::parse::<u64>)
        {
            Some(Ok(c)) => c,
            _ => {
                reject("count is not a number");
                continue;
            }
        };
        if count == 0 {
            continue; // padding
        }
        hex.clear();
        hex.extend_from_slice(head.as_bytes());
        hex.extend_from_slice(suffix);
        match Key::from_hex(&hex) {
            Some(key) => entries.push((key, count)),
            None => reject("suffix is not hexadecimal"),
        }
    }
    leakwatch_store::sum_repeats(&mut entries);
    (entries, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ns: Namespace, prefix: u32, body: &str, want: &[(&str, u64)], rejected: &[u32]) {
        let (entries, bad) = parse_range(ns, prefix, body.as_bytes());
        let got: Vec<(String, u64)> = entries.iter().map(|&(k, c)| (k.to_hex(ns), c)).collect();
        let want: Vec<(String, u64)> = want.iter().map(|&(h, c)| (h.to_owned(), c)).collect();
        assert_eq!(got, want, "{body:?}");
        assert_eq!(
            bad.iter().map(|r| r.line).collect::<Vec<_>>(),
            rejected,
            "{body:?}"
        );
    }

    #[test]
    fn lines_become_sorted_summed_entries_and_bad_lines_are_named_by_number() {
        let sha = Namespace::Sha1;
        check(
            sha,
            0x5BAA6,
            "1E4C9B93F3F0682250B6CF8331B7EE68FD8:3\r\n0018A45C4D1DEF81644B54AB7F969B88D65:1",
            &[
                ("5BAA60018A45C4D1DEF81644B54AB7F969B88D65", 1),
                ("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8", 3),
            ],
            &[],
        );
        // Lower case, LF, a trailing newline, padding, a repeat.
        check(
            sha,
            0x00000,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:5\nBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB:0\n",
            &[("00000AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 7)],
            &[],
        );
        check(
            sha,
            1,
            "nocolon\r\nABC:1\r\nZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ:1\r\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:x\r\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:-1",
            &[],
            &[1, 2, 3, 4, 5],
        );
        check(
            Namespace::Ntlm,
            0xFFFFF,
            "0123456789ABCDEF0123456789A:10434004",
            &[("FFFFF0123456789ABCDEF0123456789A", 10_434_004)],
            &[],
        );
        // A SHA-1 suffix in NTLM mode is the wrong length.
        check(
            Namespace::Ntlm,
            0,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:1",
            &[],
            &[1],
        );
        check(sha, 0, "", &[], &[]);
    }
}
