//! Files and trees of stealer logs: which layout a file has, and every unit of every file
//! under a directory, in path order.

use std::{
    fs,
    io::{self, BufRead},
    path::{Path, PathBuf},
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
    use crate::stealer::Website;

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
