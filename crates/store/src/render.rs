//! Range answers as text: `SUFFIX:COUNT` lines joined by CRLF, as Pwned Passwords sends them.
//!
//! The server renders a range on every cache miss, so this is on the hot path: each line is
//! assembled in registers and a stack buffer (SWAR hex, `itoa` counts) and stored with one
//! fixed-size copy, straight into the caller's buffer, while the segment decodes (see
//! `Snapshot::render_range`).

use crate::key::{Key, Namespace};

/// Bytes stored a line: at least the longest line (CRLF, 40 hex digits, ':', 20 decimal
/// digits = 63), copied whole whatever the line's length so that the copy is a couple of
/// vector moves rather than a `memmove` call; the next line overwrites the excess.
const STORE: usize = 64;

/// Appends the answer for `entries` (sorted, of one range of `ns`) to `out`.
pub fn render_entries(ns: Namespace, entries: &[(Key, u64)], out: &mut Vec<u8>) {
    let mut lines = LineWriter::new(ns, out);
    for &(key, count) in entries {
        lines.push(key, count, out);
    }
    lines.finish(out);
}

/// Appends range lines one at a time, CRLF between them. `out` holds scratch bytes past the
/// written lines until [`LineWriter::finish`] cuts them off.
pub(crate) struct LineWriter {
    digits: usize,
    first: bool,
    /// End of the written lines in `out`.
    end: usize,
    count: itoa::Buffer,
}

impl LineWriter {
    pub(crate) fn new(ns: Namespace, out: &[u8]) -> Self {
        LineWriter {
            digits: ns.suffix_hex_len(),
            first: true,
            end: out.len(),
            count: itoa::Buffer::new(),
        }
    }

    /// Makes `out` long enough for `n` more lines with counts of up to three digits, in one
    /// step: growing it a line at a time doubled it a dozen times a range, each a `memset`
    /// and often a copy. Longer counts still fit: [`LineWriter::push`] grows it as it must.
    pub(crate) fn make_room(&self, n: usize, out: &mut Vec<u8>) {
        let want = self.end + n * (self.digits + 6) + STORE;
        if out.len() < want {
            out.resize(want, 0);
        }
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, key: Key, count: u64, out: &mut Vec<u8>) {
        let mut line = [0u8; 42 + STORE];
        line[2..42].copy_from_slice(&key.hex());
        // The CRLF goes just before the suffix, over the prefix digits it leaves out.
        let start = 40 - self.digits;
        line[start..start + 2].copy_from_slice(b"\r\n");
        line[42] = b':';
        let text = self.count.format(count).as_bytes();
        line[43..43 + text.len()].copy_from_slice(text);
        let from = if self.first { start + 2 } else { start };
        self.first = false;
        if out.len() < self.end + STORE {
            out.resize((self.end + STORE).max(out.len() * 2), 0);
        }
        out[self.end..self.end + STORE].copy_from_slice(&line[from..from + STORE]);
        self.end += 43 + text.len() - from;
    }

    /// Cuts `out` to the written lines.
    pub(crate) fn finish(self, out: &mut Vec<u8>) {
        out.truncate(self.end);
    }
}
