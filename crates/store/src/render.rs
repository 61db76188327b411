//! Range answers as text: `SUFFIX:COUNT` lines joined by CRLF, as Pwned Passwords sends them.
//!
//! The server renders a range on every cache miss, so this is on the hot path: each line is
//! assembled in registers and a stack buffer (SWAR hex, `itoa` counts) and stored with one
//! fixed-size copy, straight into the caller's buffer, while the segment decodes (see
//! `Snapshot::render_range`). Lines are written into the buffer's spare capacity, which is
//! reserved for the whole range at once and never zero-filled first: that `memset` of a
//! 76 KB answer was 4% of the server's CPU under uniform load.

use std::mem::MaybeUninit;

use crate::key::{Key, Namespace};

/// Bytes stored a line: at least the longest line (CRLF, 40 hex digits, ':', 20 decimal
/// digits = 63), copied whole whatever the line's length so that the copy is a couple of
/// vector moves rather than a `memmove` call; the next line overwrites the excess.
const STORE: usize = 64;

/// Appends the answer for `entries` (sorted, of one range of `ns`) to `out`.
pub fn render_entries(ns: Namespace, entries: &[(Key, u64)], out: &mut Vec<u8>) {
    let mut lines = LineWriter::new(ns);
    for &(key, count) in entries {
        lines.push(key, count, out);
    }
}

/// Appends range lines one at a time, CRLF between them, to a `Vec` whose length is always
/// the end of the written lines: each line is stored in the spare capacity past it (a
/// [`STORE`]-byte slot, so the stores are fixed-size) and the length then moves over the
/// line's own bytes.
pub(crate) struct LineWriter {
    digits: usize,
    first: bool,
    count: itoa::Buffer,
}

/// The [`STORE`] bytes of spare capacity past `out`'s length, reserved if need be.
#[inline(always)]
fn slot(out: &mut Vec<u8>) -> &mut [MaybeUninit<u8>; STORE] {
    if out.capacity() - out.len() < STORE {
        // Doubling: a range whose room was not made first still grows in few steps.
        out.reserve(STORE.max(out.len()));
    }
    let spare = out.spare_capacity_mut();
    (&mut spare[..STORE])
        .try_into()
        .expect("STORE bytes reserved above")
}

/// Writes `src` at the start of `dst` (`<[MaybeUninit<u8>]>::write_copy_of_slice` is newer
/// than the workspace's minimum Rust; a fixed-length loop compiles to the same moves).
#[inline(always)]
fn put(dst: &mut [MaybeUninit<u8>], src: &[u8]) {
    for (d, &s) in dst[..src.len()].iter_mut().zip(src) {
        d.write(s);
    }
}

/// Moves `out`'s length over the first `len` bytes of its [`slot`].
///
/// # Safety
///
/// The caller has written each of those bytes through the slot since the length last moved.
#[inline(always)]
unsafe fn commit(out: &mut Vec<u8>, len: usize) {
    debug_assert!(len <= STORE && out.capacity() - out.len() >= STORE);
    // SAFETY: `len <= STORE` bytes past the length lie in the reserved slot (capacity), and
    // the caller initialised them.
    unsafe { out.set_len(out.len() + len) };
}

impl LineWriter {
    pub(crate) fn new(ns: Namespace) -> Self {
        LineWriter {
            digits: ns.suffix_hex_len(),
            first: true,
            count: itoa::Buffer::new(),
        }
    }

    /// Reserves room in `out` for `n` more lines with counts of up to three digits, in one
    /// step: growing it a line at a time doubled it a dozen times a range, each often a
    /// copy. Longer counts still fit: [`slot`] grows it as it must.
    pub(crate) fn make_room(&self, n: usize, out: &mut Vec<u8>) {
        out.reserve(n * (self.digits + 6) + STORE);
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, key: Key, count: u64, out: &mut Vec<u8>) {
        if self.digits == 35 && count < 100_000_000 {
            self.push_sha1(key, count, out);
            return;
        }
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
        put(slot(out), &line[from..from + STORE]);
        // SAFETY: the whole slot was written, and the line is shorter (at most 63 bytes).
        unsafe { commit(out, 43 + text.len() - from) };
    }

    /// A SHA-1 line with a count below 10^8 (all but a handful of the real corpus's),
    /// from its key.
    #[inline(always)]
    fn push_sha1(&mut self, key: Key, count: u64, out: &mut Vec<u8>) {
        let (top, [a, b]) = key.hex_words();
        // Digits 5..8 of the 40 are the top word's bytes 5..8.
        self.store_sha1((top >> 40) as u32, a, b, count, out);
    }

    /// Stores a SHA-1 line in six writes of words computed in registers, straight into
    /// `out`'s spare capacity: `top` holds the suffix's first three digits in its low bytes,
    /// `a` and `b` the other 32. Assembling the line in a stack buffer and copying it, as the
    /// general path does, stalls on store forwarding (a load of bytes just stored
    /// piecewise): it was a third of a range's rendering.
    #[inline(always)]
    fn store_sha1(&mut self, top: u32, a: u128, b: u128, count: u64, out: &mut Vec<u8>) {
        let hex = |digits: &mut [MaybeUninit<u8>; 32]| {
            put(&mut digits[..16], &a.to_le_bytes());
            put(&mut digits[16..], &b.to_le_bytes());
        };
        self.store_sha1_with(top, hex, count, out);
    }

    /// [`Self::store_sha1`] with the last 32 digits written by `hex`.
    #[inline(always)]
    fn store_sha1_with(
        &mut self,
        top: u32,
        hex: impl FnOnce(&mut [MaybeUninit<u8>; 32]),
        count: u64,
        out: &mut Vec<u8>,
    ) {
        let (digits, len) = decimal(count);
        let slot = slot(out);
        let mut at = 0;
        if !self.first {
            put(&mut slot[..2], b"\r\n");
            at = 2;
        }
        self.first = false;
        put(&mut slot[at..at + 4], &top.to_le_bytes());
        hex((&mut slot[at + 3..at + 35])
            .try_into()
            .expect("32 bytes of the slot"));
        slot[at + 35].write(b':');
        put(&mut slot[at + 36..at + 44], &digits.to_le_bytes());
        // SAFETY: bytes `..at + 44` of the slot were written just above (`len <= 8`).
        unsafe { commit(out, at + 36 + len) };
    }
}

/// The three upper-case hex digits of `v < 4096` in the low bytes of a word, most
/// significant first: `'0' + n`, plus 7 where `n > 9`, for the three at once.
#[inline(always)]
pub(crate) const fn hex3(v: u64) -> u32 {
    let v = v as u32;
    let nibbles = (v >> 8 & 0xF) | (v >> 4 & 0xF) << 8 | (v & 0xF) << 16;
    let letters = ((nibbles + 0x0006_0606) >> 4) & 0x0001_0101;
    nibbles + 0x0030_3030 + letters * 7
}

/// "00" to "99".
static DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// The decimal digits of `n < 10^8` as ASCII in a word, most significant in the low byte, and
/// how many there are: two 4-digit halves, each split into 2-digit and then 1-digit lanes by
/// multiplying by reciprocals, all lanes at once (no lane carries into the next).
#[inline(always)]
fn decimal(n: u64) -> (u64, usize) {
    debug_assert!(n < 100_000_000);
    let len = n.max(1).ilog10() as usize + 1;
    if n < 10_000 {
        // Most counts: two pairs of digits from a table (a short chain; the multiplications
        // below made the longest chain of a line, and a line's work is latency-bound).
        let pair = |i: u64| u16::from_le_bytes(DIGIT_PAIRS[i as usize]) as u64;
        let four = pair(n / 100) | pair(n % 100) << 16;
        return (four >> (32 - 8 * len), len);
    }
    let mut x = (n / 10_000) | (n % 10_000) << 32;
    // x / 100 in each 32-bit lane (exact below 43,699).
    let hundreds = ((x * 5243) >> 19) & 0x0000_007F_0000_007F;
    x = hundreds | (x - hundreds * 100) << 16;
    // x / 10 in each 16-bit lane (exact below 179).
    let tens = ((x * 103) >> 10) & 0x000F_000F_000F_000F;
    x = tens | (x - tens * 10) << 8;
    // The length comes from the count itself, not from the digits: the next line's place
    // then waits for a `lzcnt`, not for this chain of multiplications.
    ((x >> (64 - 8 * len)) + 0x3030_3030_3030_3030, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_digits_equal_fmt_below_ten_to_the_eight() {
        let check = |n: u64| {
            let (word, len) = decimal(n);
            assert_eq!(&word.to_le_bytes()[..len], n.to_string().as_bytes(), "{n}");
        };
        for n in (0..100_000).chain((0..100_000_000).step_by(9_973)) {
            check(n);
        }
        for n in [99_999_999, 10_000_000, 10_000, 9_999, 100, 10, 1] {
            check(n);
        }
    }

    #[test]
    fn every_line_path_renders_what_fmt_renders() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for ns in [Namespace::Sha1, Namespace::Ntlm] {
            let mut entries = Vec::new();
            let mut want = Vec::new();
            for i in 0..3_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let digest: Vec<u8> = (0..ns.hex_len() / 2)
                    .map(|j| (x.rotate_left(j as u32 * 7) ^ i) as u8)
                    .collect();
                let key = Key::from_digest(&digest).unwrap();
                // Counts on both sides of the fast path's limit, and the widest.
                let count = match i % 4 {
                    0 => 1 + x % 10,
                    1 => x % 100_000_000,
                    2 => 99_999_999 + x % 3,
                    _ => x,
                }
                .max(1);
                entries.push((key, count));
                let hex = key.to_hex(ns);
                want.push(format!("{}:{count}", &hex[5..]));
            }
            let mut out = b"already there".to_vec();
            render_entries(ns, &entries, &mut out);
            let got = String::from_utf8(out).unwrap();
            assert_eq!(got, format!("already there{}", want.join("\r\n")), "{ns}");
        }
    }
}
