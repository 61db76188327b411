//! Breach dumps: combolists, CSV/TSV with a header, JSON Lines — from one line to the
//! identifiers and password it holds.
//!
//! A [`Layout`] is worked out once per file from its first lines (separator, identifier
//! kind, header columns) and then applied to every line by the worker threads. Lines are
//! independent: a CSV field with an embedded line break is reported as a bad line, never
//! glued to the next one (blocks are cut at line ends and parsed in parallel).
//!
//! Rules (README "Dump formats"):
//! - **Combolist**: `identifier<sep>password`, `sep` one of `:` `;` `|` tab, chosen per file
//!   as the one that splits most sample lines into a valid identifier. The line is split at
//!   the *first* separator (identifiers never contain one; passwords may). A line without
//!   a separator is an identifier alone. The identifier kind (e-mail, phone, username) is
//!   chosen per file from the sample too, unless given.
//! - **CSV/TSV**: RFC 4180 quoting (`"a,b"`, `""` for a quote). Columns come from the header,
//!   by `--map email=COL,...` (a header name or a 1-based number) or by well-known names
//!   (`email`, `e-mail`, `mail`, `phone`, `mobile`, `username`, `login`, `password`, …).
//! - **JSON Lines**: one object per line; fields by the same mapping, values strings or
//!   numbers.
//!
//! A line is rejected when it cannot be split, when any mapped identifier present in it is
//! invalid, or when it holds no identifier at all. Nothing here writes or logs a line.

use std::borrow::Cow;

use leakwatch_identity::{Identifier, InvalidIdentifier, Kind};

use crate::parse::{Format, Reject};

/// The fields a dump can map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A username.
    Username,
    /// A plaintext password.
    Password,
}

impl Field {
    fn kind(self) -> Option<Kind> {
        match self {
            Field::Email => Some(Kind::Email),
            Field::Phone => Some(Kind::Phone),
            Field::Username => Some(Kind::Username),
            Field::Password => None,
        }
    }

    /// The field a column or JSON key of this name holds by convention, if any.
    pub fn by_convention(name: &str) -> Option<Field> {
        let folded: String = name
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_' | '.'))
            .flat_map(char::to_lowercase)
            .collect();
        match folded.as_str() {
            "email" | "mail" | "emailaddress" | "mailaddress" => Some(Field::Email),
            "phone" | "phonenumber" | "mobile" | "mobilephone" | "cellphone" | "cell"
            | "telephone" | "tel" | "msisdn" => Some(Field::Phone),
            "username" | "user" | "login" | "nick" | "nickname" | "handle" | "screenname" => {
                Some(Field::Username)
            }
            "password" | "pass" | "passwd" | "pwd" | "pw" | "plaintext" | "plainpassword" => {
                Some(Field::Password)
            }
            _ => None,
        }
    }
}

/// Why a dump's layout cannot be worked out from its options and its first lines. Each
/// says what is wrong; the CLI words it with the flag that fixes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// A column map was given for a combolist, which has no columns.
    #[error("a column map applies to CSV, TSV and JSON Lines, not combolists")]
    MapOnCombolist,
    /// A CSV/TSV dump without a header line.
    #[error("the file is empty: a CSV/TSV dump needs a header line")]
    NoHeader,
    /// The header line does not parse.
    #[error("header line: {0}")]
    BadHeader(String),
    /// A JSON Lines map names no identifier field.
    #[error("the column map names no identifier field (email, phone or username)")]
    MapWithoutIdentifier,
    /// A password format where a dump was expected.
    #[error("{0:?} is not a dump format")]
    NotADump(Format),
    /// A column number of 0.
    #[error("column numbers start at 1")]
    ColumnZero,
    /// A mapped column name that the header does not have.
    #[error("no column `{column}` in the header ({header})")]
    NoSuchColumn {
        /// The name asked for.
        column: String,
        /// The header's names, comma-separated.
        header: String,
    },
    /// No column holds an identifier (by the map, or by a conventional name).
    #[error("no identifier column found in the header ({header})")]
    NoIdentifierColumn {
        /// The header's names, comma-separated.
        header: String,
    },
}

/// Where each field is: `--map email=COL,phone=COL,username=COL,password=COL`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    /// `(field, column)`: a header name, or a 1-based column number for CSV/TSV.
    pub entries: Vec<(Field, String)>,
}

impl std::str::FromStr for ColumnMap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (field, col) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected FIELD=COLUMN"))?;
            let field = match field.trim().to_ascii_lowercase().as_str() {
                "email" => Field::Email,
                "phone" => Field::Phone,
                "username" => Field::Username,
                "password" => Field::Password,
                other => {
                    return Err(format!(
                        "unknown field `{other}` (email, phone, username, password)"
                    ));
                }
            };
            if col.trim().is_empty() {
                return Err(format!("`{part}`: empty column"));
            }
            if entries.iter().any(|(f, _)| *f == field) {
                return Err(format!("`{part}`: field mapped twice"));
            }
            entries.push((field, col.trim().to_owned()));
        }
        if entries.is_empty() {
            return Err("empty mapping".into());
        }
        Ok(ColumnMap { entries })
    }
}

/// What to ask of a dump beyond its format.
#[derive(Debug, Clone, Default)]
pub struct DumpOptions {
    /// Column or field mapping; `None` uses the conventional names.
    pub map: Option<ColumnMap>,
    /// For combolists: the identifier kind; `None` detects it per file.
    pub identifier: Option<Kind>,
    /// Region for national phone numbers (ISO 3166 alpha-2).
    pub default_region: Option<String>,
}

/// How the lines of one dump file are read.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The format.
    pub format: Format,
    /// Separator (combolist, CSV, TSV).
    pub sep: u8,
    /// Combolist identifier kind.
    pub combo_kind: Kind,
    /// CSV/TSV: `(field, 0-based column)`.
    columns: Vec<(Field, usize)>,
    /// JSON Lines: explicit `(field, key)` mapping, if given.
    json_map: Option<Vec<(Field, String)>>,
    /// Lines before the data (the CSV/TSV header).
    pub header_lines: u64,
    region: Option<String>,
}

/// One parsed line: up to one identifier of each kind and maybe a password.
#[derive(Debug, Default)]
pub struct Record<'a> {
    /// The identifiers, normalised.
    pub identifiers: Vec<Identifier>,
    /// The password as written, if the line has one.
    pub password: Option<Cow<'a, str>>,
}

const SEPARATORS: [u8; 4] = [b':', b';', b'|', b'\t'];

fn sample_lines(head: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = head
        .split(|&b| b == b'\n')
        .map(crate::parse::trim_cr)
        .map(|l| l.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(l))
        .collect();
    if !head.ends_with(b"\n") && lines.len() > 1 {
        lines.pop(); // may be cut short
    }
    lines.retain(|l| !l.trim_ascii().is_empty());
    lines.truncate(200);
    lines
}

/// Guesses a dump format from the first bytes (and the file name's extension, if any).
pub fn detect(head: &[u8], name: Option<&str>) -> Format {
    let ext = name
        .map(|n| {
            n.trim_end_matches(".gz")
                .trim_end_matches(".zst")
                .rsplit('.')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match ext.as_str() {
        "csv" => return Format::Csv,
        "tsv" | "tab" => return Format::Tsv,
        "jsonl" | "ndjson" => return Format::Jsonl,
        _ => {}
    }
    let lines = sample_lines(head);
    let Some(first) = lines.first() else {
        return Format::Combo;
    };
    if first.trim_ascii_start().starts_with(b"{") {
        return Format::Jsonl;
    }
    // A header row: every cell a name, at least one a known field name.
    let text = String::from_utf8_lossy(first);
    for (sep, format) in [('\t', Format::Tsv), (',', Format::Csv)] {
        let cells: Vec<&str> = text.split(sep).collect();
        if cells.len() > 1
            && !text.contains('@')
            && cells
                .iter()
                .any(|c| Field::by_convention(c.trim_matches('"')).is_some())
        {
            return format;
        }
    }
    Format::Combo
}

impl Layout {
    /// Works out how to read a file of `format` from its first bytes.
    pub fn new(format: Format, head: &[u8], opts: &DumpOptions) -> Result<Layout, LayoutError> {
        let mut layout = Layout {
            format,
            sep: b',',
            combo_kind: Kind::Email,
            columns: Vec::new(),
            json_map: None,
            header_lines: 0,
            region: opts.default_region.clone(),
        };
        let lines = sample_lines(head);
        match format {
            Format::Combo => {
                if opts.map.is_some() {
                    return Err(LayoutError::MapOnCombolist);
                }
                layout.combo_kind = opts.identifier.unwrap_or_else(|| combo_kind(&lines));
                layout.sep = best_separator(&lines, layout.combo_kind, opts);
            }
            Format::Csv | Format::Tsv => {
                layout.sep = if format == Format::Csv { b',' } else { b'\t' };
                let first = lines.first().ok_or(LayoutError::NoHeader)?;
                let mut cells = Vec::new();
                split_delimited(first, layout.sep, &mut cells)
                    .map_err(|r| LayoutError::BadHeader(r.reason().into_owned()))?;
                let header: Vec<String> = cells
                    .iter()
                    .map(|c| String::from_utf8_lossy(c).trim().to_owned())
                    .collect();
                layout.columns = resolve_columns(&header, opts.map.as_ref())?;
                layout.header_lines = 1;
            }
            Format::Jsonl => {
                layout.json_map = opts.map.as_ref().map(|m| m.entries.clone());
                if let Some(m) = &layout.json_map
                    && !m.iter().any(|(f, _)| f.kind().is_some())
                {
                    return Err(LayoutError::MapWithoutIdentifier);
                }
            }
            Format::Hibp | Format::HibpDir | Format::Plain | Format::Stealer => {
                return Err(LayoutError::NotADump(format));
            }
        }
        Ok(layout)
    }

    /// Parses one data line (not the header).
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<Record<'a>, Reject> {
        if line.trim_ascii().is_empty() {
            return Err(Reject::Empty);
        }
        let text = std::str::from_utf8(line).map_err(|_| Reject::NotUtf8)?;
        let region = self.region.as_deref();
        let mut rec = Record::default();
        match self.format {
            Format::Combo => {
                let (ident, password) = match memchr::memchr(self.sep, line) {
                    Some(i) => (&text[..i], Some(&text[i + 1..])),
                    None => (text, None),
                };
                rec.identifiers
                    .push(Identifier::parse(self.combo_kind, ident, region).map_err(bad_id)?);
                rec.password = password.filter(|p| !p.is_empty()).map(Cow::Borrowed);
            }
            Format::Csv | Format::Tsv => {
                let mut cells = Vec::with_capacity(8);
                split_delimited(line, self.sep, &mut cells)?;
                for &(field, col) in &self.columns {
                    let cell = cells.get(col).ok_or(Reject::TooFewColumns)?;
                    let value = match cell {
                        Cow::Borrowed(b) => {
                            Cow::Borrowed(std::str::from_utf8(b).map_err(|_| Reject::NotUtf8)?)
                        }
                        Cow::Owned(v) => {
                            Cow::Owned(String::from_utf8(v.clone()).map_err(|_| Reject::NotUtf8)?)
                        }
                    };
                    add_field(&mut rec, field, value, region)?;
                }
            }
            Format::Jsonl => {
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(text).map_err(|_| Reject::BadJson)?;
                for (key, value) in object {
                    let field = match &self.json_map {
                        Some(map) => map.iter().find(|(_, k)| *k == key).map(|(f, _)| *f),
                        None => Field::by_convention(&key),
                    };
                    let Some(field) = field else { continue };
                    let value = match value {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Null => continue,
                        _ => return Err(Reject::BadJson),
                    };
                    add_field(&mut rec, field, Cow::Owned(value), region)?;
                }
            }
            Format::Hibp | Format::HibpDir | Format::Plain | Format::Stealer => {
                return Err(Reject::NotAHashLine);
            }
        }
        if rec.identifiers.is_empty() {
            return Err(Reject::NoIdentifier);
        }
        if let Some(p) = &rec.password
            && p.len() > crate::parse::MAX_PASSWORD_LEN
        {
            return Err(Reject::TooLong);
        }
        Ok(rec)
    }
}

fn bad_id(e: InvalidIdentifier) -> Reject {
    Reject::Identifier(e)
}

fn add_field<'a>(
    rec: &mut Record<'a>,
    field: Field,
    value: Cow<'a, str>,
    region: Option<&str>,
) -> Result<(), Reject> {
    if value.trim().is_empty() {
        return Ok(());
    }
    match field.kind() {
        Some(kind) => {
            let id = Identifier::parse(kind, &value, region).map_err(bad_id)?;
            if !rec.identifiers.iter().any(|i| i.kind() == kind) {
                rec.identifiers.push(id);
            }
        }
        None => rec.password = Some(value),
    }
    Ok(())
}

fn combo_kind(lines: &[&[u8]]) -> Kind {
    let idents: Vec<String> = lines
        .iter()
        .map(|l| {
            let end = l
                .iter()
                .position(|b| SEPARATORS.contains(b))
                .unwrap_or(l.len());
            String::from_utf8_lossy(&l[..end]).into_owned()
        })
        .collect();
    let n = idents.len().max(1);
    let emails = idents.iter().filter(|i| i.contains('@')).count();
    let phones = idents
        .iter()
        .filter(|i| leakwatch_identity::guess_kind(i) == Kind::Phone)
        .count();
    if emails * 2 >= n {
        Kind::Email
    } else if phones * 2 >= n {
        Kind::Phone
    } else {
        Kind::Username
    }
}

fn best_separator(lines: &[&[u8]], kind: Kind, opts: &DumpOptions) -> u8 {
    let region = opts.default_region.as_deref();
    let score = |sep: u8| {
        lines
            .iter()
            .filter(|l| {
                let Some(i) = memchr::memchr(sep, l) else {
                    return false;
                };
                std::str::from_utf8(&l[..i])
                    .is_ok_and(|id| Identifier::parse(kind, id, region).is_ok())
            })
            .count()
    };
    // Ties go to the earlier separator in `:` `;` `|` tab order.
    let mut best = (0, SEPARATORS[0]);
    for sep in SEPARATORS {
        let s = score(sep);
        if s > best.0 {
            best = (s, sep);
        }
    }
    best.1
}

fn resolve_columns(
    header: &[String],
    map: Option<&ColumnMap>,
) -> Result<Vec<(Field, usize)>, LayoutError> {
    let mut columns = Vec::new();
    match map {
        Some(map) => {
            for (field, col) in &map.entries {
                let index = match col.parse::<usize>() {
                    Ok(n) if n >= 1 => n - 1,
                    Ok(_) => return Err(LayoutError::ColumnZero),
                    Err(_) => header
                        .iter()
                        .position(|h| h.eq_ignore_ascii_case(col))
                        .ok_or_else(|| LayoutError::NoSuchColumn {
                            column: col.clone(),
                            header: header.join(", "),
                        })?,
                };
                columns.push((*field, index));
            }
        }
        None => {
            for (i, name) in header.iter().enumerate() {
                if let Some(field) = Field::by_convention(name)
                    && !columns.iter().any(|(f, _)| *f == field)
                {
                    columns.push((field, i));
                }
            }
        }
    }
    if !columns.iter().any(|(f, _)| f.kind().is_some()) {
        return Err(LayoutError::NoIdentifierColumn {
            header: header.join(", "),
        });
    }
    Ok(columns)
}

/// Splits a CSV/TSV line with RFC 4180 quoting into `out`.
pub fn split_delimited<'a>(
    line: &'a [u8],
    sep: u8,
    out: &mut Vec<Cow<'a, [u8]>>,
) -> Result<(), Reject> {
    out.clear();
    let mut i = 0;
    loop {
        if line.get(i) == Some(&b'"') {
            let mut value = Vec::new();
            i += 1;
            loop {
                let q = memchr::memchr(b'"', &line[i..]).ok_or(Reject::BadQuoting)? + i;
                value.extend_from_slice(&line[i..q]);
                i = q + 1;
                if line.get(i) == Some(&b'"') {
                    value.push(b'"');
                    i += 1;
                } else {
                    break;
                }
            }
            if i < line.len() && line[i] != sep {
                return Err(Reject::BadQuoting);
            }
            out.push(Cow::Owned(value));
        } else {
            let end = memchr::memchr(sep, &line[i..]).map_or(line.len(), |j| i + j);
            out.push(Cow::Borrowed(&line[i..end]));
            i = end;
        }
        if i >= line.len() {
            return Ok(());
        }
        i += 1; // the separator
        if i == line.len() {
            out.push(Cow::Borrowed(&line[i..]));
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(format: Format, head: &str, opts: DumpOptions) -> Layout {
        Layout::new(format, head.as_bytes(), &opts).unwrap()
    }

    /// `line` parsed as `(identifiers, password)` or the reject reason.
    fn check(l: &Layout, line: &str, expected: Result<(&[&str], Option<&str>), &str>) {
        let got = l.parse(line.as_bytes()).map(|r| {
            (
                r.identifiers
                    .iter()
                    .map(|i| i.as_str().to_owned())
                    .collect::<Vec<_>>(),
                r.password.map(|p| p.into_owned()),
            )
        });
        match (got, expected) {
            (Ok((ids, pw)), Ok((want_ids, want_pw))) => {
                assert_eq!(ids, want_ids, "{line:?}");
                assert_eq!(pw.as_deref(), want_pw, "{line:?}");
            }
            (Err(r), Err(want)) => assert!(r.reason().contains(want), "{line:?}: {}", r.reason()),
            (got, want) => panic!("{line:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn combolists_split_at_the_first_separator_and_detect_it_per_file() {
        let head = "a@x.example;pw:1\nb@y.example;p;w\nc@z.example\n";
        let l = layout(Format::Combo, head, DumpOptions::default());
        assert_eq!((l.sep, l.combo_kind), (b';', Kind::Email));
        check(&l, "A@X.Example;pw:1", Ok((&["a@x.example"], Some("pw:1"))));
        check(&l, "b@y.example;p;w", Ok((&["b@y.example"], Some("p;w"))));
        check(&l, "c@z.example", Ok((&["c@z.example"], None)));
        check(&l, "c@z.example;", Ok((&["c@z.example"], None)));
        check(&l, "noatsign.example;pw", Err("no @"));
        check(&l, "@z.example;pw", Err("empty local part"));
        check(&l, "d@localhost;pw", Err("two labels"));
        check(&l, "   ", Err("empty"));
        for (head, sep) in [
            ("a@x.example:p\nb@x.example:q;r\n", b':'),
            ("a@x.example|p\nb@x.example|q:r\n", b'|'),
            ("a@x.example\tp\nb@x.example\tq|r\n", b'\t'),
        ] {
            assert_eq!(layout(Format::Combo, head, DumpOptions::default()).sep, sep);
        }
        let users = layout(Format::Combo, "Alice:pw\nbob:pw2\n", DumpOptions::default());
        assert_eq!(users.combo_kind, Kind::Username);
        check(&users, "Straße:pw", Ok((&["strasse"], Some("pw"))));
        let phones = layout(
            Format::Combo,
            "+44 20 7946 0123:pw\n020 7946 0456:x\n",
            DumpOptions {
                default_region: Some("GB".into()),
                ..DumpOptions::default()
            },
        );
        assert_eq!(phones.combo_kind, Kind::Phone);
        check(
            &phones,
            "020 7946 0456:x",
            Ok((&["+442079460456"], Some("x"))),
        );
    }

    #[test]
    fn csv_maps_columns_by_convention_name_or_number_and_honours_quotes() {
        let head = "Email,User Name,phone,Password,name\n";
        let l = layout(Format::Csv, head, DumpOptions::default());
        check(
            &l,
            "X@Y.example,Kim,+44 20 7946 0123,\"p,w\"\"x\",\"kim, lee\"",
            Ok((&["x@y.example", "kim", "+442079460123"], Some("p,w\"x"))),
        );
        check(&l, "x@y.example,,,,", Ok((&["x@y.example"], None)));
        check(&l, ",,,pw,", Err("no identifier"));
        check(&l, "x@y.example,kim", Err("fewer fields"));
        check(&l, "bad,kim,,pw,", Err("no @"));
        check(&l, "x@y.example,kim,,\"open", Err("quot"));
        let mapped = layout(
            Format::Csv,
            "a,b,c\n",
            DumpOptions {
                map: Some("email=3,password=a".parse().unwrap()),
                ..DumpOptions::default()
            },
        );
        check(
            &mapped,
            "pw,zz,x@y.example",
            Ok((&["x@y.example"], Some("pw"))),
        );
        let err = Layout::new(Format::Csv, b"a,b\n", &DumpOptions::default()).unwrap_err();
        assert_eq!(
            err,
            LayoutError::NoIdentifierColumn {
                header: "a, b".into()
            }
        );
        let tsv = layout(Format::Tsv, "email\tpassword\n", DumpOptions::default());
        check(
            &tsv,
            "x@y.example\tp,w",
            Ok((&["x@y.example"], Some("p,w"))),
        );
    }

    #[test]
    fn json_lines_take_strings_and_numbers_and_reject_broken_objects() {
        let l = layout(Format::Jsonl, "", DumpOptions::default());
        check(
            &l,
            r#"{"email":"X@Y.example","password":"p\"w","phone":null,"age":3}"#,
            Ok((&["x@y.example"], Some("p\"w"))),
        );
        check(&l, r#"{"email": "x@y.example", "password": "#, Err("JSON"));
        check(&l, r#"{"email":["x@y.example"]}"#, Err("JSON"));
        check(&l, r#"{"name":"kim"}"#, Err("no identifier"));
        let mapped = layout(
            Format::Jsonl,
            "",
            DumpOptions {
                map: Some("username=handle,phone=tel".parse().unwrap()),
                default_region: Some("GB".into()),
                ..DumpOptions::default()
            },
        );
        check(
            &mapped,
            r#"{"handle":"Kim","tel":442079460123,"email":"ignored"}"#,
            Ok((&["kim", "+442079460123"], None)),
        );
    }

    #[test]
    fn formats_are_detected_from_content_and_extension() {
        assert_eq!(
            detect(b"email,password\nx@y.example,p\n", None),
            Format::Csv
        );
        assert_eq!(detect(b"email\tpassword\n", None), Format::Tsv);
        assert_eq!(
            detect(b"{\"email\":\"x@y.example\"}\n", None),
            Format::Jsonl
        );
        assert_eq!(detect(b"x@y.example:p,w\n", None), Format::Combo);
        assert_eq!(detect(b"x@y.example:p\n", Some("dump.csv.gz")), Format::Csv);
        assert_eq!(detect(b"", Some("a.ndjson")), Format::Jsonl);
    }

    #[test]
    fn column_maps_parse_and_refuse_nonsense() {
        let m: ColumnMap = "email=Mail, password=3".parse().unwrap();
        assert_eq!(
            m.entries,
            [(Field::Email, "Mail".into()), (Field::Password, "3".into())]
        );
        for bad in ["", "email", "mail=x", "email=", "email=a,email=b"] {
            assert!(bad.parse::<ColumnMap>().is_err(), "{bad}");
        }
    }
}
