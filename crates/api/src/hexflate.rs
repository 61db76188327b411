//! gzip for range answers at memory speed: one deflate block whose literal code is made for
//! the text of a range (hex digits, `:`, decimal counts, CRLF) and holds no matches.
//!
//! A range answer is random hex: LZ77 finds almost nothing in it, so what a general deflate
//! encoder saves comes from its Huffman code (about 4.2 bits a character instead of 8), and it
//! spends most of its time searching for matches that are not there. Measured on a 1,900-line
//! answer (74 KB): zlib level 1 took 828 µs for 53.1% of the size, level 9 4,069 µs for
//! 56.5%; this encoder writes 53.5% in about 45 µs (byte pairs looked up in one table, eight
//! bytes a step; four bytes a step with a checked write a code cost 94 µs).
//!
//! The code (RFC 1951 §3.2.7, a dynamic block): `0`–`9`, `A`, `B` get 4 bits; `C`–`F`, `:`,
//! CR, LF and end-of-block 5 bits. That is a complete prefix code (12/16 + 8/32 = 1), so any
//! inflater accepts it. A body holding any other byte is not encoded here (`None`): the
//! caller then uses a general encoder.

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
    let mut head = Bits { out, acc: 0, n: 0 };
    header(&mut head);
    let (mut acc, mut n) = (head.acc, head.n);
    while n >= 8 {
        // Whole bytes out first: the loop below adds 40 bits to at most 7.
        out.push(acc as u8);
        acc >>= 8;
        n -= 8;
    }
    // Eight bytes in, at most 40 bits out a step, stored as one unaligned 8-byte write into
    // room made beforehand; the bytes past the written ones are overwritten or cut off.
    let mut pos = out.len();
    out.resize(pos + body.len() * 5 / 8 + 64, 0);
    let mut valid = true;
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
    if !valid {
        out.truncate(start);
        return None;
    }
    out.truncate(pos);
    let mut bits = Bits { out, acc, n };
    for &b in chunks.remainder() {
        let e = TABLE[b as usize];
        if e >> 16 == 0 {
            bits.out.truncate(start);
            return None;
        }
        bits.put((e & 0xFFFF) as u64, e >> 16);
    }
    let (_, eob, len) = CODES[CODES.len() - 1];
    bits.put(eob as u64, len as u32);
    bits.finish();
    Some(())
}

/// `body` as a gzip member (RFC 1952) in the range code, or `None` if it is not range text.
pub(crate) fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    deflate(body, &mut out)?;
    let mut crc = flate2::Crc::new();
    crc.update(body);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    Some(out)
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

    #[test]
    fn other_bytes_are_refused_not_mangled() {
        for body in [&b"{\"a\":1}"[..], b"00000:1\r\nzz", b"abc", b"0000 1"] {
            assert_eq!(gzip(body), None, "{:?}", String::from_utf8_lossy(body));
        }
        // One foreign byte anywhere in a long body, in each of the eight places of a step
        // (lower-case hex too: a code for upper case only must not take it).
        let good = range_text(40, 35, 5);
        for at in (0..good.len()).step_by(37) {
            for byte in [b'a', 0, 0xFF, b' '] {
                let mut body = good.clone();
                body[at] = byte;
                assert_eq!(gzip(&body), None, "byte {byte} at {at}");
            }
        }
    }
}
