//! Files and trees of stealer logs: which layout a file has, and every unit of every file
//! under a directory, in path order.

use std::{
    io::{self, BufRead},
    path::Path,
};

use super::{
    Capture, Malformed,
    blocks::{Blocks, block_field, is_separator},
    table::{Table, TableMap, mostly_json},
    ulp::{parse_ulp, split_ulp},
};
use crate::parse::trim_cr;

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
    /// Files read past (another layout, or a table without url, login and password
    /// columns).
    pub skipped: u64,
    /// Archive members that could not be read (encrypted, or compressed by a method this
    /// build does not read), read past and counted.
    pub unreadable: u64,
}

/// One unit of a tree as [`read_tree`] hands it over: the file (relative to the root, or
/// its path inside the archive), the unit's (first) line, and what it held.
pub type TreeUnit<'a> = (&'a Path, u64, Result<Capture<'a>, Malformed>);

/// Reads every regular file under `root` (or `root` itself, a file or an archive) as
/// [`read_source`] does, with the conventional table columns.
pub fn read_tree(root: &Path, each: &mut dyn FnMut(TreeUnit<'_>)) -> io::Result<TreeStats> {
    read_source(root, &TableMap::default(), each)
}

/// Reads every credential file of `source` — a directory tree (in path order, symbolic
/// links not followed), a `.zip`, `.tar`, `.tar.gz`/`.tgz` archive of one (in archive
/// order), or a single file — each in the layout [`detect`] finds, and hands over every
/// unit. Tables are read by `map` (a table without a url, login and password column is
/// read past, as are a log's other files).
pub fn read_source(
    source: &Path,
    map: &TableMap,
    each: &mut dyn FnMut(TreeUnit<'_>),
) -> io::Result<TreeStats> {
    let (mut files, mut skipped) = (0u64, 0u64);
    let unreadable = super::walk::walk(source, &mut |name, reader| {
        if read_file(Path::new(name), reader, map, each)? {
            files += 1;
        } else {
            skipped += 1;
        }
        Ok(())
    })?;
    Ok(TreeStats {
        files,
        skipped,
        unreadable,
    })
}

/// Reads one file named `rel` in the layout [`detect`] finds; `false` when it is no
/// credential file (read past).
pub fn read_file(
    rel: &Path,
    reader: &mut dyn BufRead,
    map: &TableMap,
    each: &mut dyn FnMut(TreeUnit<'_>),
) -> io::Result<bool> {
    let name = rel.to_string_lossy();
    let layout = detect(Some(&name), reader.fill_buf()?);
    let mut line = Vec::new();
    let mut number = 0u64;
    match layout {
        StealerLayout::Ulp => {
            while reader.read_until(b'\n', &mut line)? > 0 {
                number += 1;
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                if !trim_cr(text).iter().all(u8::is_ascii_whitespace) {
                    each((rel, number, parse_ulp(text)));
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
                    each((rel, first, read));
                }
                line.clear();
            }
            if let Some((first, read)) = blocks.finish() {
                each((rel, first, read));
            }
        }
        StealerLayout::Table => {
            let Some(table) = Table::new(reader.fill_buf()?, map) else {
                return Ok(false);
            };
            let header = table.has_header();
            while reader.read_until(b'\n', &mut line)? > 0 {
                number += 1;
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                let blank = trim_cr(text).iter().all(u8::is_ascii_whitespace);
                // A delimited table's first line is its header.
                let is_header = header && number == 1;
                if !blank && !is_header {
                    each((rel, number, table.parse(text)));
                }
                line.clear();
            }
        }
        StealerLayout::Other => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stealer::Website;

    /// The generator writes a tree and, independently of this parser, the truth of what
    /// it holds: every capture with its website and every malformed unit, by file and line.
    /// 12,000 units make ~600 files, more than the generator holds open at once: files it
    /// closed and reopened for appending must still hold their lines where it says.
    #[test]
    fn a_generated_stealer_tree_reads_exactly_as_its_generator_says() {
        let tmp = tempfile::tempdir().unwrap();
        let truth = leakwatch_gen::write_stealer_tree(tmp.path(), 12_000, 5, 22).unwrap();
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
