//! Stealer-log tables: CSV/TSV with a header, or JSON Lines, with url, login and password
//! columns.

use std::borrow::Cow;

use super::{Capture, Field, Malformed, website_of};
use crate::parse::trim_cr;

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

impl std::str::FromStr for TableMap {
    type Err = String;
    /// Reads `url=COL,login=COL,password=COL` (any of them; the rest by convention).
    fn from_str(s: &str) -> Result<Self, String> {
        let mut map = TableMap::default();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (field, col) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected FIELD=COLUMN"))?;
            let col = col.trim();
            if col.is_empty() {
                return Err(format!("`{part}`: empty column"));
            }
            let slot = match field.trim().to_ascii_lowercase().as_str() {
                "url" => &mut map.url,
                "login" => &mut map.login,
                "password" => &mut map.password,
                other => {
                    return Err(format!("unknown field `{other}` (url, login, password)"));
                }
            };
            if slot.replace(col.to_owned()).is_some() {
                return Err(format!("`{part}`: field mapped twice"));
            }
        }
        if map == TableMap::default() {
            return Err("empty mapping".into());
        }
        Ok(map)
    }
}

/// The field a column named `name` holds by convention.
fn table_field(name: &str) -> Option<Field> {
    let folded: String = name
        .trim()
        .trim_matches('"')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    Some(match folded.as_str() {
        "url" | "host" | "website" | "site" | "origin" | "originurl" | "domain" => Field::Url,
        "login" | "username" | "user" | "email" | "mail" | "account" => Field::Login,
        "password" | "pass" | "pwd" => Field::Password,
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
pub(super) fn mostly_json(head: &[u8]) -> bool {
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
        let fields = [Field::Url, Field::Login, Field::Password];
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
                let value = |wanted: &Option<String>, field: Field| {
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
                    value(&map.url, Field::Url),
                    value(&map.login, Field::Login),
                    value(&map.password, Field::Password).into_bytes(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stealer::tests::domain;

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
}
