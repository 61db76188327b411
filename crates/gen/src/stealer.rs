//! Synthetic stealer logs (issue #22): a directory tree laid out as infostealer families and
//! combolist sellers lay theirs out, with the truth of what it holds.
//!
//! ```text
//! DIR/logs/XX[nnnn]/Passwords.txt       blocks: URL: / Username: / Password: / Application:,
//!                                       separated by ======== lines (RedLine-like)
//! DIR/logs/XX[nnnn]/All Passwords.txt   blocks: Soft: / Host: / USER: / PASS:, separated by
//!                                       blank lines (Raccoon-like)
//! DIR/logs/XX[nnnn]/System.txt          not a credential file (read past)
//! DIR/ulp/part-N.txt                    URL:login:password lines, some CRLF
//! DIR/exports/credentials.csv           URL,Username,Password,Browser (RFC 4180 quoting)
//! DIR/exports/credentials.jsonl         {"url","login","password"} objects
//! ```
//!
//! URLs are hostile on purpose: ports, paths, user-info, IDN hosts, IP-address hosts, IPv6,
//! `android://` apps, `host:port` without a scheme, upper case; passwords hold colons. A chosen
//! share of units (a line, or a block) is malformed. Every host is fictional, on the reserved
//! `.example` and `.test` names. The [`StealerTruth`] is worked out here from what was
//! written, independently of leakwatch's parser: its websites are the registrable domains
//! the generator put the hosts under (punycode spelled out), `None` for apps and addresses.

use std::{
    collections::BTreeMap,
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use crate::{
    Rng,
    dump::{csv_field, json_str},
    password,
};

/// What a generated tree holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StealerTruth {
    /// Every readable unit: (file, first line, website, login, password).
    pub captures: Vec<GenCapture>,
    /// Every malformed unit: (file, first line).
    pub malformed: Vec<(PathBuf, u64)>,
}

/// One credential the tree holds, where it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GenCapture {
    /// The file, relative to the tree's root.
    pub file: PathBuf,
    /// Its (first) line, from 1.
    pub line: u64,
    /// The registrable domain, `None` for an app or an IP-address host.
    pub website: Option<String>,
    /// The login as written (trimmed).
    pub login: String,
    /// The password.
    pub password: String,
}

/// Registrable domains of the fictional websites, with the punycode of the IDN ones.
const SITES: &[(&str, &str)] = &[
    ("streamflix.example", "streamflix.example"),
    ("shopmart.test", "shopmart.test"),
    ("mybank.example", "mybank.example"),
    ("socialhub.test", "socialhub.test"),
    ("webmail.example", "webmail.example"),
    ("bücherei.example", "xn--bcherei-n2a.example"),
    ("straße.test", "xn--strae-oqa.test"),
    ("gamezone.example", "gamezone.example"),
];
const SUBDOMAINS: &[&str] = &["", "www.", "login.", "accounts.", "m.", "secure.auth."];
const PATHS: &[&str] = &["/", "/login", "/signin/v2", "/account/login.php", ""];
const APPS: &[&str] = &["com.example.chat", "com.example.wallet", "org.example.game"];
const PROVIDERS: &[&str] = &["mailbox.example", "inbox.test", "webpost.example"];

fn pick<'a>(rng: &mut Rng, list: &'a [&'a str]) -> &'a str {
    list[(rng.next_u64() % list.len() as u64) as usize]
}

/// A URL and its truth: (as written, website).
fn url(rng: &mut Rng) -> (String, Option<String>) {
    let (shown, puny) = SITES[(rng.next_u64() % SITES.len() as u64) as usize];
    let sub = pick(rng, SUBDOMAINS);
    let path = pick(rng, PATHS);
    let site = Some(puny.to_owned());
    match rng.next_u64() % 12 {
        0 => (format!("https://{sub}{shown}:8443{path}"), site),
        // User-info only with a path: `https://user:pw@host:login:pw` cannot be split.
        1 => (format!("https://user:secret@{sub}{shown}/signin"), site),
        2 => (
            format!(
                "HTTPS://{}{path}",
                format!("{sub}{shown}").to_ascii_uppercase()
            ),
            site,
        ),
        3 => {
            let a = rng.next_u64();
            (
                format!("http://192.0.2.{}:{}/admin", a % 250 + 1, 8000 + a % 100),
                None,
            )
        }
        4 => (
            format!("http://[2001:db8::{:x}]/login", rng.next_u64() % 4096),
            None,
        ),
        5 => {
            let hash: String = (0..16)
                .map(|_| (b'A' + (rng.next_u64() % 26) as u8) as char)
                .collect();
            (format!("android://{hash}==@{}/", pick(rng, APPS)), None)
        }
        6 => (format!("{sub}{shown}:8080"), site),
        7 => (format!("{sub}{shown}"), site),
        _ => (format!("https://{sub}{shown}{path}"), site),
    }
}

/// A login: mostly e-mail addresses, some usernames and phone-like numbers.
fn login(rng: &mut Rng, i: u64) -> String {
    match rng.next_u64() % 10 {
        0 => format!("user{i}"),
        1 => format!("0207946{:04}", i % 10_000),
        _ => format!("person{i}@{}", pick(rng, PROVIDERS)),
    }
}

/// A password; some hold colons and spaces.
fn secret(rng: &mut Rng) -> String {
    let base = password(rng.next_u64() % 5_000);
    match rng.next_u64() % 8 {
        0 => format!("{base}:x:{}", rng.next_u64() % 100),
        1 => format!("{base} {base}"),
        _ => base,
    }
}

/// A file of the tree and its next line's number; open while it is among the
/// [`MAX_OPEN`] written last (a tree of millions of units has more files than a process may
/// hold open), reopened for appending when written again.
struct Out {
    path: PathBuf,
    file: Option<io::BufWriter<fs::File>>,
    line: u64,
}

/// Files of a tree held open at once.
const MAX_OPEN: usize = 256;

impl Out {
    fn create(root: &Path, rel: &Path) -> io::Result<Out> {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().expect("a file in a folder"))?;
        Ok(Out {
            file: Some(io::BufWriter::new(fs::File::create(&path)?)),
            path,
            line: 1,
        })
    }

    /// Writes `lines`, each ended by `eol`; returns the first one's number.
    fn lines(&mut self, lines: &[String], eol: &str) -> io::Result<u64> {
        let first = self.line;
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(io::BufWriter::new(
                fs::OpenOptions::new().append(true).open(&self.path)?,
            )),
        };
        for l in lines {
            write!(file, "{l}{eol}")?;
            self.line += 1;
        }
        Ok(first)
    }

    /// Flushes and closes the file (it reopens on the next write).
    fn close(&mut self) -> io::Result<()> {
        match self.file.take() {
            Some(mut file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// The lines of one unit of layout `kind` (0 RedLine blocks, 1 Raccoon blocks, 3 CSV,
/// 4 JSONL, else ULP), malformed when `bad`; and whether it reads.
fn unit_lines(
    rng: &mut Rng,
    kind: u64,
    bad: bool,
    (url, login, password): (&str, &str, &str),
) -> (Vec<String>, bool) {
    match (kind, bad) {
        (0, false) => (
            vec![
                format!("URL: {url}"),
                format!("Username: {login}"),
                format!("Password: {password}"),
                "Application: Google_[Chrome]_Default".to_owned(),
                "===============".to_owned(),
            ],
            true,
        ),
        (0, true) => (
            vec![
                format!("URL: {url}"),
                format!("Username: {login}"),
                "Application: Google_[Chrome]_Default".to_owned(),
                "===============".to_owned(),
            ],
            false,
        ),
        (1, false) => (
            vec![
                "Soft: Chromium".to_owned(),
                format!("Host: {url}"),
                format!("USER: {login}"),
                format!("PASS: {password}"),
                String::new(),
            ],
            true,
        ),
        (1, true) => (
            vec![
                "Browser: Edge".to_owned(),
                "Profile: Default".to_owned(),
                String::new(),
            ],
            false,
        ),
        (3, false) => (
            vec![format!(
                "{},{},{},Chrome",
                csv_field(url, b','),
                csv_field(login, b','),
                csv_field(password, b',')
            )],
            true,
        ),
        (3, true) => (
            vec![format!(
                "{},,{},Chrome",
                csv_field(url, b','),
                csv_field(password, b',')
            )],
            false,
        ),
        (4, false) => (
            vec![format!(
                "{{\"url\":{},\"login\":{},\"password\":{}}}",
                json_str(url),
                json_str(login),
                json_str(password)
            )],
            true,
        ),
        (4, true) => (
            vec![match rng.next_u64() % 2 {
                0 => format!(
                    "{{\"url\":{},\"login\":{}}}",
                    json_str(url),
                    json_str(login)
                ),
                _ => "[\"not an object\"]".to_owned(),
            }],
            false,
        ),
        (_, false) => (vec![format!("{url}:{login}:{password}")], true),
        (_, true) => (
            // (`URL:login` is not among them: after `host:8080` or `https://host:8443`
            // it reads as a port-less URL, a login and a password.)
            vec![match rng.next_u64() % 3 {
                0 => url.to_owned(),
                1 => format!("{url}: :{password}"),
                _ => "!!!! junk".to_owned(),
            }],
            false,
        ),
    }
}

/// Writes a tree of about `units` credential units under `root` (a new or empty directory),
/// `malformed_percent` of them malformed, from `seed`; returns what it holds.
pub fn write_stealer_tree(
    root: &Path,
    units: u64,
    malformed_percent: u64,
    seed: u64,
) -> io::Result<StealerTruth> {
    let mut rng = Rng::new(seed);
    let mut truth = StealerTruth::default();
    let mut files: BTreeMap<PathBuf, Out> = BTreeMap::new();
    // The files open now, oldest first.
    let mut open: std::collections::VecDeque<PathBuf> = Default::default();
    let machines = (units / 40).max(1);
    let ulp_parts = (units / 500).max(1);
    for i in 0..units {
        let bad = rng.next_u64() % 100 < malformed_percent;
        let (url, website) = url(&mut rng);
        let (login, password) = (login(&mut rng, i), secret(&mut rng));
        let kind = rng.next_u64() % 5;
        let rel = match kind {
            0 => PathBuf::from(format!(
                "logs/XX[{:04}]/Passwords.txt",
                rng.next_u64() % machines
            )),
            1 => PathBuf::from(format!(
                "logs/XX[{:04}]/All Passwords.txt",
                rng.next_u64() % machines
            )),
            3 => PathBuf::from("exports/credentials.csv"),
            4 => PathBuf::from("exports/credentials.jsonl"),
            _ => PathBuf::from(format!("ulp/part-{}.txt", rng.next_u64() % ulp_parts)),
        };
        let opening = files.get(&rel).is_none_or(|out| out.file.is_none());
        if opening {
            if open.len() >= MAX_OPEN {
                let oldest = open.pop_front().expect("MAX_OPEN > 0");
                files.get_mut(&oldest).expect("an open file").close()?;
            }
            open.push_back(rel.clone());
        }
        if !files.contains_key(&rel) {
            let out = Out::create(root, &rel)?;
            files.insert(rel.clone(), out);
            let out = files.get_mut(&rel).expect("just made");
            match kind {
                // RedLine-like files open with a banner block of separators.
                0 => drop(out.lines(&["*".repeat(20)], "\r\n")?),
                3 => drop(out.lines(&["URL,Username,Password,Browser".to_owned()], "\n")?),
                _ => {}
            }
        }
        let out = files.get_mut(&rel).expect("opened above");
        let crlf = rng.next_u64().is_multiple_of(4);
        let eol = if crlf { "\r\n" } else { "\n" };
        let (lines, good) = unit_lines(&mut rng, kind, bad, (&url, &login, &password));
        let first = out.lines(&lines, eol)?;
        if good {
            truth.captures.push(GenCapture {
                file: rel,
                line: first,
                website,
                login,
                password,
            });
        } else {
            truth.malformed.push((rel, first));
        }
    }
    for machine in 0..machines.min(4) {
        let rel = PathBuf::from(format!("logs/XX[{machine:04}]/System.txt"));
        let mut out = Out::create(root, &rel)?;
        out.lines(
            &[
                "Build ID: fiction".to_owned(),
                "OS: Windows 10 x64".to_owned(),
            ],
            "\n",
        )?;
        out.close()?;
    }
    for (_, mut out) in files {
        out.close()?;
    }
    truth.captures.sort();
    truth.malformed.sort();
    Ok(truth)
}

/// Writes `truth` as JSON Lines: `{"file","line","website","login","password"}` per
/// capture (`website` null for none), then `{"file","line","malformed":true}` per
/// malformed unit — the reference a test in another language reads.
pub fn write_stealer_truth(out: &mut dyn Write, truth: &StealerTruth) -> io::Result<()> {
    for c in &truth.captures {
        writeln!(
            out,
            "{{\"file\":{},\"line\":{},\"website\":{},\"login\":{},\"password\":{}}}",
            json_str(&c.file.to_string_lossy()),
            c.line,
            c.website.as_deref().map_or("null".to_owned(), json_str),
            json_str(&c.login),
            json_str(&c.password)
        )?;
    }
    for (file, line) in &truth.malformed {
        writeln!(
            out,
            "{{\"file\":{},\"line\":{line},\"malformed\":true}}",
            json_str(&file.to_string_lossy())
        )?;
    }
    Ok(())
}
