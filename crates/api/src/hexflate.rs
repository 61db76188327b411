//! gzip and brotli for range answers at memory speed: one deflate block (one brotli
//! meta-block) whose literal code is made for the text of a range (hex digits, `:`, decimal
//! counts, CRLF) and holds no matches.
//!
//! A range answer is random hex: LZ77 finds almost nothing in it, so what a general deflate
//! encoder saves comes from its Huffman code (about 4.2 bits a character instead of 8), and it
//! spends most of its time searching for matches that are not there. Measured on a 1,900-line
//! answer (74 KB): zlib level 1 took 828 µs for 53.1% of the size, level 9 4,069 µs for
//! 56.5%; this encoder writes 53.5% in about 45 µs (byte pairs looked up in one table, eight
//! bytes a step; four bytes a step with a checked write a code cost 94 µs), and about two
//! thirds of that with SSSE3 (`vector.rs`: sixteen bytes a step in vector registers; in the
//! server's profile under uniform gzip load the encoder went from 1.8× the cost of rendering
//! the text to 1.2×). With AVX2, thirty-two bytes a step: `examples/range_codings.rs` on
//! 1,900-line ranges, the literal codes alone, table 47 µs, SSSE3 30, AVX2 24.
//!
//! The code (RFC 1951 §3.2.7, a dynamic block): `0`–`9`, `A`, `B` get 4 bits; `C`–`F`, `:`,
//! CR, LF and end-of-block 5 bits. That is a complete prefix code (12/16 + 8/32 = 1), so any
//! inflater accepts it. A body holding any other byte is not encoded here (`None`): the
//! caller then uses a general encoder. brotli's format holds the same code (see [`brotli`]),
//! so both codings cost one pass of the same loop.

#[cfg(target_arch = "x86_64")]
mod vector;

/// An entry of [`TABLE`]: the code's bits, already reversed into the order deflate writes
/// them (least significant first), in the low 16 bits; its length above; 0 for a byte the
/// code does not hold.
type Entry = u32;

/// (byte, code length) of every literal the code holds, in symbol order; end-of-block last.
const LENGTHS: [(u16, u8); 20] = [
    (b'\n' as u16, 5),
    (b'\r' as u16, 5),
    (b'0' as u16, 4),
    (b'1' as u16, 4),
    (b'2' as u16, 4),
    (b'3' as u16, 4),
    (b'4' as u16, 4),
    (b'5' as u16, 4),
    (b'6' as u16, 4),
    (b'7' as u16, 4),
    (b'8' as u16, 4),
    (b'9' as u16, 4),
    (b':' as u16, 5),
    (b'A' as u16, 4),
    (b'B' as u16, 4),
    (b'C' as u16, 5),
    (b'D' as u16, 5),
    (b'E' as u16, 5),
    (b'F' as u16, 5),
    (END_OF_BLOCK, 5),
];

const END_OF_BLOCK: u16 = 256;

/// Canonical Huffman codes (RFC 1951 §3.2.2) for `(symbol, length)` pairs in symbol order,
/// each bit-reversed for writing: `(symbol, reversed code, length)`.
const fn canonical<const N: usize>(lengths: [(u16, u8); N]) -> [(u16, u16, u8); N] {
    let mut bl_count = [0u16; 16];
    let mut i = 0;
    while i < N {
        bl_count[lengths[i].1 as usize] += 1;
        i += 1;
    }
    let mut next = [0u16; 16];
    let mut code = 0u16;
    let mut bits = 1;
    while bits < 16 {
        code = (code + bl_count[bits - 1]) << 1;
        next[bits] = code;
        bits += 1;
    }
    // Length 0 never occurs here; the loop above counts it as if it did, which only shifts
    // codes when there are zero-length entries.
    let mut out = [(0u16, 0u16, 0u8); N];
    let mut i = 0;
    while i < N {
        let (sym, len) = lengths[i];
        let c = next[len as usize];
        next[len as usize] += 1;
        out[i] = (sym, reverse(c, len), len);
        i += 1;
    }
    out
}

/// The low `len` bits of `code`, in reverse order.
const fn reverse(code: u16, len: u8) -> u16 {
    let mut r = 0;
    let mut i = 0;
    while i < len {
        r |= ((code >> i) & 1) << (len - 1 - i);
        i += 1;
    }
    r
}

const CODES: [(u16, u16, u8); 20] = canonical(LENGTHS);

/// Byte → code, for the encoding loop.
static TABLE: [Entry; 256] = {
    let mut t = [0; 256];
    let mut i = 0;
    while i < CODES.len() - 1 {
        let (sym, code, len) = CODES[i];
        t[sym as usize] = code as u32 | (len as u32) << 16;
        i += 1;
    }
    t
};

/// Appends bits least significant first.
struct Bits<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits<'_> {
    /// Writes the low `n` (≤ 32) bits of `v`.
    #[inline(always)]
    fn put(&mut self, v: u64, n: u32) {
        self.acc |= v << self.n;
        self.n += n;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    fn finish(self) {
        let bytes = self.n.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_le_bytes()[..bytes]);
    }
}

/// The block header: BFINAL, BTYPE = dynamic, then the literal/length and distance code
/// lengths, themselves run-length coded with the code-length code below.
fn header(bits: &mut Bits<'_>) {
    // Code-length alphabet symbols in use and their lengths (a complete code: 1/4 + 6/8).
    // Symbol order of the HCLEN field: RFC 1951 §3.2.7.
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    const CL: [(u16, u8); 7] = [(0, 3), (1, 3), (4, 3), (5, 2), (16, 3), (17, 3), (18, 3)];
    const CL_CODES: [(u16, u16, u8); 7] = canonical(CL);
    let cl = |sym: u16| {
        let mut i = 0;
        while CL_CODES[i].0 != sym {
            i += 1;
        }
        (CL_CODES[i].1 as u64, CL_CODES[i].2 as u32)
    };
    bits.put(1, 1); // BFINAL
    bits.put(2, 2); // BTYPE = 10: dynamic Huffman codes
    bits.put(0, 5); // HLIT: 257 literal/length codes (up to end-of-block)
    bits.put(0, 5); // HDIST: 1 distance code
    bits.put(14, 4); // HCLEN: 18 code-length code lengths (up to symbol 1 in ORDER)
    for &sym in &ORDER[..18] {
        let len = CL.iter().find(|c| c.0 as usize == sym).map_or(0, |c| c.1);
        bits.put(len as u64, 3);
    }
    // The 257 literal/length lengths, then the one distance length, as code-length symbols.
    let mut lengths = [0u8; 258];
    for &(sym, len) in &LENGTHS {
        lengths[sym as usize] = len;
    }
    lengths[257] = 1; // the distance code no match uses: one code of length 1
    let mut i = 0;
    while i < lengths.len() {
        let len = lengths[i];
        let run = lengths[i..].iter().take_while(|&&l| l == len).count();
        if len == 0 && run >= 11 {
            let take = run.min(138);
            let (c, n) = cl(18);
            bits.put(c, n);
            bits.put(take as u64 - 11, 7);
            i += take;
        } else if len == 0 && run >= 3 {
            let (c, n) = cl(17);
            bits.put(c, n);
            bits.put(run as u64 - 3, 3);
            i += run;
        } else {
            let (c, n) = cl(len as u16);
            bits.put(c, n);
            i += 1;
            // Repeats of a non-zero length: 16 copies the previous one 3–6 times.
            let mut rest = run - 1;
            while len != 0 && rest >= 3 {
                let take = rest.min(6);
                let (c, n) = cl(16);
                bits.put(c, n);
                bits.put(take as u64 - 3, 2);
                i += take;
                rest -= take;
            }
        }
    }
}

/// Byte pair (first byte in the low 8 bits of the index) → both codes, the first in the low
/// bits, with their summed length above; 0 if either byte is not in the code. 256 KiB, of
/// which range text touches the 23 × 23 pairs of its alphabet.
static PAIRS: [Entry; 65536] = {
    let mut t = [0; 65536];
    let mut i = 0;
    while i < 65536 {
        let (a, b) = (TABLE[i & 0xFF], TABLE[i >> 8]);
        let (la, lb) = (a >> 16, b >> 16);
        if la != 0 && lb != 0 {
            t[i] = (a & 0xFFFF) | (b & 0xFFFF) << la | (la + lb) << 16;
        }
        i += 1;
    }
    t
};

/// `body` as one raw deflate block in the range code, appended to `out`, or `None` if it
/// holds a byte the code does not (then `out` is as it was).
fn deflate(body: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let start = out.len();
    let mut bits = Bits { out, acc: 0, n: 0 };
    header(&mut bits);
    if literals(body, &mut bits).is_none() {
        bits.out.truncate(start);
        return None;
    }
    let (_, eob, len) = CODES[CODES.len() - 1];
    bits.put(eob as u64, len as u32);
    bits.finish();
    Some(())
}

/// Writes the code of every byte of `body` after the bits already in `bits`: the part of
/// gzip and brotli answers that costs. `None` if `body` holds a byte the code does not
/// (then what was written is the caller's to drop).
fn literals(body: &[u8], bits: &mut Bits<'_>) -> Option<()> {
    literals_with(body, bits, Loop::best())
}

/// Which literal loop encodes a body's leading bytes: the widest this processor runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loop {
    /// Eight bytes a step from the pair table (every processor).
    Table,
    /// Sixteen bytes a step in SSSE3 registers.
    #[cfg(target_arch = "x86_64")]
    Ssse3,
    /// Thirty-two bytes a step in AVX2 registers.
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Loop {
    /// Every loop there is, the table's first.
    pub(crate) const ALL: &[Loop] = &[
        Loop::Table,
        #[cfg(target_arch = "x86_64")]
        Loop::Ssse3,
        #[cfg(target_arch = "x86_64")]
        Loop::Avx2,
    ];

    /// Whether this processor runs the loop (std caches what it detects).
    pub(crate) fn available(self) -> bool {
        match self {
            Loop::Table => true,
            #[cfg(target_arch = "x86_64")]
            Loop::Ssse3 => vector::ssse3::available(),
            #[cfg(target_arch = "x86_64")]
            Loop::Avx2 => vector::avx2::available(),
        }
    }

    /// The widest loop this processor runs.
    fn best() -> Loop {
        #[cfg(target_arch = "x86_64")]
        for wide in [Loop::Avx2, Loop::Ssse3] {
            if wide.available() {
                return wide;
            }
        }
        Loop::Table
    }
}

/// [`literals`] with the leading bytes through `lp`, which must be [`Loop::available`]; the
/// rest eight a step from the pair table, then a byte at a time.
fn literals_with(body: &[u8], bits: &mut Bits<'_>, lp: Loop) -> Option<()> {
    assert!(lp.available(), "{lp:?} on a processor without it");
    let (mut acc, mut n) = (bits.acc, bits.n);
    let out = &mut *bits.out;
    while n >= 8 {
        // Whole bytes out first: the loops below add 40 bits to at most 7.
        out.push(acc as u8);
        acc >>= 8;
        n -= 8;
    }
    // Eight bytes in, at most 40 bits out a step, stored as one unaligned 8-byte write into
    // room made beforehand; the bytes past the written ones are overwritten or cut off.
    let mut pos = out.len();
    out.resize(pos + body.len() * 5 / 8 + 64, 0);
    let mut valid = true;
    let mut body = body;
    #[cfg(target_arch = "x86_64")]
    {
        // `n` is below 8 after the flush above, as the vector loops need.
        let (taken, held) = match lp {
            Loop::Table => (0, true),
            // SAFETY: `lp` is available (asserted above): the processor has SSSE3.
            Loop::Ssse3 => unsafe { vector::ssse3::encode(body, out, &mut pos, &mut acc, &mut n) },
            // SAFETY: `lp` is available (asserted above): the processor has AVX2.
            Loop::Avx2 => unsafe { vector::avx2::encode(body, out, &mut pos, &mut acc, &mut n) },
        };
        valid &= held;
        body = &body[taken..];
    }
    let mut chunks = body.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        let e = [
            PAIRS[(w & 0xFFFF) as usize],
            PAIRS[(w >> 16 & 0xFFFF) as usize],
            PAIRS[(w >> 32 & 0xFFFF) as usize],
            PAIRS[(w >> 48) as usize],
        ];
        let (l0, l1, l2, l3) = (e[0] >> 16, e[1] >> 16, e[2] >> 16, e[3] >> 16);
        valid &= l0 != 0 && l1 != 0 && l2 != 0 && l3 != 0;
        let v = (e[0] & 0xFFFF) as u64
            | ((e[1] & 0xFFFF) as u64) << l0
            | ((e[2] & 0xFFFF) as u64) << (l0 + l1)
            | ((e[3] & 0xFFFF) as u64) << (l0 + l1 + l2);
        acc |= v << n;
        n += l0 + l1 + l2 + l3;
        out[pos..pos + 8].copy_from_slice(&acc.to_le_bytes());
        let whole = n & !7;
        pos += (whole / 8) as usize;
        acc >>= whole; // `n` ≤ 7 + 40, so `whole` < 64
        n -= whole;
    }
    out.truncate(pos);
    (bits.acc, bits.n) = (acc, n);
    if !valid {
        return None;
    }
    for &b in chunks.remainder() {
        let e = TABLE[b as usize];
        if e >> 16 == 0 {
            return None;
        }
        bits.put((e & 0xFFFF) as u64, e >> 16);
    }
    Some(())
}

/// `body`'s literal codes alone through `lp` (no block header, no end): for the example
/// that times the loops (`crate::bench_support`).
pub(crate) fn literal_codes(body: &[u8], lp: Loop) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut bits = Bits {
        out: &mut out,
        acc: 0,
        n: 0,
    };
    literals_with(body, &mut bits, lp)?;
    bits.finish();
    Some(out)
}

/// `body` as a gzip member (RFC 1952) in the range code, or `None` if it is not range text.
pub(crate) fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    gzip_into(body, &mut out).map(|()| out)
}

/// [`gzip`] appended to `out` (a reused room); on `None` `out` holds a partial member.
pub(crate) fn gzip_into(body: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    deflate(body, out)?;
    let mut crc = flate2::Crc::new();
    crc.update(body);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    Some(())
}

/// `body` as a brotli stream (RFC 7932) in the range code, or `None` if it is not range text
/// or longer than one meta-block holds (16 MiB).
///
/// One meta-block of one command whose insert length is the whole body, so the copy that
/// would follow never happens (the meta-block ends first, §9.3): literals only, like the
/// gzip member, through the same loop. Its literal code is the gzip one's, with `G` (never
/// in range text) standing for deflate's end-of-block so that the code is complete (§3.5)
/// and every byte's code the same; the insert-and-copy and distance codes have one symbol
/// each, of zero bits. brotli's own fastest level packs range text to about the same size
/// in ~670 µs a 1,900-line range, some twenty times this encoder (BENCHMARKS.md, #20).
pub(crate) fn brotli(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() * 5 / 8 + 128);
    brotli_into(body, &mut out).map(|()| out)
}

/// [`brotli`] appended to `out` (a reused room); on `None` `out` holds a partial stream.
pub(crate) fn brotli_into(body: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let mut bits = Bits { out, acc: 0, n: 0 };
    bits.put(0, 1); // WBITS = 16: no distance ever reaches back
    bits.put(1, 1); // ISLAST
    if body.is_empty() {
        bits.put(1, 1); // ISLASTEMPTY
        bits.finish();
        return Some(());
    }
    bits.put(0, 1); // ISLASTEMPTY
    let mlen = body.len() as u64;
    let nibbles = match mlen - 1 {
        x if x < 1 << 16 => 4,
        x if x < 1 << 20 => 5,
        x if x < 1 << 24 => 6,
        _ => return None,
    };
    bits.put(nibbles - 4, 2); // MNIBBLES
    bits.put(mlen - 1, 4 * nibbles as u32); // MLEN - 1
    bits.put(0, 1); // NBLTYPESL = 1
    bits.put(0, 1); // NBLTYPESI = 1
    bits.put(0, 1); // NBLTYPESD = 1
    bits.put(0, 2); // NPOSTFIX = 0
    bits.put(0, 4); // NDIRECT = 0
    bits.put(0, 2); // the literal block type's context mode (LSB6: one tree, unused)
    bits.put(0, 1); // NTREESL = 1
    bits.put(0, 1); // NTREESD = 1
    brotli_literal_code(&mut bits);
    // The insert-and-copy code (704 symbols, 10 bits a symbol) and the distance code (64,
    // 6 bits): simple prefix codes (HSKIP = 1) of one symbol (NSYM - 1 = 0).
    let (symbol, base, extra) = brotli_insert(mlen);
    bits.put(1, 2);
    bits.put(0, 2);
    bits.put(symbol, 10);
    bits.put(1, 2);
    bits.put(0, 2);
    bits.put(0, 6);
    // The command: its symbol takes no bits; the insert length's extra bits; copy code 0
    // has none.
    bits.put(mlen - base, extra);
    literals(body, &mut bits)?;
    bits.finish();
    Some(())
}

/// The literal code as a complex prefix code (RFC 7932 §3.5): the lengths of symbols 0–71
/// (`G` is the last used), run through a code-length code of three symbols.
fn brotli_literal_code(bits: &mut Bits<'_>) {
    // The code-length code: length 1 for "unused" (0), 2 for lengths 4 and 5; its own
    // lengths are sent in the order 1, 2, 3, 4, 0, 5, … of which HSKIP = 3 skips the first
    // three, each in the fixed code of §3.5, whose bit strings are read right to left:
    // length 2 is "011", written as the value 3 in 3 bits; length 1 is "0111", 7 in 4.
    const CL: [(u16, u8); 3] = [(0, 1), (4, 2), (5, 2)];
    const CL_CODES: [(u16, u16, u8); 3] = canonical(CL);
    bits.put(3, 2); // HSKIP
    for (value, len) in [(3, 3), (7, 4), (3, 3)] {
        bits.put(value, len); // lengths 2 (symbol 4), 1 (symbol 0), 2 (symbol 5): complete
    }
    let mut lengths = [0u8; b'G' as usize + 1];
    for &(sym, len) in &LENGTHS[..LENGTHS.len() - 1] {
        lengths[sym as usize] = len;
    }
    lengths[b'G' as usize] = LENGTHS[LENGTHS.len() - 1].1;
    for len in lengths {
        let (_, code, n) = CL_CODES
            .into_iter()
            .find(|c| c.0 == len as u16)
            .unwrap_or(CL_CODES[0]);
        bits.put(code as u64, n as u32);
    }
}

/// The insert-and-copy symbol for an insert of `len` bytes with copy code 0 (RFC 7932 §5),
/// the insert code's base and its extra bits.
fn brotli_insert(len: u64) -> (u64, u64, u32) {
    const INSERT: [(u64, u32); 24] = [
        (0, 0),
        (1, 0),
        (2, 0),
        (3, 0),
        (4, 0),
        (5, 0),
        (6, 1),
        (8, 1),
        (10, 2),
        (14, 2),
        (18, 3),
        (26, 3),
        (34, 4),
        (50, 4),
        (66, 5),
        (98, 5),
        (130, 6),
        (194, 7),
        (322, 8),
        (578, 9),
        (1090, 10),
        (2114, 12),
        (6210, 14),
        (22594, 24),
    ];
    let code = INSERT
        .iter()
        .rposition(|&(base, _)| base <= len)
        .unwrap_or(0);
    // Insert codes 0–7 with copy codes 0–7 are symbols 0–63, 8–15 are 256–319, 16–23
    // are 448–511; within a block, insert code × 8 + copy code.
    let block = [0, 256, 448][code / 8];
    (
        block + (code as u64 % 8) * 8,
        INSERT[code].0,
        INSERT[code].1,
    )
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("a valid gzip member");
        out
    }

    /// Pseudo-random range text: `lines` lines of `digits` hex digits and a count.
    fn range_text(lines: usize, digits: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut out = Vec::new();
        for i in 0..lines {
            if i > 0 {
                out.extend_from_slice(b"\r\n");
            }
            for _ in 0..digits {
                out.push(b"0123456789ABCDEF"[(next() % 16) as usize]);
            }
            out.extend_from_slice(format!(":{}", next() % 100_000).as_bytes());
        }
        out
    }

    /// Each vector loop writes what the pair table does, bit for bit, after any number of
    /// pending bits, in every length and alignment, and refuses the same bodies.
    #[test]
    fn the_vector_loops_write_what_the_table_loop_writes() {
        let text = range_text(300, 35, 17);
        let run = |body: &[u8], pending: u32, lp: Loop| {
            let mut out = Vec::new();
            let mut bits = Bits {
                out: &mut out,
                acc: 0,
                n: 0,
            };
            bits.put(0x5A5A_5A5A & ((1 << pending) - 1), pending);
            let held = literals_with(body, &mut bits, lp).is_some();
            let (acc, n) = (bits.acc, bits.n);
            (held, out, acc, n)
        };
        // x86-64 machines check each width they run; elsewhere the table loop is the one in
        // use.
        let vectors: Vec<Loop> = Loop::ALL[1..]
            .iter()
            .copied()
            .filter(|l| l.available())
            .collect();
        for &lp in &vectors {
            for len in (0..100).chain([255, 256, 257, 1000, text.len()]) {
                for start in [0, 1, 7, 13] {
                    let body = &text[start..start + len.min(text.len() - start)];
                    for pending in [0, 3, 7, 12, 31] {
                        let want = run(body, pending, Loop::Table);
                        assert!(want.0, "range text is in the code");
                        assert_eq!(run(body, pending, lp), want, "{lp:?}: {len} from {start}");
                    }
                }
            }
            // Every byte value in every place of two vector steps and of the remainder: held
            // exactly when it is range text's (the alphabet written out here, not taken from
            // the code), and then written alike.
            let alphabet = b"0123456789ABCDEF:\r\n";
            for at in 0..72 {
                for byte in 0..=255u8 {
                    let mut body = text[..72].to_vec();
                    body[at] = byte;
                    let (vector, table) = (run(&body, 0, lp), run(&body, 0, Loop::Table));
                    assert_eq!(vector.0, alphabet.contains(&byte), "{lp:?}: {byte} at {at}");
                    assert_eq!(table.0, alphabet.contains(&byte), "byte {byte} at {at}");
                    if table.0 {
                        assert_eq!(vector, table, "{lp:?}: byte {byte} at {at}");
                    }
                }
            }
        }
    }

    /// The widest loop the processor runs is the one answers go through (all write the same
    /// bits, so only this says the fast one is in use): asked of the processor here, not of
    /// `Loop::available`.
    #[test]
    fn answers_take_the_widest_loop_the_processor_runs() {
        #[cfg(target_arch = "x86_64")]
        let want = if is_x86_feature_detected!("avx2") {
            Loop::Avx2
        } else if is_x86_feature_detected!("ssse3") {
            Loop::Ssse3
        } else {
            Loop::Table
        };
        #[cfg(not(target_arch = "x86_64"))]
        let want = Loop::Table;
        assert_eq!(Loop::best(), want);
    }

    #[test]
    fn the_code_is_complete_and_prefix_free() {
        let kraft: f64 = LENGTHS.iter().map(|&(_, l)| 0.5f64.powi(l as i32)).sum();
        assert_eq!(kraft, 1.0);
        for (i, a) in CODES.iter().enumerate() {
            for b in &CODES[i + 1..] {
                let n = a.2.min(b.2);
                let mask = (1u16 << n) - 1;
                assert_ne!(a.1 & mask, b.1 & mask, "{:?} is a prefix of {:?}", a, b);
            }
        }
    }

    #[test]
    fn range_text_inflates_back_to_itself_in_every_length() {
        for (lines, digits) in [(0, 35), (1, 35), (2, 27), (7, 35), (1900, 35), (950, 27)] {
            let body = range_text(lines, digits, lines as u64 + 1);
            let gz = gzip(&body).expect("range text is in the code");
            assert_eq!(gunzip(&gz), body, "{lines} lines of {digits} digits");
        }
        // Every remainder of the four-byte loop, one byte at a time.
        let body = range_text(3, 35, 9);
        for end in 0..body.len() {
            assert_eq!(gunzip(&gzip(&body[..end]).unwrap()), &body[..end]);
        }
    }

    #[test]
    fn a_large_range_is_about_as_small_as_zlibs_fastest_level() {
        let body = range_text(1900, 35, 42);
        let ours = gzip(&body).unwrap().len();
        let mut zlib = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut zlib, &body).unwrap();
        let theirs = zlib.finish().unwrap().len();
        assert!(
            ours * 100 <= theirs * 103,
            "{ours} B vs zlib level 1 {theirs} B"
        );
        assert!(ours * 100 <= body.len() * 56, "{ours} B of {}", body.len());
    }

    fn unbrotli(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::Decompressor::new(bytes, 4096)
            .read_to_end(&mut out)
            .expect("a valid brotli stream");
        out
    }

    #[test]
    fn range_text_unbrotlis_back_to_itself_in_every_length() {
        // Every insert-length code (each side of each base), each MLEN nibble count, empty.
        let text = range_text(32_000, 35, 3);
        let mut lengths: Vec<usize> = (0..=140).collect();
        for base in [194, 322, 578, 1090, 2114, 6210, 22594, 1 << 16, 1 << 20] {
            lengths.extend([base - 1, base, base + 1]);
        }
        for len in lengths {
            let body: Vec<u8> = text.iter().copied().cycle().take(len).collect();
            let br = brotli(&body).expect("range text is in the code");
            assert_eq!(unbrotli(&br), body, "{len} bytes");
        }
        let whole = range_text(1900, 35, 11);
        assert_eq!(unbrotli(&brotli(&whole).unwrap()), whole);
    }

    #[test]
    fn a_large_range_in_brotli_is_about_as_small_as_brotlis_fastest_level() {
        let body = range_text(1900, 35, 42);
        let ours = brotli(&body).unwrap().len();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 0,
            ..Default::default()
        };
        let mut theirs = Vec::new();
        brotli::BrotliCompress(&mut &body[..], &mut theirs, &params).unwrap();
        assert!(
            ours * 100 <= theirs.len() * 103,
            "{ours} B vs brotli quality 0 {} B",
            theirs.len()
        );
        assert!(ours <= gzip(&body).unwrap().len() + 16);
    }

    #[test]
    fn a_body_longer_than_a_meta_block_is_left_to_the_general_encoder() {
        let body = vec![b'A'; (1 << 24) + 1];
        assert_eq!(brotli(&body), None);
        let body = vec![b'A'; 1 << 24];
        assert_eq!(unbrotli(&brotli(&body).unwrap()), body);
    }

    #[test]
    fn other_bytes_are_refused_not_mangled() {
        for body in [&b"{\"a\":1}"[..], b"00000:1\r\nzz", b"abc", b"0000 1", b"G"] {
            let shown = String::from_utf8_lossy(body);
            assert_eq!(gzip(body), None, "{shown:?}");
            assert_eq!(brotli(body), None, "{shown:?}");
        }
        // One foreign byte anywhere in a long body, in each of the eight places of a step
        // (lower-case hex too: a code for upper case only must not take it).
        let good = range_text(40, 35, 5);
        for at in (0..good.len()).step_by(37) {
            for byte in [b'a', 0, 0xFF, b' ', b'G'] {
                let mut body = good.clone();
                body[at] = byte;
                assert_eq!(gzip(&body), None, "byte {byte} at {at}");
                assert_eq!(brotli(&body), None, "byte {byte} at {at}");
            }
        }
    }
}
