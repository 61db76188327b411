//! The block layout of stealer families' `passwords.txt`: `Key: value` lines, blocks
//! separated by blank lines or lines of one repeated symbol.

use std::borrow::Cow;

use super::{Capture, Field, Malformed, website_of};
use crate::parse::trim_cr;

pub(super) fn block_field(key: &str) -> Option<Field> {
    let key: String = key
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect();
    Some(match key.as_str() {
        "url" | "host" | "hostname" | "site" | "website" | "origin" | "originurl" => Field::Url,
        "username" | "login" | "user" | "usr" | "email" | "userlogin" => Field::Login,
        "password" | "pass" | "pwd" | "userpassword" => Field::Password,
        "application" | "soft" | "browser" | "profile" | "storage" | "app" | "software" => {
            Field::Other
        }
        _ => return None,
    })
}

/// Whether a line separates blocks: blank, or one symbol repeated (at least three).
pub(super) fn is_separator(line: &[u8]) -> bool {
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
            Some(Field::Url) => {
                self.block.url = std::str::from_utf8(value).ok().map(|v| v.trim().to_owned())
            }
            Some(Field::Login) => {
                self.block.login = std::str::from_utf8(value).ok().map(|v| v.trim().to_owned())
            }
            Some(Field::Password) => self.block.password = Some(value.to_vec()),
            Some(Field::Other) | None => {}
        }
        None
    }

    /// The last block, at the end of the file.
    pub fn finish(self) -> Option<BlockRead> {
        self.block.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stealer::{Website, tests::domain};

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
}
