//! The literal loop of [`super::literals`] for x86-64 processors with SSSE3: the codes of
//! sixteen bytes found and joined in vector registers, so the scalar part only appends two
//! 40-bit pieces a step.
//!
//! The scalar loop looks each byte pair up in a 256 KB table and joins four of them with
//! shifts by their lengths, about fifty instructions for eight bytes. Here every step is
//! a handful of vector instructions for sixteen: each byte's code, its length (4 or 5) and
//! whether the code holds it come from `pshufb` lookups by its low nibble, chosen by its
//! high nibble; then codes are joined pairwise by multiplying the upper one by 2 to the
//! lower one's length, which `pmaddubsw` (bytes into 16-bit lanes), `pmaddwd` (into 32-bit
//! lanes) and `pmuludq` (into 64-bit lanes) each do with an add in one instruction; `psadbw`
//! sums the eight lengths of a 64-bit lane. Deflate and brotli both write a code's bits
//! least significant first, so "upper code × 2^lower length + lower code" is the two codes
//! in stream order.

use std::arch::x86_64::*;

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

/// The entries of bytes `high << 4 | 0..16`.
const fn row(high: u8) -> [u8; 16] {
    let mut t = [0u8; 16];
    let mut lo = 0;
    while lo < 16 {
        t[lo] = entry(high << 4 | lo as u8);
        lo += 1;
    }
    t
}

/// Every byte the code holds has high nibble 0 (CR, LF), 3 (digits, ':') or 4 (A–F).
const ROW0: [u8; 16] = row(0);
const ROW3: [u8; 16] = row(3);
const ROW4: [u8; 16] = row(4);

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

/// Whether this processor runs [`pieces`] (checked once; the answer is cached by std).
pub(super) fn available() -> bool {
    is_x86_feature_detected!("ssse3")
}

/// The codes of the 16 bytes at `src` as two pieces, one for each half in stream order:
/// its bits (at most 40) below bit 56, its length in bits above. Sets `bad` nonzero if any
/// byte is not in the code.
///
/// # Safety
/// The processor must have SSSE3 ([`available`]); `src` must be valid for reading 16
/// bytes (no alignment needed).
#[target_feature(enable = "ssse3")]
#[inline]
pub(super) unsafe fn pieces(src: *const u8, bad: &mut __m128i) -> [u64; 2] {
    // SAFETY: the caller lets us read 16 bytes at `src`; the load is unaligned. The rest are
    // register operations, which SSSE3 (the caller's to check) makes available.
    let b = unsafe { _mm_loadu_si128(src.cast()) };
    let nibble = _mm_set1_epi8(0x0F);
    let lo = _mm_and_si128(b, nibble);
    let hi = _mm_and_si128(_mm_srli_epi16(b, 4), nibble);
    // The entries of the bytes whose high nibble is `$high`, 0 for the others.
    macro_rules! pick {
        ($row:expr, $high:expr) => {
            _mm_and_si128(
                // SAFETY: reading the 16 bytes of a constant array; the load is unaligned.
                _mm_shuffle_epi8(unsafe { _mm_loadu_si128($row.as_ptr().cast()) }, lo),
                _mm_cmpeq_epi8(hi, _mm_set1_epi8($high)),
            )
        };
    }
    let e = _mm_or_si128(_mm_or_si128(pick!(ROW0, 0), pick!(ROW3, 3)), pick!(ROW4, 4));
    let held = _mm_set1_epi8(0x40);
    *bad = _mm_or_si128(
        *bad,
        _mm_cmpeq_epi8(_mm_and_si128(e, held), _mm_setzero_si128()),
    );
    let code = _mm_and_si128(e, _mm_set1_epi8(0x1F));
    let five = _mm_and_si128(_mm_srli_epi16(e, 5), _mm_set1_epi8(1)); // 1 where length 5
    let len = _mm_add_epi8(five, _mm_set1_epi8(4));

    // Bytes into 16-bit lanes: low code + high code × 2^(low length), 2^4 or 2^5 being
    // 16 + 16 × five; the multiplier of the low byte is 1.
    let shifted = _mm_add_epi8(_mm_set1_epi8(16), _mm_slli_epi16(five, 4));
    let mul8 = _mm_or_si128(_mm_slli_epi16(shifted, 8), _mm_set1_epi16(1));
    let code16 = _mm_maddubs_epi16(code, mul8);
    let len16 = _mm_maddubs_epi16(len, _mm_set1_epi8(1)); // 8..=10

    // 16-bit lanes into 32-bit ones: the multiplier 2^8..2^10 is (1, 2, 4 by a lookup of the
    // length's low nibble) × 256; 0 for the other (zero) byte of the lane.
    let pow_8_10 = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 0, 0, 0, 0, 0);
    let pow16 = _mm_slli_epi16(_mm_shuffle_epi8(pow_8_10, len16), 8);
    let mul16 = _mm_or_si128(_mm_slli_epi32(pow16, 16), _mm_set1_epi32(1));
    let code32 = _mm_madd_epi16(code16, mul16);
    let len32 = _mm_madd_epi16(len16, _mm_set1_epi16(1)); // 16..=20

    // 32-bit lanes into 64-bit ones: upper × 2^16..2^20 (1..16 by a lookup of the length's
    // low nibble, 16..20 being 0..4 there, × 2^16) + lower.
    let pow_16_20 = _mm_setr_epi8(1, 2, 4, 8, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    let pow32 = _mm_and_si128(_mm_shuffle_epi8(pow_16_20, len32), _mm_set1_epi32(0xFF));
    let mul32 = _mm_slli_epi32(pow32, 16);
    let upper = _mm_srli_epi64(code32, 32);
    let lower = _mm_and_si128(code32, _mm_set1_epi64x(0xFFFF_FFFF));
    let code64 = _mm_add_epi64(_mm_mul_epu32(upper, mul32), lower);
    let len64 = _mm_sad_epu8(len, _mm_setzero_si128()); // 32..=40
    let both = _mm_or_si128(code64, _mm_slli_epi64(len64, 56));
    let mut out = [0u64; 2];
    // SAFETY: writing 16 bytes into a local array of 16 bytes; the store is unaligned.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), both) };
    out
}

/// Writes the codes of `body`'s leading 16-byte chunks at bit `*n` of `*acc`, storing
/// eight bytes of `acc` at `out[*pos..]` a piece and moving `*pos` past the whole bytes (as
/// the scalar loop does). Returns the bytes taken and whether the code held all of them.
/// `*n` must be below 8 (whole bytes flushed), so that a 40-bit piece fits the accumulator.
///
/// # Safety
/// The processor must have SSSE3 ([`available`]).
#[target_feature(enable = "ssse3")]
pub(super) unsafe fn encode(
    body: &[u8],
    out: &mut [u8],
    pos: &mut usize,
    acc: &mut u64,
    n: &mut u32,
) -> (usize, bool) {
    debug_assert!(*n < 8, "{} pending bits", *n);
    let (mut a, mut bits, mut at) = (*acc, *n, *pos);
    let mut bad = _mm_setzero_si128();
    let mut chunks = body.chunks_exact(16);
    for chunk in &mut chunks {
        // SAFETY: SSSE3 is the caller's to check; the chunk is 16 bytes.
        let halves = unsafe { pieces(chunk.as_ptr(), &mut bad) };
        for piece in halves {
            a |= (piece & 0x00FF_FFFF_FFFF_FFFF) << bits; // `bits` ≤ 7, the piece ≤ 40 bits
            bits += (piece >> 56) as u32;
            out[at..at + 8].copy_from_slice(&a.to_le_bytes());
            let whole = bits & !7;
            at += (whole / 8) as usize;
            a >>= whole;
            bits -= whole;
        }
    }
    (*acc, *n, *pos) = (a, bits, at);
    (
        body.len() - chunks.remainder().len(),
        _mm_movemask_epi8(bad) == 0,
    )
}
