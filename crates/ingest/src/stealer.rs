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

use std::{
    borrow::Cow,
    fs,
    io::{self, BufRead},
    path::{Path, PathBuf},
};

use crate::parse::trim_cr;

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
    // IP addresses as a browser reads them (WHATWG: `0x7f.1` is one too).
    let parsed = url::Url::parse(&format!("{scheme}://{host}/")).map_err(|_| Malformed::BadHost)?;
    match parsed.host() {
        Some(url::Host::Domain(_)) => {}
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => return Ok(Website::None),
        None => return Err(Malformed::BadHost),
    }
    let host = host.trim_end_matches('.');
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

/// Splits a ULP line into its URL, login and password (see the module's rules).
pub fn split_ulp(line: &[u8]) -> Result<(&str, &str, &[u8]), Malformed> {
    let line = trim_cr(line);
    let url_end = url_end(line)?;
    let login_end = memchr::memchr(b':', &line[url_end + 1..])
        .map(|i| url_end + 1 + i)
        .ok_or(Malformed::NoPassword)?;
    // The URL and login must be text; the password may be any bytes.
    let url = std::str::from_utf8(&line[..url_end]).map_err(|_| Malformed::NotText)?;
    let login =
        std::str::from_utf8(&line[url_end + 1..login_end]).map_err(|_| Malformed::NotText)?;
    let password = &line[login_end + 1..];
    let (url, login) = (url.trim(), login.trim());
    if url.is_empty() {
        return Err(Malformed::NoUrl);
    }
    if login.is_empty() {
        return Err(Malformed::NoLogin);
    }
    if password.is_empty() {
        return Err(Malformed::NoPassword);
    }
    Ok((url, login, password))
}

/// The offset of the colon that ends a ULP line's URL.
fn url_end(line: &[u8]) -> Result<usize, Malformed> {
    let find = |from: usize, what: &dyn Fn(u8) -> bool| {
        line[from.min(line.len())..]
            .iter()
            .position(|&b| what(b))
            .map(|i| from + i)
    };
    let colon_after = |from: usize| find(from, &|b| b == b':');
    let is_port_digits = |from: usize| {
        let digits = line[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        (1..=5).contains(&digits).then_some(from + digits)
    };
    // After `scheme://`, or from the start.
    let authority = line
        .windows(3)
        .position(|w| w == b"://")
        .filter(|&i| std::str::from_utf8(&line[..i]).is_ok_and(is_scheme))
        .map_or(0, |i| i + 3);
    // User-info (`…@host`) only where a path bounds the authority and what lies between
    // the `@` and the path is a host and maybe a port: an `@` in a login is not one.
    let mut host = authority;
    if let Some(slash) = find(authority, &|b| b == b'/')
        && let Some(at) = line[authority..slash].iter().rposition(|&b| b == b'@')
    {
        let at = authority + at;
        let between = &line[at + 1..slash];
        let port_only = match memchr::memchr(b':', between) {
            None => true,
            Some(c) => between[c + 1..].iter().all(u8::is_ascii_digit),
        };
        if port_only {
            host = at + 1;
        }
    }
    let host_end = if line.get(host) == Some(&b'[') {
        find(host, &|b| b == b']').map_or(line.len(), |i| i + 1)
    } else {
        find(host, &|b| matches!(b, b':' | b'/' | b'?' | b'#')).unwrap_or(line.len())
    };
    match line.get(host_end) {
        None => Err(Malformed::NoLogin),
        Some(b':') => match is_port_digits(host_end + 1) {
            // `:port` then a path: the URL runs to the path's first colon.
            Some(port_end) if matches!(line.get(port_end), Some(b'/' | b'?' | b'#')) => {
                colon_after(port_end).ok_or(Malformed::NoLogin)
            }
            // `:port:login:password` (a login and a password still follow the port).
            Some(port_end)
                if line.get(port_end) == Some(&b':')
                    && memchr::memchr_iter(b':', &line[port_end..]).count() >= 2 =>
            {
                Ok(port_end)
            }
            _ => Ok(host_end),
        },
        // A path: the URL runs to its first colon.
        Some(_) => colon_after(host_end).ok_or(Malformed::NoLogin),
    }
}

/// Reads one ULP line into a capture.
pub fn parse_ulp(line: &[u8]) -> Result<Capture<'_>, Malformed> {
    let (url, login, password) = split_ulp(line)?;
    Ok(Capture {
        website: website_of(url)?,
        login: Cow::Borrowed(login),
        password: Cow::Borrowed(password),
    })
}

/// Which field a block's key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockField {
    Url,
    Login,
    Password,
    /// Known and read past (application, browser, profile…).
    Other,
}

fn block_field(key: &str) -> Option<BlockField> {
    let key: String = key
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect();
    Some(match key.as_str() {
        "url" | "host" | "hostname" | "site" | "website" | "origin" | "originurl" => {
            BlockField::Url
        }
        "username" | "login" | "user" | "usr" | "email" | "userlogin" => BlockField::Login,
        "password" | "pass" | "pwd" | "userpassword" => BlockField::Password,
        "application" | "soft" | "browser" | "profile" | "storage" | "app" | "software" => {
            BlockField::Other
        }
        _ => return None,
    })
}

/// Whether a line separates blocks: blank, or one symbol repeated (at least three).
fn is_separator(line: &[u8]) -> bool {
    let line = line.trim_ascii();
    match line.first() {
        None => true,
        Some(&first) => {
            line.len() >= 3
                && matches!(first, b'=' | b'-' | b'*' | b'_' | b'#' | b'~')
                && line.iter().all(|&b| b == first)
        }
    }
}

/// A block as read so far: its first line number and fields.
#[derive(Debug, Default)]
struct Block {
    first_line: u64,
    url: Option<String>,
    login: Option<String>,
    password: Option<Vec<u8>>,
    lines: usize,
}

impl Block {
    fn finish(self) -> Option<BlockRead> {
        if self.lines == 0 {
            return None;
        }
        let result = match (self.url, self.login, self.password) {
            (None, None, None) => Err(Malformed::Junk),
            (None, _, _) => Err(Malformed::NoUrl),
            (_, None, _) => Err(Malformed::NoLogin),
            (_, _, None) => Err(Malformed::NoPassword),
            (Some(url), Some(login), Some(password)) => {
                if login.trim().is_empty() {
                    Err(Malformed::NoLogin)
                } else if password.is_empty() {
                    Err(Malformed::NoPassword)
                } else {
                    website_of(&url).map(|website| Capture {
                        website,
                        login: Cow::Owned(login.trim().to_owned()),
                        password: Cow::Owned(password),
                    })
                }
            }
        };
        Some((self.first_line, result))
    }
}

/// A finished block: its first line's number and what it held.
pub type BlockRead = (u64, Result<Capture<'static>, Malformed>);

/// Reads the block layout line by line: feed every line ([`Blocks::line`]), then
/// [`Blocks::finish`]; each finished block comes out with its first line's number.
#[derive(Debug, Default)]
pub struct Blocks {
    block: Block,
}

impl Blocks {
    /// A reader at the start of a file.
    pub fn new() -> Blocks {
        Blocks::default()
    }

    /// Feeds line `number` (from 1); returns the block it ended, if it ended one.
    pub fn line(&mut self, number: u64, line: &[u8]) -> Option<BlockRead> {
        let line = trim_cr(line);
        if is_separator(line) {
            return std::mem::take(&mut self.block).finish();
        }
        if self.block.lines == 0 {
            self.block.first_line = number;
        }
        self.block.lines += 1;
        let colon = memchr::memchr(b':', line)?;
        let Ok(key) = std::str::from_utf8(&line[..colon]) else {
            return None;
        };
        let value = &line[colon + 1..];
        // One space after the colon belongs to the layout, not to the value.
        let value = value.strip_prefix(b" ").unwrap_or(value);
        match block_field(key) {
            Some(BlockField::Url) => {
                self.block.url = std::str::from_utf8(value).ok().map(|v| v.trim().to_owned())
            }
            Some(BlockField::Login) => {
                self.block.login = std::str::from_utf8(value).ok().map(|v| v.trim().to_owned())
            }
            Some(BlockField::Password) => self.block.password = Some(value.to_vec()),
            Some(BlockField::Other) | None => {}
        }
        None
    }

    /// The last block, at the end of the file.
    pub fn finish(self) -> Option<BlockRead> {
        self.block.finish()
    }
}

/// Which field a table column or JSON key holds: `--map url=…,login=…,password=…` names
/// them (a header name, or for CSV/TSV a 1-based number); else the conventional names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableMap {
    /// The URL's column.
    pub url: Option<String>,
    /// The login's column.
    pub login: Option<String>,
    /// The password's column.
    pub password: Option<String>,
}

/// The field a column named `name` holds by convention.
fn table_field(name: &str) -> Option<BlockField> {
    let folded: String = name
        .trim()
        .trim_matches('"')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    Some(match folded.as_str() {
        "url" | "host" | "website" | "site" | "origin" | "originurl" | "domain" => BlockField::Url,
        "login" | "username" | "user" | "email" | "mail" | "account" => BlockField::Login,
        "password" | "pass" | "pwd" => BlockField::Password,
        _ => return None,
    })
}

/// How a table's rows are read: a delimited file's column numbers, or a JSON object's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Table {
    /// CSV/TSV (or `;`/`|`) with a header: the separator, the url, login and password
    /// columns (0-based).
    Delimited {
        /// The separator.
        sep: u8,
        /// url, login, password.
        columns: [usize; 3],
    },
    /// JSON Lines: each object's url, login and password keys, by the map's names or the
    /// conventional ones.
    Json {
        /// The names asked for, if any.
        map: TableMap,
    },
}

/// Whether most of a sample's lines are JSON objects.
fn mostly_json(head: &[u8]) -> bool {
    let lines: Vec<&[u8]> = head
        .split(|&b| b == b'\n')
        .map(|l| trim_cr(l).trim_ascii())
        .filter(|l| !l.is_empty())
        .take(20)
        .collect();
    !lines.is_empty() && lines.iter().filter(|l| l.starts_with(b"{")).count() * 2 >= lines.len()
}

impl Table {
    /// The table whose first bytes are `head` (JSON Lines when most of its lines are
    /// objects, else delimited text whose first line is the header), mapped by `map`;
    /// `None` when a delimited header has no url, login or password column.
    pub fn new(head: &[u8], map: &TableMap) -> Option<Table> {
        if mostly_json(head) {
            return Some(Table::Json { map: map.clone() });
        }
        let header = trim_cr(head.split(|&b| b == b'\n').next().unwrap_or_default());
        let wanted = [&map.url, &map.login, &map.password];
        let fields = [BlockField::Url, BlockField::Login, BlockField::Password];
        let sep = [b'\t', b',', b';', b'|']
            .into_iter()
            .max_by_key(|&sep| memchr::memchr_iter(sep, header).count())?;
        let mut names = Vec::new();
        crate::dump::split_delimited(header, sep, &mut names).ok()?;
        let names: Vec<String> = names
            .iter()
            .map(|n| String::from_utf8_lossy(n).trim().to_owned())
            .collect();
        let mut columns = [usize::MAX; 3];
        for (i, field) in fields.iter().enumerate() {
            columns[i] = match wanted[i] {
                Some(name) => match name.parse::<usize>() {
                    Ok(n) if (1..=names.len()).contains(&n) => n - 1,
                    _ => names.iter().position(|c| c.eq_ignore_ascii_case(name))?,
                },
                None => names.iter().position(|c| table_field(c) == Some(*field))?,
            };
        }
        Some(Table::Delimited { sep, columns })
    }

    /// Whether the table's first line is a header, not a row.
    pub fn has_header(&self) -> bool {
        matches!(self, Table::Delimited { .. })
    }

    /// Reads one row (not the header).
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<Capture<'a>, Malformed> {
        let line = trim_cr(line);
        let (url, login, password): (String, String, Vec<u8>) = match self {
            Table::Delimited { sep, columns } => {
                let mut cells = Vec::new();
                crate::dump::split_delimited(line, *sep, &mut cells)
                    .map_err(|_| Malformed::BadRow)?;
                let cell = |i: usize| {
                    cells
                        .get(columns[i])
                        .map(|c| c.to_vec())
                        .unwrap_or_default()
                };
                let text = |i: usize| String::from_utf8(cell(i)).map_err(|_| Malformed::NotText);
                (text(0)?, text(1)?, cell(2))
            }
            Table::Json { map } => {
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(line).map_err(|_| Malformed::BadRow)?;
                let value = |wanted: &Option<String>, field: BlockField| {
                    let found = match wanted {
                        Some(name) => object.get(name),
                        None => object
                            .iter()
                            .find(|(k, _)| table_field(k) == Some(field))
                            .map(|(_, v)| v),
                    };
                    match found {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(serde_json::Value::Number(n)) => n.to_string(),
                        _ => String::new(),
                    }
                };
                (
                    value(&map.url, BlockField::Url),
                    value(&map.login, BlockField::Login),
                    value(&map.password, BlockField::Password).into_bytes(),
                )
            }
        };
        if url.trim().is_empty() {
            return Err(Malformed::NoUrl);
        }
        let login = login.trim().to_owned();
        if login.is_empty() {
            return Err(Malformed::NoLogin);
        }
        if password.is_empty() {
            return Err(Malformed::NoPassword);
        }
        Ok(Capture {
            website: website_of(&url)?,
            login: Cow::Owned(login),
            password: Cow::Owned(password),
        })
    }
}

/// How a stealer-log file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StealerLayout {
    /// `URL:login:password` lines.
    Ulp,
    /// `Key: value` blocks.
    Blocks,
    /// Delimited text with a header, or JSON Lines (the dump parser's).
    Table,
    /// None of these: a log's other files (system information, cookies, autofill), read
    /// past in a tree.
    Other,
}

/// The layout of a file named `name` whose first bytes are `head`: the block layout for the
/// names stealer families give it or when its first lines are `Key: value` fields; a table
/// when its first line is a header naming a url column or a JSON object; else ULP lines.
pub fn detect(name: Option<&str>, head: &[u8]) -> StealerLayout {
    let base = name
        .map(|n| {
            n.rsplit(['/', '\\'])
                .next()
                .unwrap_or(n)
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if matches!(
        base.as_str(),
        "passwords.txt" | "all passwords.txt" | "allpasswords.txt" | "_allpasswords_list.txt"
    ) {
        return StealerLayout::Blocks;
    }
    let lines: Vec<&[u8]> = head
        .split(|&b| b == b'\n')
        .map(trim_cr)
        .filter(|l| !is_separator(l))
        .take(20)
        .collect();
    let Some(first) = lines.first() else {
        return StealerLayout::Ulp;
    };
    if mostly_json(head) {
        return StealerLayout::Table;
    }
    let first_text = String::from_utf8_lossy(first).to_ascii_lowercase();
    let header = first_text
        .split([',', '\t', ';', '|'])
        .map(|c| c.trim().trim_matches('"'))
        .collect::<Vec<_>>();
    if header.len() >= 3
        && header
            .iter()
            .any(|c| matches!(*c, "url" | "host" | "website"))
    {
        return StealerLayout::Table;
    }
    let fields = lines
        .iter()
        .filter(|l| {
            memchr::memchr(b':', l).is_some_and(|c| {
                std::str::from_utf8(&l[..c])
                    .is_ok_and(|k| !k.contains('/') && block_field(k).is_some())
            })
        })
        .count();
    if fields * 2 > lines.len() {
        return StealerLayout::Blocks;
    }
    let ulp = lines.iter().filter(|l| split_ulp(l).is_ok()).count();
    if ulp * 2 >= lines.len() {
        StealerLayout::Ulp
    } else {
        StealerLayout::Other
    }
}

/// What [`read_tree`] went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Files read as credentials.
    pub files: u64,
    /// Files read past (another layout, or a table, which the dump parser reads).
    pub skipped: u64,
}

/// One unit of a tree as [`read_tree`] hands it over: the file (relative to the root), the
/// unit's (first) line, and what it held.
pub type TreeUnit<'a> = (&'a Path, u64, Result<Capture<'a>, Malformed>);

/// Reads every regular file under `root` (or `root` itself, a file) in path order, each
/// in the layout [`detect`] finds, and hands over every unit. Symbolic links are not
/// followed. Tables are read by their conventional column names (a table without a url,
/// login and password column is read past).
pub fn read_tree(root: &Path, each: &mut dyn FnMut(TreeUnit<'_>)) -> io::Result<TreeStats> {
    let mut stats = TreeStats::default();
    let mut files = Vec::new();
    collect_files(root, &mut files)?;
    for path in files {
        let rel = path.strip_prefix(root).unwrap_or(&path).to_owned();
        let name = path.to_string_lossy();
        let mut reader = io::BufReader::with_capacity(1 << 16, fs::File::open(&path)?);
        let layout = detect(Some(&name), reader.fill_buf()?);
        let mut line = Vec::new();
        let mut number = 0u64;
        match layout {
            StealerLayout::Ulp => {
                while reader.read_until(b'\n', &mut line)? > 0 {
                    number += 1;
                    let text = line.strip_suffix(b"\n").unwrap_or(&line);
                    if !trim_cr(text).iter().all(u8::is_ascii_whitespace) {
                        each((&rel, number, parse_ulp(text)));
                    }
                    line.clear();
                }
            }
            StealerLayout::Blocks => {
                let mut blocks = Blocks::new();
                while reader.read_until(b'\n', &mut line)? > 0 {
                    number += 1;
                    let text = line.strip_suffix(b"\n").unwrap_or(&line);
                    if let Some((first, read)) = blocks.line(number, text) {
                        each((&rel, first, read));
                    }
                    line.clear();
                }
                if let Some((first, read)) = blocks.finish() {
                    each((&rel, first, read));
                }
            }
            StealerLayout::Table => {
                let Some(table) = Table::new(reader.fill_buf()?, &TableMap::default()) else {
                    stats.skipped += 1;
                    continue;
                };
                let header = table.has_header();
                while reader.read_until(b'\n', &mut line)? > 0 {
                    number += 1;
                    let text = line.strip_suffix(b"\n").unwrap_or(&line);
                    let blank = trim_cr(text).iter().all(u8::is_ascii_whitespace);
                    // A delimited table's first line is its header.
                    let is_header = header && number == 1;
                    if !blank && !is_header {
                        each((&rel, number, table.parse(text)));
                    }
                    line.clear();
                }
            }
            StealerLayout::Other => {
                stats.skipped += 1;
                continue;
            }
        }
        stats.files += 1;
    }
    Ok(stats)
}

/// The regular files under `path`, in path order (symbolic links not followed).
fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_file() {
        out.push(path.to_owned());
    } else if meta.is_dir() {
        let mut entries: Vec<PathBuf> = fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<_>>()?;
        entries.sort();
        for entry in entries {
            collect_files(&entry, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(d: &str) -> Website {
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

    #[test]
    fn ulp_lines_split_where_the_url_ends_whatever_colons_it_and_the_password_hold() {
        let check = |line: &str, want: Result<(&str, &str, &str), Malformed>| {
            let got =
                split_ulp(line.as_bytes()).map(|(u, l, p)| (u, l, std::str::from_utf8(p).unwrap()));
            assert_eq!(got, want, "{line}");
        };
        check(
            "https://www.example.com/login:ann@example.test:pw",
            Ok(("https://www.example.com/login", "ann@example.test", "pw")),
        );
        check(
            "https://host.example.com:8443/path:bob:pa:ss:word",
            Ok(("https://host.example.com:8443/path", "bob", "pa:ss:word")),
        );
        check(
            "https://host.example.com:8443:bob:secret",
            Ok(("https://host.example.com:8443", "bob", "secret")),
        );
        check(
            "android://k3yH4sh==@com.example.app/:carol@example.test:pw1\r",
            Ok((
                "android://k3yH4sh==@com.example.app/",
                "carol@example.test",
                "pw1",
            )),
        );
        check(
            "shop.example.test:8080:dave:pw",
            Ok(("shop.example.test:8080", "dave", "pw")),
        );
        check(
            "shop.example.test:dave:pw:x",
            Ok(("shop.example.test", "dave", "pw:x")),
        );
        check(
            "https://example.com:12345:pw",
            Ok(("https://example.com", "12345", "pw")),
        );
        check(
            "http://[2001:db8::1]:8080/x:eve:pw",
            Ok(("http://[2001:db8::1]:8080/x", "eve", "pw")),
        );
        check(
            "https://example.com:ann@example.test:p/w",
            Ok(("https://example.com", "ann@example.test", "p/w")),
        );
        check(
            "https://u:p@www.example.com:8443/x:login:pass",
            Ok(("https://u:p@www.example.com:8443/x", "login", "pass")),
        );
        check("https://example.com/only-url", Err(Malformed::NoLogin));
        check(
            "https://example.com/:login-only",
            Err(Malformed::NoPassword),
        );
        check("https://example.com/: :pw", Err(Malformed::NoLogin));
        check("https://example.com/:ann:", Err(Malformed::NoPassword));
        check(":ann:pw", Err(Malformed::NoUrl));
        check("", Err(Malformed::NoLogin));
    }

    #[test]
    fn blocks_are_read_whatever_the_family_and_junk_is_counted_by_its_first_line() {
        let text = "\
===============\r
Soft: Chrome (Default)\r
URL: https://www.example.com/login\r
Username: ann@example.test\r
Password: p: w d\r
===============\r
\r
Host: android://x==@com.example.app/\r
Login: 5551234\r
PASS: pw2\r
Application: Edge\r
\r
Browser: Firefox\r
Profile: 1\r
\r
URL: https://shop.example.org/\r
USER: bob\r
\r
random junk line\r
";
        let mut blocks = Blocks::new();
        let mut got = Vec::new();
        for (i, line) in text.split('\n').enumerate() {
            got.extend(blocks.line(i as u64 + 1, line.as_bytes()));
        }
        got.extend(blocks.finish());
        type Read = Result<(Website, String, String), Malformed>;
        let got: Vec<(u64, Read)> = got
            .into_iter()
            .map(|(n, r)| {
                (
                    n,
                    r.map(|c| {
                        (
                            c.website,
                            c.login.into_owned(),
                            String::from_utf8(c.password.into_owned()).unwrap(),
                        )
                    }),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    2,
                    Ok((
                        domain("example.com"),
                        "ann@example.test".into(),
                        "p: w d".into()
                    ))
                ),
                (8, Ok((Website::None, "5551234".into(), "pw2".into()))),
                (13, Err(Malformed::Junk)),
                (16, Err(Malformed::NoPassword)),
                (19, Err(Malformed::Junk)),
            ]
        );
    }

    /// The generator writes a tree and, independently of this parser, the truth of what
    /// it holds: every capture with its website and every malformed unit, by file and line.
    #[test]
    fn a_generated_stealer_tree_reads_exactly_as_its_generator_says() {
        let tmp = tempfile::tempdir().unwrap();
        let truth = leakwatch_gen::write_stealer_tree(tmp.path(), 4000, 5, 22).unwrap();
        let mut captures = Vec::new();
        let mut malformed = Vec::new();
        let stats = read_tree(tmp.path(), &mut |(file, line, read)| match read {
            Ok(c) => captures.push(leakwatch_gen::GenCapture {
                file: file.to_owned(),
                line,
                website: match c.website {
                    Website::Domain(d) => Some(d),
                    Website::None => None,
                },
                login: c.login.into_owned(),
                password: String::from_utf8(c.password.into_owned()).unwrap(),
            }),
            Err(_) => malformed.push((file.to_owned(), line)),
        })
        .unwrap();
        captures.sort();
        malformed.sort();
        assert!(
            stats.skipped >= 1,
            "{stats:?}: System.txt is no credential file"
        );
        assert!(truth.malformed.len() > 100, "{}", truth.malformed.len());
        let first_difference = captures.iter().zip(&truth.captures).find(|(a, b)| a != b);
        assert_eq!(first_difference, None);
        assert_eq!(captures.len(), truth.captures.len());
        assert_eq!(malformed, truth.malformed);
        // Every layout and the hostile kinds are all there.
        for layout in [
            "Passwords.txt",
            "All Passwords.txt",
            ".csv",
            ".jsonl",
            "part-0.txt",
        ] {
            assert!(
                truth
                    .captures
                    .iter()
                    .any(|c| c.file.to_string_lossy().ends_with(layout))
                    && truth
                        .malformed
                        .iter()
                        .any(|(f, _)| f.to_string_lossy().ends_with(layout)),
                "{layout}"
            );
        }
        for website in [
            None,
            Some("xn--bcherei-n2a.example"),
            Some("xn--strae-oqa.test"),
        ] {
            assert!(
                truth
                    .captures
                    .iter()
                    .any(|c| c.website.as_deref() == website),
                "{website:?}"
            );
        }
    }

    #[test]
    fn table_columns_come_from_the_map_by_name_or_number_or_by_convention() {
        let map = TableMap {
            url: Some("2".into()),
            login: Some("who".into()),
            password: Some("3".into()),
        };
        let t = Table::new(b"n;site;secret;WHO\n", &map).unwrap();
        let c = t
            .parse(b"1;https://www.example.test/;\"p;w\";ann\r")
            .unwrap();
        assert_eq!(c.website, domain("example.test"));
        assert_eq!(
            (c.login.as_ref(), c.password.as_ref()),
            ("ann", &b"p;w"[..])
        );
        let t = Table::new(b"Host\tE-Mail\tPass\n", &TableMap::default()).unwrap();
        assert_eq!(t.parse(b"192.0.2.1\t\tpw"), Err(Malformed::NoLogin));
        assert!(Table::new(b"name,email,password\n", &TableMap::default()).is_none());
        let t = Table::new(b"{\"Origin\":\"x\"}\n", &TableMap::default()).unwrap();
        let c = t
            .parse(br#"{"origin":"https://a.example/","user":12345,"pwd":"pw"}"#)
            .unwrap();
        assert_eq!(
            (c.website, c.login.as_ref()),
            (domain("a.example"), "12345")
        );
        assert_eq!(t.parse(b"[1]"), Err(Malformed::BadRow));
    }

    #[test]
    fn layouts_are_told_apart_by_name_and_first_lines() {
        assert_eq!(
            detect(Some("logs/PL[1234]/Passwords.txt"), b""),
            StealerLayout::Blocks
        );
        assert_eq!(
            detect(None, b"URL: https://a.example/\nUsername: x\nPassword: y\n"),
            StealerLayout::Blocks
        );
        assert_eq!(
            detect(None, b"https://a.example/:x:y\nhttps://b.example/:x:y\n"),
            StealerLayout::Ulp
        );
        assert_eq!(
            detect(None, b"url,login,password\nhttps://a.example/,x,y\n"),
            StealerLayout::Table
        );
        assert_eq!(
            detect(None, b"{\"url\":\"https://a.example/\"}\n"),
            StealerLayout::Table
        );
    }
}
