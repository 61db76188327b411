//! Breach dumps and the account store: generated dumps of every format, an independent model
//! of what a dump holds (its own normalisation of e-mail addresses), and the CLI steps that
//! add a breach and import a dump into it.

use std::{collections::BTreeSet, path::Path};

use leakwatch_store::{Key, MmapDirectory, Snapshot};
use sha1::Digest;

use super::{bin, leakwatch};

/// A dump format as `leakwatch gen dump` writes it.
#[derive(Debug, Clone, Copy)]
pub enum Dump {
    Combo(char),
    Csv,
    Tsv,
    Jsonl,
}

impl Dump {
    pub fn gen_args(self) -> Vec<&'static str> {
        match self {
            Dump::Combo(':') => vec!["--format", "combo", "--separator", "colon"],
            Dump::Combo(';') => vec!["--format", "combo", "--separator", "semicolon"],
            Dump::Combo('|') => vec!["--format", "combo", "--separator", "pipe"],
            Dump::Combo(_) => vec!["--format", "combo", "--separator", "tab"],
            Dump::Csv => vec!["--format", "csv"],
            Dump::Tsv => vec!["--format", "tsv"],
            Dump::Jsonl => vec!["--format", "jsonl"],
        }
    }
}

/// One accepted line of a dump, normalised by the reference rules.
#[derive(Debug, Clone, Default)]
pub struct Line {
    pub email: Option<String>,
    pub username: Option<String>,
    pub phone: Option<String>,
    pub password: Option<String>,
}

impl Line {
    pub fn identifiers(&self) -> impl Iterator<Item = &String> {
        self.email.iter().chain(&self.username).chain(&self.phone)
    }
}

/// What a dump should import as.
#[derive(Debug, Default)]
pub struct DumpModel {
    pub lines: Vec<Line>,
    pub rejected: u64,
}

impl DumpModel {
    /// Distinct e-mail addresses: every accepted generated line has one, so this is the
    /// breach's PwnCount.
    pub fn distinct_emails(&self) -> BTreeSet<&String> {
        self.lines.iter().filter_map(|l| l.email.as_ref()).collect()
    }
}

/// The generator's e-mail addresses are ASCII on reserved domains; its malformed ones lack an
/// `@` or a local part, end in a one-label domain, or are control characters.
fn reference_email(raw: &str) -> Option<String> {
    let (local, domain) = raw.trim().rsplit_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| raw.trim().to_lowercase())
}

fn nonempty(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_owned())
}

/// Generates a dump with the CLI and returns its bytes.
pub fn gen_dump(format: Dump, count: u64, seed: u64, malformed: &str) -> Vec<u8> {
    let count = count.to_string();
    let seed = seed.to_string();
    let mut args = vec![
        "gen",
        "dump",
        "--count",
        &count,
        "--seed",
        &seed,
        "--malformed",
        malformed,
    ];
    args.extend(format.gen_args());
    leakwatch(&args, None).stdout
}

/// The reference reading of a generated dump.
pub fn model_of_dump(bytes: &[u8], format: Dump) -> DumpModel {
    let text = std::str::from_utf8(bytes).unwrap();
    let mut m = DumpModel::default();
    let accept = |m: &mut DumpModel, line: Option<Line>| match line {
        Some(l) => m.lines.push(l),
        None => m.rejected += 1,
    };
    match format {
        Dump::Combo(sep) => {
            for raw in text.lines() {
                let (ident, password) = match raw.split_once(sep) {
                    Some((i, p)) => (i, nonempty(p)),
                    None => (raw, None),
                };
                let line = reference_email(ident).map(|email| Line {
                    email: Some(email),
                    password,
                    ..Line::default()
                });
                accept(&mut m, line);
            }
        }
        Dump::Csv | Dump::Tsv => {
            let delim = if matches!(format, Dump::Csv) {
                b','
            } else {
                b'\t'
            };
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delim)
                .flexible(true)
                .from_reader(bytes);
            let header: Vec<String> = reader
                .headers()
                .unwrap()
                .iter()
                .map(str::to_owned)
                .collect();
            assert_eq!(header, ["email", "username", "phone", "password", "name"]);
            for rec in reader.records() {
                let rec = rec.unwrap();
                let line = reference_email(&rec[0]).map(|email| Line {
                    email: Some(email),
                    username: nonempty(&rec[1]).map(|u| u.to_lowercase()),
                    phone: nonempty(&rec[2]).map(|p| p.replace(' ', "")),
                    password: nonempty(&rec[3]),
                });
                accept(&mut m, line);
            }
        }
        Dump::Jsonl => {
            for raw in text.lines() {
                let line = serde_json::from_str::<serde_json::Value>(raw)
                    .ok()
                    .and_then(|v| {
                        let field = |k: &str| v[k].as_str().and_then(nonempty);
                        Some(Line {
                            email: Some(reference_email(&field("email")?)?),
                            username: field("username").map(|u| u.to_lowercase()),
                            phone: field("phone").map(|p| p.replace(' ', "")),
                            password: field("password"),
                        })
                    });
                accept(&mut m, line);
            }
        }
    }
    m
}

/// Lines `from..to` of a text, each with its newline.
pub fn lines_between(bytes: &[u8], from: usize, to: usize) -> Vec<u8> {
    String::from_utf8_lossy(bytes)
        .lines()
        .skip(from)
        .take(to - from)
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect()
}

/// SHA-1 of a normalised identifier, computed here with the sha1 crate.
pub fn account_key(id: &str) -> Key {
    Key::from_digest(&sha1::Sha1::digest(id.as_bytes())).unwrap()
}

/// The breach names the store links to an identifier.
pub fn store_breaches(snap: &Snapshot, id: &str) -> BTreeSet<String> {
    snap.account_breaches(account_key(id))
        .unwrap()
        .into_iter()
        .map(|i| snap.breach_name(i).unwrap().to_owned())
        .collect()
}

pub fn snapshot(data: &Path) -> Snapshot {
    Snapshot::open(&MmapDirectory::open(data.join("store")).unwrap()).unwrap()
}

pub const OPERATOR_KEY: &str = "6c65616b77617463682074657374206f70657261746f72206b657920666f7221";

/// `leakwatch breach add` with just a name and a date.
pub fn add_breach(data: &Path, name: &str, extra: &[&str]) {
    let mut args = vec![
        "breach",
        "add",
        "--data",
        data.to_str().unwrap(),
        "--name",
        name,
        "--breach-date",
        "2024-03-04",
    ];
    args.extend(extra);
    leakwatch(&args, None);
}

/// `leakwatch ingest --breach NAME` under the test operator key; returns stdout.
pub fn ingest_dump(data: &Path, file: &Path, breach: &str, extra: &[&str]) -> String {
    let mut cmd = std::process::Command::new(bin());
    cmd.args([
        "ingest",
        "-q",
        "--data",
        data.to_str().unwrap(),
        "--breach",
        breach,
    ])
    .args(extra)
    .arg(file)
    .env("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "ingest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `leakwatch ARGS --data DATA` under the test operator key; its stdout, which it must
/// succeed to give.
pub fn operator_cli(data: &Path, args: &[&str]) -> String {
    let mut args = args.to_vec();
    args.extend(["--data", data.to_str().unwrap()]);
    let out = with_key(&args, OPERATOR_KEY);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `leakwatch ARGS` with `LEAKWATCH_OPERATOR_KEY=key`.
pub fn with_key(args: &[&str], key: &str) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .env("LEAKWATCH_OPERATOR_KEY", key)
        .output()
        .unwrap()
}
