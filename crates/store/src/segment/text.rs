//! Range text straight from a version-3 SHA-1 group: the server's work on a cache miss.
//!
//! One loop a group owns the whole line: it finds key `i`'s high part in Elias–Fano's
//! unary words and its count in the Exp-Golomb chain, then writes the line in four stores of
//! values computed in registers: three hex digits of the bits above the verbatim bytes (a
//! load from [`HEX3`]), the 32 hex digits of the 16 verbatim bytes (one vector register,
//! [`hex32_into`]), and `:COUNT\r\n` from a table of counts below 256. This replaced a
//! decoder calling a closure a key that called a general line writer: the same decoding,
//! but that machinery (a call a key, its arguments spilled to the stack) was a third of a
//! range's cost (`range_render`: 35.6 → 26 µs a range). Checks that cost a branch a key
//! (keys ascend, high parts fit their width) are folded into flags tested once a group.
//! The group's parts ([`LowBytesGroup`], its high parts by [`HighParts`]) are the ones the
//! reader's key-by-key decoder walks too.

use std::mem::MaybeUninit;

use crate::{bits::WindowReader, key::hex32_into, render::hex3};

/// Where a group's keys of the wanted range are, when the group spans several ranges: the
/// range of a key is `((base_above | high) >> above) mod 2^shift`.
#[derive(Clone, Copy)]
pub(super) struct Spanning {
    pub shift: u32,
    pub wanted: u64,
}

/// Room a line's stores may touch past its start: a line with the widest count (35 + 1 + 20
/// + 2 = 58 bytes), rounded up; a short line's 8-byte count store ends at 43.
const SLOT: usize = 64;

/// Room for `n` lines of any counts and the stores of the last: reserved once for a whole
/// range, so that a range of many groups (32 at the real corpus's layout) grows its answer in
/// one allocation rather than by doubling copies, and no line checks for room. Most lines
/// take 41 bytes (35 digits, ':', up to 3 digits, CRLF): the answer's unused capacity is
/// given back by the cache's `shrink_to_fit`, in place.
pub(super) fn room_for(n: usize) -> usize {
    n * SLOT + SLOT
}

/// `:COUNT\r\n` for each count 1..=255 (0 is no count) in a word's low bytes, its length in the
/// top byte (never part of a line: at most 6 bytes are kept).
static COUNT_TAILS: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut c = 1;
    while c < 256 {
        let mut text = [0u8; 8];
        text[0] = b':';
        let mut len = 1;
        if c >= 100 {
            text[len] = b'0' + (c / 100) as u8;
            len += 1;
        }
        if c >= 10 {
            text[len] = b'0' + (c / 10 % 10) as u8;
            len += 1;
        }
        text[len] = b'0' + (c % 10) as u8;
        text[len + 1] = b'\r';
        text[len + 2] = b'\n';
        len += 3;
        text[7] = len as u8;
        t[c] = u64::from_le_bytes(text);
        c += 1;
    }
    t
};

/// The three upper-case hex digits of each 12-bit value in a word's low bytes: one load
/// where [`hex3`]'s arithmetic was a dozen dependent operations a line (16 KB, which the
/// lines of a range keep in the first-level cache).
static HEX3: [u32; 4096] = {
    let mut t = [0u32; 4096];
    let mut v = 0;
    while v < 4096 {
        t[v] = hex3(v as u64);
        v += 1;
    }
    t
};

/// A version-3 group as the reader found it (checksum verified): its parts' offsets from the
/// group's start (`docs/FORMAT.md`, "Group data, version 3").
pub(super) struct LowBytesGroup<'a> {
    /// The file from the group's first byte to its end: loads of eight bytes near the
    /// group's end stay inside it (the group table and footer follow every group).
    pub file: &'a [u8],
    /// The group's own length in bytes.
    pub len: usize,
    /// Keys in the group.
    pub n: usize,
    /// Verbatim bytes a key (16 or 17 for this renderer).
    pub l8: usize,
    /// Where the verbatim bytes, the packed low bits of the high parts, the unary words and
    /// the counts begin, from the group's start; the unary part's length.
    pub lows_at: usize,
    pub low_k_at: usize,
    pub unary_at: usize,
    pub unary_len: usize,
    pub counts_at: usize,
    /// Low bits of each high part packed (`k`), and the counts' Exp-Golomb order.
    pub k: u32,
    pub c: u32,
    /// Bits of a high part (a wider one is a damaged group).
    pub high_bits: u32,
    /// The group's base above the verbatim bytes, to OR with each high part.
    pub base_above: u64,
}

impl<'a> LowBytesGroup<'a> {
    /// Eight bytes of the group's file at `from`, little-endian (`from` is inside the group,
    /// so the table and footer after it keep the load inside the file).
    #[inline(always)]
    fn load(&self, from: usize) -> u64 {
        let b: [u8; 8] = self.file[from..from + 8].try_into().unwrap_or([0; 8]);
        u64::from_le_bytes(b)
    }

    /// The verbatim bytes of every key, `l8` a key.
    pub(super) fn lows(&self) -> &'a [u8] {
        &self.file[self.lows_at..self.low_k_at]
    }

    /// The reader of the counts' Exp-Golomb codes.
    pub(super) fn counts(&self) -> Result<WindowReader<'a>, &'static str> {
        WindowReader::new(&self.file[self.counts_at..], self.len - self.counts_at)
            .ok_or("group shorter than a read")
    }

    /// The keys' high parts, in order.
    pub(super) fn high_parts(&self) -> HighParts<'_, 'a> {
        let mut parts = HighParts {
            group: self,
            words: self.unary_len.div_ceil(8),
            word: 0,
            ones: 0,
            k_mask: super::mask(self.k),
        };
        if parts.words > 0 {
            parts.ones = parts.unary_word(0);
        }
        parts
    }
}

/// A version-3 group's high parts key by key: Elias–Fano's unary words (a key's upper bits
/// are where its 1 bit is, less its index) above its `k` packed low bits.
pub(super) struct HighParts<'g, 'a> {
    group: &'g LowBytesGroup<'a>,
    words: usize,
    word: usize,
    /// The 1 bits of the current word not yet taken.
    ones: u64,
    k_mask: u64,
}

impl HighParts<'_, '_> {
    /// Word `w` of the unary part, its bytes past the part's end cleared.
    #[inline(always)]
    fn unary_word(&self, w: usize) -> u64 {
        let g = self.group;
        let v = g.load(g.unary_at + 8 * w);
        let left = g.unary_len - 8 * w;
        if left >= 8 {
            v
        } else {
            v & super::mask(8 * left as u32)
        }
    }

    /// The high part of key `i`, the keys being taken in order from 0; an error when the
    /// unary words run out first. Its width is the caller's to check (`high_bits`).
    #[inline(always)]
    pub(super) fn next(&mut self, i: usize) -> Result<u64, &'static str> {
        while self.ones == 0 {
            self.word += 1;
            if self.word >= self.words {
                return Err("truncated key");
            }
            self.ones = self.unary_word(self.word);
        }
        let upper = (64 * self.word + self.ones.trailing_zeros() as usize - i) as u64;
        self.ones &= self.ones - 1;
        let g = self.group;
        let bit = i * g.k as usize;
        Ok(upper << g.k | (g.load(g.low_k_at + bit / 8) >> (bit % 8)) & self.k_mask)
    }
}

/// Appends the lines of `group`'s keys in the wanted range (all of them when it spans no
/// other range), each followed by CRLF, to `out`, and returns how many. `above` is the
/// number of suffix bits above the verbatim bytes (12 for 16 of them, 4 for 17). A damaged
/// group (keys out of order, a high part too wide, a truncated part) is an error; what was
/// written past `out`'s previous length is then the caller's to drop.
pub(super) fn render_low_bytes_sha1(
    group: &LowBytesGroup<'_>,
    above: u32,
    spanning: Option<Spanning>,
    out: &mut Vec<u8>,
) -> Result<usize, &'static str> {
    match group.l8 {
        16 => render_low_bytes::<0>(group, above, spanning, out),
        17 => render_low_bytes::<1>(group, above, spanning, out),
        _ => Err("codec parameters out of range"),
    }
}

/// [`render_low_bytes_sha1`] for `16 + EXTRA` verbatim bytes a key, a constant in the loop.
fn render_low_bytes<const EXTRA: usize>(
    group: &LowBytesGroup<'_>,
    above: u32,
    spanning: Option<Spanning>,
    out: &mut Vec<u8>,
) -> Result<usize, &'static str> {
    let g = group;
    let l8 = 16 + EXTRA;
    let mut highs = g.high_parts();
    let mut counts = g.counts()?;
    let lows = g.lows();
    let above_mask = (1u64 << above) - 1;
    out.reserve(room_for(g.n));
    // Taken once: every line fits the room made (see `room_for`), so no line checks it.
    let spare = out.spare_capacity_mut();
    let mut at = 0usize;
    let mut lines = 0usize;
    let mut too_high = 0u64;
    let mut ascending = true;
    let mut prev = (0u64, 0u128);
    let mut itoa = itoa::Buffer::new();
    for i in 0..g.n {
        let h = highs.next(i)?;
        too_high |= h >> g.high_bits;
        let count = super::codec::read_count(&mut counts, g.c)?;
        let low = &lows[i * l8..(i + 1) * l8];
        let last: &[u8; 16] = low[EXTRA..].try_into().map_err(|_| "bad low bytes")?;
        let first = if EXTRA == 1 { low[0] as u64 } else { 0 };
        // Every key read is checked, as the decoder checks it, rendered or not.
        let key = (h << (8 * EXTRA) | first, u128::from_be_bytes(*last));
        ascending &= i == 0 || key > prev;
        prev = key;
        if let Some(Spanning { shift, wanted }) = spanning {
            let range = ((g.base_above | h) >> above) & ((1 << shift) - 1);
            if range != wanted {
                if range > wanted {
                    break;
                }
                continue;
            }
        }
        let top = (((g.base_above | h) & above_mask) << (8 * EXTRA) | first) & 0xFFF;
        let slot: &mut [MaybeUninit<u8>; SLOT] = (&mut spare[at..at + SLOT])
            .try_into()
            .map_err(|_| "line slot")?;
        put(&mut slot[..4], &HEX3[top as usize].to_le_bytes());
        hex32_into(
            last,
            (&mut slot[3..35]).try_into().map_err(|_| "line slot")?,
        );
        if count < 256 {
            let tail_word = COUNT_TAILS[count as usize];
            put(&mut slot[35..43], &tail_word.to_le_bytes());
            at += 35 + (tail_word >> 56) as usize;
        } else {
            let digits = itoa.format(count).as_bytes();
            slot[35].write(b':');
            put(&mut slot[36..36 + digits.len()], digits);
            put(&mut slot[36 + digits.len()..38 + digits.len()], b"\r\n");
            at += 38 + digits.len();
        }
        lines += 1;
    }
    if counts.overrun() {
        return Err("truncated count");
    }
    if too_high != 0 {
        return Err("key outside its group");
    }
    if !ascending {
        return Err("keys out of order");
    }
    // SAFETY: every byte of the spare capacity up to `at` was written above, each line's from
    // its start to its end by the stores into its slot.
    unsafe { out.set_len(out.len() + at) };
    Ok(lines)
}

/// Writes `src` at the start of `dst` (a fixed-length loop compiles to moves).
#[inline(always)]
fn put(dst: &mut [MaybeUninit<u8>], src: &[u8]) {
    for (d, &s) in dst[..src.len()].iter_mut().zip(src) {
        d.write(s);
    }
}
