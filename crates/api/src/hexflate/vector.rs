//! The literal loop of [`super::literals`] in vector registers on x86-64: [`ssse3`] takes
//! sixteen bytes a step, [`avx2`] thirty-two; the scalar part only appends 40-bit pieces.
//!
//! The scalar loop looks each byte pair up in a 256 KB table and joins four of them with
//! shifts by their lengths, about fifty instructions for eight bytes. Here every step is
//! a handful of vector instructions: each byte's code, its length (4 or 5) and whether the
//! code holds it come from `pshufb` lookups by its low nibble, chosen by its high nibble;
//! then codes are joined pairwise by multiplying the upper one by 2 to the lower one's
//! length, which `pmaddubsw` (bytes into 16-bit lanes), `pmaddwd` (into 32-bit lanes) and
//! `pmuludq` (into 64-bit lanes) each do with an add in one instruction; `psadbw` sums the
//! eight lengths of a 64-bit lane. Deflate and brotli both write a code's bits least
//! significant first, so "upper code × 2^lower length + lower code" is the two codes in
//! stream order.
//!
//! Both widths are one text, [`vector_loop!`], expanded in a module that names the
//! intrinsics of its width: every instruction used works within 128-bit lanes (AVX2's
//! `vpshufb` looks up in each lane's own copy of a table), so the 256-bit loop is the
//! 128-bit one on two lanes at once, with its tables stored twice.

use super::CODES;

/// A byte's entry in the lookup tables: its code (reversed, ≤ 5 bits) in bits 0–4, bit 5
/// set when its length is 5 rather than 4, bit 6 set when the code holds it at all.
const fn entry(byte: u8) -> u8 {
    let mut i = 0;
    while i < CODES.len() - 1 {
        let (sym, code, len) = CODES[i];
        if sym == byte as u16 {
            return code as u8 | if len == 5 { 0x20 } else { 0 } | 0x40;
        }
        i += 1;
    }
    0
}

/// A 16-byte lookup table stored twice, for a 256-bit register's two lanes (the 128-bit
/// loop reads the first copy).
type Table = [u8; 32];

/// `t` in both lanes.
const fn twice(t: [u8; 16]) -> Table {
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 16 {
        out[i] = t[i];
        out[i + 16] = t[i];
        i += 1;
    }
    out
}

/// The entries of bytes `high << 4 | 0..16`.
const fn row(high: u8) -> Table {
    let mut t = [0u8; 16];
    let mut lo = 0;
    while lo < 16 {
        t[lo] = entry(high << 4 | lo as u8);
        lo += 1;
    }
    twice(t)
}

/// Every byte the code holds has high nibble 0 (CR, LF), 3 (digits, ':') or 4 (A–F).
const ROW0: Table = row(0);
const ROW3: Table = row(3);
const ROW4: Table = row(4);

const _: () = {
    // The rows hold every code but end-of-block, so no byte outside them can be in the code.
    let mut held = 0;
    let mut i = 0;
    while i < 16 {
        held += (ROW0[i] != 0) as usize + (ROW3[i] != 0) as usize + (ROW4[i] != 0) as usize;
        i += 1;
    }
    assert!(held == CODES.len() - 1);
};

/// 2^(length − 8) for the lengths 8..=10 of two joined codes, looked up by the length.
const POW_8_10: Table = twice([0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 0, 0, 0, 0, 0]);
/// 2^(length − 16) for the lengths 16..=20 of four joined codes, looked up by the length's
/// low nibble (16..=20 being 0..=4 there).
const POW_16_20: Table = twice([1, 2, 4, 8, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/// The vector loop for registers of `$width` bytes, written with the names the enclosing
/// module gives its width's intrinsics (`V`, `loadu`, `shuffle_epi8`, ...).
macro_rules! vector_loop {
    ($feature:tt, $width:literal) => {
        use super::{POW_8_10, POW_16_20, ROW0, ROW3, ROW4, Table};

        /// Bytes a step.
        pub(in crate::hexflate) const WIDTH: usize = $width;

        /// Whether this processor runs this loop (checked once; std caches the answer).
        pub(in crate::hexflate) fn available() -> bool {
            is_x86_feature_detected!($feature)
        }

        /// A table as a register (each lane its own copy).
        #[target_feature(enable = $feature)]
        #[inline]
        fn table(t: &Table) -> V {
            // SAFETY: `t` is 32 bytes, at least a register's width; the load is unaligned.
            unsafe { loadu(t.as_ptr().cast()) }
        }

        /// The codes of the `WIDTH` bytes at `src` as `WIDTH / 8` pieces, one for each
        /// eight bytes in stream order: its bits (at most 40) below bit 56, its length in
        /// bits above. Sets `bad` nonzero if any byte is not in the code.
        ///
        /// # Safety
        /// The processor must have the loop's feature ([`available`]); `src` must be valid
        /// for reading `WIDTH` bytes (no alignment needed).
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn pieces(src: *const u8, bad: &mut V) -> [u64; WIDTH / 8] {
            // SAFETY: the caller lets us read `WIDTH` bytes at `src`; the load is unaligned.
            // The rest are register operations, which the feature (the caller's to check)
            // makes available.
            let b = unsafe { loadu(src.cast()) };
            let nibble = set1_epi8(0x0F);
            let lo = and(b, nibble);
            let hi = and(srli_epi16::<4>(b), nibble);
            // The entries of the bytes whose high nibble is 0, 3 and 4; 0 for the others.
            let e0 = and(shuffle_epi8(table(&ROW0), lo), cmpeq_epi8(hi, set1_epi8(0)));
            let e3 = and(shuffle_epi8(table(&ROW3), lo), cmpeq_epi8(hi, set1_epi8(3)));
            let e4 = and(shuffle_epi8(table(&ROW4), lo), cmpeq_epi8(hi, set1_epi8(4)));
            let e = or(or(e0, e3), e4);
            let held = set1_epi8(0x40);
            *bad = or(*bad, cmpeq_epi8(and(e, held), setzero()));
            let code = and(e, set1_epi8(0x1F));
            let five = and(srli_epi16::<5>(e), set1_epi8(1)); // 1 where length 5
            let len = add_epi8(five, set1_epi8(4));

            // Bytes into 16-bit lanes: low code + high code × 2^(low length), 2^4 or 2^5
            // being 16 + 16 × five; the multiplier of the low byte is 1.
            let shifted = add_epi8(set1_epi8(16), slli_epi16::<4>(five));
            let mul8 = or(slli_epi16::<8>(shifted), set1_epi16(1));
            let code16 = maddubs_epi16(code, mul8);
            let len16 = maddubs_epi16(len, set1_epi8(1)); // 8..=10

            // 16-bit lanes into 32-bit ones: the multiplier 2^8..2^10 is (1, 2, 4 by a
            // lookup of the length) × 256; 0 for the other (zero) byte of the lane.
            let pow16 = slli_epi16::<8>(shuffle_epi8(table(&POW_8_10), len16));
            let mul16 = or(slli_epi32::<16>(pow16), set1_epi32(1));
            let code32 = madd_epi16(code16, mul16);
            let len32 = madd_epi16(len16, set1_epi16(1)); // 16..=20

            // 32-bit lanes into 64-bit ones: upper × 2^16..2^20 + lower.
            let pow32 = and(shuffle_epi8(table(&POW_16_20), len32), set1_epi32(0xFF));
            let mul32 = slli_epi32::<16>(pow32);
            let upper = srli_epi64::<32>(code32);
            let lower = and(code32, set1_epi64x(0xFFFF_FFFF));
            let code64 = add_epi64(mul_epu32(upper, mul32), lower);
            let len64 = sad_epu8(len, setzero()); // 32..=40
            let both = or(code64, slli_epi64::<56>(len64));
            let mut out = [0u64; WIDTH / 8];
            // SAFETY: writing `WIDTH` bytes into a local array of `WIDTH` bytes; the store is
            // unaligned.
            unsafe { storeu(out.as_mut_ptr().cast(), both) };
            out
        }

        /// Writes the codes of `body`'s leading `WIDTH`-byte chunks at bit `*n` of `*acc`,
        /// storing eight bytes of `acc` at `out[*pos..]` a piece and moving `*pos` past the
        /// whole bytes (as the scalar loop does). Returns the bytes taken and whether the
        /// code held all of them. `*n` must be below 8 (whole bytes flushed), so that a
        /// 40-bit piece fits the accumulator.
        ///
        /// # Safety
        /// The processor must have the loop's feature ([`available`]).
        #[target_feature(enable = $feature)]
        pub(in crate::hexflate) unsafe fn encode(
            body: &[u8],
            out: &mut [u8],
            pos: &mut usize,
            acc: &mut u64,
            n: &mut u32,
        ) -> (usize, bool) {
            debug_assert!(*n < 8, "{} pending bits", *n);
            // Every byte takes 4 or 5 bits (one outside the code too), so after `t` bytes at
            // most `(7 + 5t) / 8` whole bytes are written past `*pos`, and a store there
            // reaches 8 further: `5 * body.len() / 8 + 9` at the end.
            assert!(
                out.len() >= *pos + body.len() * 5 / 8 + 16,
                "room for the codes"
            );
            let (mut a, mut bits, mut at) = (*acc, *n, *pos);
            let mut bad = setzero();
            let mut chunks = body.chunks_exact(WIDTH);
            for chunk in &mut chunks {
                // SAFETY: the feature is the caller's to check; the chunk is `WIDTH` bytes.
                let pieces = unsafe { pieces(chunk.as_ptr(), &mut bad) };
                for piece in pieces {
                    a |= (piece & 0x00FF_FFFF_FFFF_FFFF) << bits; // `bits` ≤ 7, the piece ≤ 40
                    bits += (piece >> 56) as u32;
                    // SAFETY: `at + 8` is within the room asserted above (a bounds check
                    // here cost a tenth of the loop's time).
                    unsafe {
                        out.as_mut_ptr()
                            .add(at)
                            .cast::<[u8; 8]>()
                            .write_unaligned(a.to_le_bytes())
                    };
                    let whole = bits & !7;
                    at += (whole / 8) as usize;
                    a >>= whole;
                    bits -= whole;
                }
            }
            (*acc, *n, *pos) = (a, bits, at);
            (
                body.len() - chunks.remainder().len(),
                movemask_epi8(bad) == 0,
            )
        }
    };
}

/// Sixteen bytes a step in 128-bit registers.
pub(super) mod ssse3 {
    use std::arch::x86_64::{
        __m128i as V, _mm_add_epi8 as add_epi8, _mm_add_epi64 as add_epi64, _mm_and_si128 as and,
        _mm_cmpeq_epi8 as cmpeq_epi8, _mm_loadu_si128 as loadu, _mm_madd_epi16 as madd_epi16,
        _mm_maddubs_epi16 as maddubs_epi16, _mm_movemask_epi8 as movemask_epi8,
        _mm_mul_epu32 as mul_epu32, _mm_or_si128 as or, _mm_sad_epu8 as sad_epu8,
        _mm_set1_epi8 as set1_epi8, _mm_set1_epi16 as set1_epi16, _mm_set1_epi32 as set1_epi32,
        _mm_set1_epi64x as set1_epi64x, _mm_setzero_si128 as setzero,
        _mm_shuffle_epi8 as shuffle_epi8, _mm_slli_epi16 as slli_epi16,
        _mm_slli_epi32 as slli_epi32, _mm_slli_epi64 as slli_epi64, _mm_srli_epi16 as srli_epi16,
        _mm_srli_epi64 as srli_epi64, _mm_storeu_si128 as storeu,
    };

    vector_loop!("ssse3", 16);
}

/// Thirty-two bytes a step in 256-bit registers.
pub(super) mod avx2 {
    use std::arch::x86_64::{
        __m256i as V, _mm256_add_epi8 as add_epi8, _mm256_add_epi64 as add_epi64,
        _mm256_and_si256 as and, _mm256_cmpeq_epi8 as cmpeq_epi8, _mm256_loadu_si256 as loadu,
        _mm256_madd_epi16 as madd_epi16, _mm256_maddubs_epi16 as maddubs_epi16,
        _mm256_movemask_epi8 as movemask_epi8, _mm256_mul_epu32 as mul_epu32,
        _mm256_or_si256 as or, _mm256_sad_epu8 as sad_epu8, _mm256_set1_epi8 as set1_epi8,
        _mm256_set1_epi16 as set1_epi16, _mm256_set1_epi32 as set1_epi32,
        _mm256_set1_epi64x as set1_epi64x, _mm256_setzero_si256 as setzero,
        _mm256_shuffle_epi8 as shuffle_epi8, _mm256_slli_epi16 as slli_epi16,
        _mm256_slli_epi32 as slli_epi32, _mm256_slli_epi64 as slli_epi64,
        _mm256_srli_epi16 as srli_epi16, _mm256_srli_epi64 as srli_epi64,
        _mm256_storeu_si256 as storeu,
    };

    vector_loop!("avx2", 32);
}
