//! Password audit: reads an export of an organisation's password hashes and reports the
//! accounts whose password is in the store (it has been seen in a breach), how often it was
//! seen, and which accounts share one password.
//!
//! Inputs, detected from the first usable line: a pwdump / impacket-secretsdump export
//! (`user:rid:lmhash:ntlmhash:::`, `DOMAIN\user` names kept as they are), a `user,ntlm` CSV
//! (an optional header; `;` or tab also separate), or a list of SHA-1 hashes (one per line,
//! optionally `HASH:anything`). A line that does not parse is counted, its line number
//! kept (never its content: it may hold a hash), and the audit goes on. Machine accounts
//! (`name$`) and disabled-looking empty hashes (the well-known empty-password NTLM is
//! reported, since it *is* a breached password) are treated like any other line.
//! Hashes are looked up, never printed here; callers decide whether to show them.

use std::{
    collections::HashMap,
    io::{BufRead, Read},
};

use leakwatch_store::{Key, Namespace, Snapshot, StoreError};

/// What an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ExportFormat {
    /// `user:rid:lm:ntlm:::` (pwdump, secretsdump).
    Pwdump,
    /// `user,ntlm` (or `;` / tab separated), optionally with a header.
    Csv,
    /// One SHA-1 hash per line (anything after a `:` ignored); accounts are named by line.
    Sha1,
}

/// One account of the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user name as the export spells it (for a SHA-1 list: `line N`).
    pub user: String,
    /// The relative id, when the export has one.
    pub rid: Option<u32>,
    /// The password hash.
    pub hash: Key,
}

/// Why an export could not be audited at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading the export failed.
    #[error("reading the export: {0}")]
    Io(#[from] std::io::Error),
    /// No line looked like any supported format.
    #[error("no line looks like a pwdump (user:rid:lm:ntlm:::), user,ntlm CSV or SHA-1 export")]
    UnknownFormat,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A parsed export.
#[derive(Debug, Clone, Default)]
pub struct Export {
    /// Its format (detected or given).
    pub format: Option<ExportFormat>,
    /// Every account read.
    pub accounts: Vec<Account>,
    /// Line numbers (1-based) of lines that did not parse, at most [`MAX_REJECT_LINES`].
    pub rejected_lines: Vec<u64>,
    /// How many lines did not parse.
    pub rejected: u64,
}

/// How many rejected line numbers are kept.
pub const MAX_REJECT_LINES: usize = 20;

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn key(hex: &str) -> Option<Key> {
    Key::from_hex(hex.as_bytes())
}

/// The format a line is in, if any.
fn detect(line: &str) -> Option<ExportFormat> {
    let fields: Vec<&str> = line.split(':').collect();
    if fields.len() >= 4 && fields[1].parse::<u32>().is_ok() && is_hex(fields[3], 32) {
        return Some(ExportFormat::Pwdump);
    }
    if let Some((_, hash)) = split_csv(line)
        && is_hex(hash.trim(), 32)
    {
        return Some(ExportFormat::Csv);
    }
    let first = line.split(':').next().unwrap_or("").trim();
    is_hex(first, 40).then_some(ExportFormat::Sha1)
}

fn split_csv(line: &str) -> Option<(&str, &str)> {
    [',', ';', '\t']
        .iter()
        .find_map(|&sep| line.rsplit_once(sep))
}

/// One account from a line in `format`; `None` if the line does not parse.
fn parse(format: ExportFormat, line: &str, number: u64) -> Option<Account> {
    match format {
        ExportFormat::Pwdump => {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 4 || fields[0].is_empty() || !is_hex(fields[3], 32) {
                return None;
            }
            Some(Account {
                user: fields[0].to_owned(),
                rid: Some(fields[1].parse().ok()?),
                hash: key(fields[3])?,
            })
        }
        ExportFormat::Csv => {
            let (user, hash) = split_csv(line)?;
            let (user, hash) = (user.trim().trim_matches('"'), hash.trim().trim_matches('"'));
            if user.is_empty() || !is_hex(hash, 32) {
                return None;
            }
            Some(Account {
                user: user.to_owned(),
                rid: None,
                hash: key(hash)?,
            })
        }
        ExportFormat::Sha1 => {
            let hash = line.split(':').next()?.trim();
            is_hex(hash, 40).then(|| Account {
                user: format!("line {number}"),
                rid: None,
                hash: key(hash).expect("checked hex"),
            })
        }
    }
}

/// Reads an export; `format` `None` detects it from the first line that parses as one.
/// Blank lines, `#` comments and a CSV header line are skipped without counting as rejects.
pub fn read_export(input: impl Read, format: Option<ExportFormat>) -> Result<Export, AuditError> {
    let mut export = Export {
        format,
        ..Export::default()
    };
    let mut reader = std::io::BufReader::new(input);
    let mut raw = Vec::new();
    let mut number = 0u64;
    loop {
        raw.clear();
        if reader.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        number += 1;
        let text = String::from_utf8_lossy(&raw);
        let line = text
            .trim_end_matches(['\n', '\r'])
            .trim_start_matches('\u{feff}');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if export.format.is_none() {
            export.format = detect(line);
            if export.format.is_none() {
                // A header (user,ntlm) or junk before the first account line.
                if number == 1 && split_csv(line).is_some() {
                    continue;
                }
                reject(&mut export, number);
                continue;
            }
        }
        let format = export.format.expect("set above");
        if number == 1 && format == ExportFormat::Csv && detect(line) != Some(ExportFormat::Csv) {
            continue; // header
        }
        match parse(format, line, number) {
            Some(account) => export.accounts.push(account),
            None => reject(&mut export, number),
        }
    }
    if export.format.is_none() {
        return Err(AuditError::UnknownFormat);
    }
    Ok(export)
}

fn reject(export: &mut Export, number: u64) {
    export.rejected += 1;
    if export.rejected_lines.len() < MAX_REJECT_LINES {
        export.rejected_lines.push(number);
    }
}

/// An account whose password is in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The account.
    pub account: Account,
    /// How often its password was seen in breaches.
    pub seen: u64,
    /// How many accounts of the export (itself included) use the same password.
    pub shared_by: usize,
}

/// The audit's result.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Accounts audited.
    pub accounts: usize,
    /// Accounts whose password is in the store, most-seen first.
    pub exposed: Vec<Finding>,
    /// Groups of accounts sharing one password (two or more), largest first; each group's
    /// user names sorted, with whether that password is exposed.
    pub shared: Vec<(Vec<String>, bool)>,
}

/// Looks every account's hash up in `snap` (NTLM for pwdump and CSV, SHA-1 for a SHA-1 list).
pub fn audit(snap: &Snapshot, export: &Export) -> Result<Report, AuditError> {
    let ns = match export.format {
        Some(ExportFormat::Sha1) => Namespace::Sha1,
        _ => Namespace::Ntlm,
    };
    let mut by_hash: HashMap<Key, Vec<usize>> = HashMap::new();
    for (i, a) in export.accounts.iter().enumerate() {
        by_hash.entry(a.hash).or_default().push(i);
    }
    let mut seen: HashMap<Key, u64> = HashMap::with_capacity(by_hash.len());
    for &hash in by_hash.keys() {
        let n = snap.count(ns, hash)?;
        if n > 0 {
            seen.insert(hash, n);
        }
    }
    let mut exposed: Vec<Finding> = export
        .accounts
        .iter()
        .filter_map(|a| {
            Some(Finding {
                account: a.clone(),
                seen: *seen.get(&a.hash)?,
                shared_by: by_hash[&a.hash].len(),
            })
        })
        .collect();
    exposed.sort_by(|a, b| {
        b.seen
            .cmp(&a.seen)
            .then_with(|| a.account.user.cmp(&b.account.user))
    });
    let mut shared: Vec<(Vec<String>, bool)> = by_hash
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(hash, ids)| {
            let mut users: Vec<String> = ids
                .iter()
                .map(|&i| export.accounts[i].user.clone())
                .collect();
            users.sort();
            (users, seen.contains_key(hash))
        })
        .collect();
    shared.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    Ok(Report {
        accounts: export.accounts.len(),
        exposed,
        shared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, format: ExportFormat, users: &[&str], rejected: &[u64]) {
        let export = read_export(text.as_bytes(), None).unwrap();
        assert_eq!(export.format, Some(format), "{text}");
        let got: Vec<&str> = export.accounts.iter().map(|a| a.user.as_str()).collect();
        assert_eq!(got, users, "{text}");
        assert_eq!(export.rejected_lines, rejected, "{text}");
    }

    #[test]
    fn formats_are_detected_and_bad_lines_counted_by_number() {
        let ntlm = "8846F7EAEE8FB117AD06BDD830B7586C";
        check(
            &format!(
                "Administrator:500:aad3b435b51404eeaad3b435b51404ee:{ntlm}:::\nCORP\\bob:1104:aad3b435b51404eeaad3b435b51404ee:{ntlm}:::\nbroken line\nWS01$:1105:x:{ntlm}:::\n"
            ),
            ExportFormat::Pwdump,
            &["Administrator", "CORP\\bob", "WS01$"],
            &[3],
        );
        check(
            &format!(
                "user,ntlm\nalice,{ntlm}\n\"bob smith\",{}\ncarol,nothex\n",
                ntlm.to_lowercase()
            ),
            ExportFormat::Csv,
            &["alice", "bob smith"],
            &[4],
        );
        check(&format!("dave;{ntlm}\n"), ExportFormat::Csv, &["dave"], &[]);
        check(
            "# exported\n5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8\n5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8:3\nZZ\n",
            ExportFormat::Sha1,
            &["line 2", "line 3"],
            &[4],
        );
        assert!(matches!(
            read_export(&b"nothing\nto see\n"[..], None),
            Err(AuditError::UnknownFormat)
        ));
    }

    #[test]
    fn ntlm_of_password_matches_the_known_vector() {
        use md4::Digest;
        let utf16: Vec<u8> = "password"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let digest = md4::Md4::digest(&utf16);
        assert_eq!(
            Key::from_digest(&digest),
            key("8846F7EAEE8FB117AD06BDD830B7586C")
        );
    }
}
