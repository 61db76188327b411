//! Synthetic breach dumps: the files `leakwatch ingest --breach` will read.
//!
//! Each line is one fictional account: an e-mail address on reserved domains (`.example`,
//! `.test`; a few dominant "providers" take most addresses, as in real dumps, the rest spread
//! over many company domains), a username, sometimes a phone number in a range set aside
//! for fiction (UK 020 7946 0xxx; libphonenumber rejects the 07700 900xxx mobile range), and
//! a password from the same Zipf model as the password lists. Some passwords contain the separator, some lines carry no password, and a chosen
//! share of lines is malformed in the ways real dumps are. Deterministic from the seed.

use std::io::{self, Write};

use crate::{Rng, password};

/// Dump formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// `email<sep>password` lines (`sep` one of `:` `;` `|` tab).
    Combo(u8),
    /// CSV with a header: `email,username,phone,password,name`.
    Csv,
    /// TSV with the same header.
    Tsv,
    /// JSON Lines with the same field names.
    Jsonl,
}

const FIRST: &[&str] = &[
    "alex", "sam", "robin", "kim", "lee", "jo", "chris", "pat", "morgan", "taylor", "jamie",
    "casey", "drew", "max", "noa", "eli", "ari", "sasha", "remy", "jules",
];
const LAST: &[&str] = &[
    "smith", "jones", "garcia", "muller", "rossi", "novak", "kowalski", "silva", "tanaka",
    "dubois", "ivanova", "brown", "wilson", "moreau", "larsen", "kim", "ng", "okafor", "haddad",
    "schmidt",
];
const PROVIDERS: &[&str] = &[
    "mailbox.example",
    "webpost.example",
    "inbox.test",
    "fastmail.example",
    "post.test",
];
const WORDS: &[&str] = &[
    "acme", "globex", "initech", "umbra", "vertex", "nimbus", "orbit", "quanta", "zenith", "lumen",
];

fn pick<'a>(rng: &mut Rng, list: &[&'a str]) -> &'a str {
    list[(rng.next_u64() % list.len() as u64) as usize]
}

/// A domain: 60% from five dominant providers (Zipf among them), the rest from company domains.
fn domain(rng: &mut Rng, companies: u64) -> String {
    if rng.next_u64() % 100 < 60 {
        let r = ((PROVIDERS.len() as f64 + 1.0).powf(rng.unit()) - 1.0).floor() as usize;
        PROVIDERS[r.min(PROVIDERS.len() - 1)].to_owned()
    } else {
        let c = rng.next_u64() % companies.max(1);
        format!("{}{}{c}.example", pick(rng, WORDS), pick(rng, WORDS))
    }
}

/// One account of the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// E-mail address (mixed case sometimes, as typed).
    pub email: String,
    /// Username.
    pub username: String,
    /// Phone number, sometimes.
    pub phone: Option<String>,
    /// Password, usually.
    pub password: Option<String>,
    /// Display name (may contain a comma).
    pub name: String,
}

fn account(i: u64, rng: &mut Rng, vocab: f64, companies: u64, sep: u8) -> Account {
    let (first, last) = (pick(rng, FIRST), pick(rng, LAST));
    let local = match rng.next_u64() % 4 {
        0 => format!("{first}.{last}{i}"),
        1 => format!("{first}{last}{i}"),
        2 => format!("{}.{last}+news{i}", &first[..1]),
        _ => format!("{first}_{i}"),
    };
    let mut email = format!("{local}@{}", domain(rng, companies));
    if rng.next_u64().is_multiple_of(10) {
        email = email.to_uppercase(); // people type addresses in every case
    }
    let password = (!rng.next_u64().is_multiple_of(20)).then(|| {
        let rank = ((vocab + 1.0).powf(rng.unit()) - 1.0).floor() as u64;
        let mut p = password(rank);
        if rng.next_u64().is_multiple_of(25) {
            p.push(sep as char); // the separator inside a password
            p.push_str("x1");
        }
        p
    });
    let phone = (rng.next_u64().is_multiple_of(3))
        .then(|| format!("+44 20 7946 0{:03}", rng.next_u64() % 1000));
    let name = if rng.next_u64().is_multiple_of(5) {
        format!("{last}, {first}")
    } else {
        format!("{first} {last}")
    };
    Account {
        email,
        username: format!("{first}{last}{i}"),
        phone,
        password,
        name,
    }
}

pub(crate) fn csv_field(s: &str, sep: u8) -> String {
    if s.contains([sep as char, '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes a dump of `count` lines (plus a header for CSV/TSV), `malformed_per_mille` of them
/// malformed.
pub fn write_dump(
    out: &mut dyn Write,
    format: DumpFormat,
    count: u64,
    seed: u64,
    malformed_per_mille: u64,
) -> io::Result<()> {
    let mut rng = Rng::new(seed ^ 0xD0_4D50);
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    let vocab = (count / 4).max(100) as f64;
    let companies = (count / 50).max(10);
    let sep = match format {
        DumpFormat::Combo(s) => s,
        DumpFormat::Csv => b',',
        DumpFormat::Tsv => b'\t',
        DumpFormat::Jsonl => b',',
    };
    if matches!(format, DumpFormat::Csv | DumpFormat::Tsv) {
        let s = sep as char;
        writeln!(out, "email{s}username{s}phone{s}password{s}name")?;
    }
    for i in 0..count {
        let a = account(i, &mut rng, vocab, companies, sep);
        if rng.next_u64() % 1000 < malformed_per_mille {
            let bad = match rng.next_u64() % 4 {
                0 => a.email.replace('@', ""),                                // no @
                1 => format!("@{}", a.email.split('@').nth(1).unwrap_or("")), // no local part
                2 => format!(
                    "{}@{}",
                    a.email.split('@').next().unwrap_or(""),
                    "localhost"
                ), // one-label domain
                _ => "\u{1}\u{2}garbage".to_owned(),
            };
            match format {
                DumpFormat::Jsonl if i % 2 == 0 => {
                    writeln!(out, "{{\"email\": {}, \"password\": ", json_str(&bad))?
                } // truncated JSON
                DumpFormat::Jsonl => writeln!(out, "{{\"email\":{}}}", json_str(&bad))?,
                DumpFormat::Combo(s) => {
                    writeln!(out, "{bad}{}{}", s as char, a.password.unwrap_or_default())?
                }
                _ => {
                    let s = sep as char;
                    writeln!(
                        out,
                        "{}{s}{}{s}{s}{}{s}",
                        csv_field(&bad, sep),
                        a.username,
                        a.password
                            .as_deref()
                            .map(|p| csv_field(p, sep))
                            .unwrap_or_default()
                    )?
                }
            }
            continue;
        }
        match format {
            DumpFormat::Combo(s) => match &a.password {
                Some(p) => writeln!(out, "{}{}{p}", a.email, s as char)?,
                None => writeln!(out, "{}", a.email)?,
            },
            DumpFormat::Csv | DumpFormat::Tsv => {
                let s = sep as char;
                writeln!(
                    out,
                    "{}{s}{}{s}{}{s}{}{s}{}",
                    csv_field(&a.email, sep),
                    csv_field(&a.username, sep),
                    a.phone.as_deref().unwrap_or(""),
                    a.password
                        .as_deref()
                        .map(|p| csv_field(p, sep))
                        .unwrap_or_default(),
                    csv_field(&a.name, sep)
                )?
            }
            DumpFormat::Jsonl => {
                let mut fields = vec![
                    format!("\"email\":{}", json_str(&a.email)),
                    format!("\"username\":{}", json_str(&a.username)),
                ];
                if let Some(p) = &a.phone {
                    fields.push(format!("\"phone\":{}", json_str(p)));
                }
                if let Some(p) = &a.password {
                    fields.push(format!("\"password\":{}", json_str(p)));
                }
                fields.push(format!("\"name\":{}", json_str(&a.name)));
                writeln!(out, "{{{}}}", fields.join(","))?
            }
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(format: DumpFormat, n: u64, seed: u64, bad: u64) -> Vec<String> {
        let mut out = Vec::new();
        write_dump(&mut out, format, n, seed, bad).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn deterministic_with_dominant_providers_and_the_asked_share_of_bad_lines() {
        let a = lines(DumpFormat::Combo(b':'), 20_000, 5, 50);
        assert_eq!(a, lines(DumpFormat::Combo(b':'), 20_000, 5, 50));
        assert_ne!(a, lines(DumpFormat::Combo(b':'), 20_000, 6, 50));
        let providers = a
            .iter()
            .filter(|l| {
                PROVIDERS
                    .iter()
                    .any(|p| l.to_lowercase().contains(&format!("@{p}")))
            })
            .count();
        assert!(
            (10_000..14_000).contains(&providers),
            "{providers} on the dominant providers"
        );
        let bad = a
            .iter()
            .filter(|l| !l.contains('@') || l.starts_with('@') || l.contains("@localhost"))
            .count();
        assert!((800..1200).contains(&bad), "{bad} malformed of 20000 at 5%");
        assert!(
            a.iter().any(|l| l.matches(':').count() >= 2),
            "some passwords contain the separator"
        );
        assert!(
            a.iter().any(|l| !l.contains(':')),
            "some lines have no password"
        );
    }

    #[test]
    fn csv_has_a_header_and_quotes_commas_and_jsonl_parses_except_the_broken_lines() {
        let csv = lines(DumpFormat::Csv, 2_000, 1, 0);
        assert_eq!(csv[0], "email,username,phone,password,name");
        assert!(
            csv.iter().any(|l| l.contains("\", ") || l.ends_with('"')),
            "quoted names with commas"
        );
        let tsv = lines(DumpFormat::Tsv, 10, 1, 0);
        assert_eq!(tsv[0], "email\tusername\tphone\tpassword\tname");
        let jsonl = lines(DumpFormat::Jsonl, 2_000, 1, 0);
        assert!(
            jsonl
                .iter()
                .all(|l| l.starts_with("{\"email\":") && l.ends_with('}'))
        );
        let bad = lines(DumpFormat::Jsonl, 2_000, 1, 100);
        assert!(
            bad.iter().any(|l| !l.ends_with('}')),
            "truncated JSON among the malformed lines"
        );
    }
}
