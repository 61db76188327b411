//! The group codecs: versions 1–2 (every bit of a key in a Rice-coded gap) and version 3
//! (verbatim low bytes, Elias–Fano high parts), and the Exp-Golomb counts both share. Pure
//! functions of a group's keys or bytes; the writer and the reader own the files.

use super::{MAX_COUNT_ORDER, mask};
use crate::{
    bits::{BitWriter, CHUNK, WindowReader},
    key::Key,
};

/// A Rice-coded gap: `q · 2^k` plus `k` raw bits (`None` if the bits run out). `k ≤ 160`,
/// checked by the caller. Up to three reads at fixed offsets: a gap between 140-bit suffixes
/// has `k` near 129, and a loop with variable 128-bit shifts cost a fifth of a range's decode.
#[inline(always)]
pub(super) fn read_gap(r: &mut WindowReader<'_>, q: u64, k: u32) -> Option<Key> {
    let raw = if k <= CHUNK {
        Key::from_u128(r.read(k) as u128)
    } else if k <= 2 * CHUNK {
        let low = r.read(CHUNK) as u128;
        Key::from_u128(low | (r.read(k - CHUNK) as u128) << CHUNK)
    } else {
        let low = r.read(CHUNK) as u128;
        let mid = r.read(CHUNK) as u128;
        // k ≤ 160, so at most 48 more bits: 16 complete the low 128, the rest (≤ 32) go high.
        let top = r.read(k - 2 * CHUNK);
        Key::from_parts(
            (top >> 16) as u32,
            low | mid << CHUNK | (top as u128) << (2 * CHUNK),
        )
    };
    if q == 0 {
        return Some(raw);
    }
    // Past 2^160 (a damaged group) is `None`; the key comparison after the add catches the rest.
    Key::from_u128(q as u128).shift_left(k).checked_add(raw)
}

/// Cost in bits of Rice-coding gaps with parameter `k`, given `high[i] = gap[i] >> base`
/// for some `base <= k`.
fn rice_cost(high: &[u64], base: u32, k: u32) -> u64 {
    let shift = k - base;
    let unary: u64 = high
        .iter()
        .map(|&h| if shift >= 64 { 0 } else { h >> shift })
        .fold(0, u64::saturating_add);
    unary.saturating_add(high.len() as u64 * (1 + k as u64))
}

/// Cost in bits of Exp-Golomb coding every `count - 1` with order `c`.
fn count_cost(counts: &[u64], c: u32) -> u64 {
    counts
        .iter()
        .map(|&n| {
            let vp = (n - 1) as u128 + (1u128 << c);
            let bl = 128 - vp.leading_zeros();
            (2 * bl - 1 - c) as u64
        })
        .sum()
}

/// Encodes one group, choosing the Rice parameter and count order that minimise its size.
pub(super) fn encode_group(
    base: Key,
    elems: &[(Key, u64)],
    bits: &mut BitWriter,
) -> (Vec<u8>, u32, u32) {
    let mut gaps = Vec::with_capacity(elems.len());
    let mut prev = base;
    for &(key, _) in elems {
        gaps.push(key.wrapping_sub(prev));
        prev = key;
    }
    let span_bits = gaps.iter().map(|g| g.bit_len()).max().unwrap_or(0);
    let len_bits = 64 - (elems.len() as u64).leading_zeros();
    // The optimum is near log2(mean gap) - 0.5; search around it. `min_k` keeps every
    // unary part short (below 2^32), whatever the distribution.
    let total_bits = (prev.wrapping_sub(base)).bit_len();
    let guess = total_bits.saturating_sub(len_bits);
    let min_k = span_bits.saturating_sub(32);
    // One wide shift per gap; the candidates then cost only word shifts.
    let base = guess.saturating_sub(3).max(min_k).min(160);
    let high: Vec<u64> = gaps
        .iter()
        .map(|g| g.shift_right(base).to_u64().unwrap_or(u64::MAX / 4))
        .collect();
    let k = (guess.saturating_sub(3)..=guess + 2)
        .map(|k| k.max(min_k).min(160))
        .min_by_key(|&k| (rice_cost(&high, base, k), k))
        .unwrap_or(min_k);
    let c = count_order(elems);
    for (gap, &(_, count)) in gaps.iter().zip(elems) {
        bits.write_unary(gap.shift_right(k).to_u64().unwrap_or(0));
        bits.write_wide(|start, len| gap.bits(start, len), k);
        write_count(bits, count, c);
    }
    (bits.take_bytes(), k, c)
}

/// The Exp-Golomb order that codes a group's counts in the fewest bits.
fn count_order(elems: &[(Key, u64)]) -> u32 {
    let counts: Vec<u64> = elems.iter().map(|e| e.1).collect();
    (0..=MAX_COUNT_ORDER)
        .min_by_key(|&c| (count_cost(&counts, c), c))
        .unwrap_or(0)
}

/// Writes `count - 1` in Exp-Golomb code of order `c`.
fn write_count(bits: &mut BitWriter, count: u64, c: u32) {
    let vp = (count - 1) as u128 + (1u128 << c);
    let bl = 128 - vp.leading_zeros();
    bits.write_unary((bl - 1 - c) as u64);
    let low = vp & !(1u128 << (bl - 1));
    bits.write_wide(|start, len| ((low >> start) as u64) & mask(len), bl - 1);
}

/// Encodes one version-3 group, `n` keys whose offsets from `base` are below `2^width`:
///
/// 1. the byte length of part 4, LEB128;
/// 2. each key's low `l8` bytes, verbatim and big-endian, a record a key;
/// 3. the low `k` bits of each key's *high part* (the offset above those bytes), packed
///    least significant first;
/// 4. the rest of each high part in Elias–Fano's unary code: for key `i`, a 1 bit at
///    position `(high >> k) + i`;
/// 5. the counts, Exp-Golomb of order `c`.
///
/// Parts 3 and 4 together cost what Rice-coded gaps with parameter `k` cost (`k` bits and
/// a unary step a key), but each key's high part is found without decoding the ones before
/// it, so decoding a key is not a chain of dependent reads.
pub(super) fn encode_group_low_bytes(
    base: Key,
    width: u32,
    l8: u32,
    elems: &[(Key, u64)],
    bits: &mut BitWriter,
) -> (Vec<u8>, u32, u32) {
    let n = elems.len() as u64;
    let l8 = l8 as usize;
    let high_bits = width - 8 * l8 as u32;
    let mut lows = Vec::with_capacity(elems.len() * l8);
    let mut highs = Vec::with_capacity(elems.len());
    for &(key, _) in elems {
        let offset = key.wrapping_sub(base);
        lows.extend_from_slice(&offset.be_bytes()[20 - l8..]);
        // Below 2^40 (see `low_bytes`), and ascending because the keys are.
        highs.push(
            offset
                .shift_right(8 * l8 as u32)
                .to_u64()
                .unwrap_or(u64::MAX),
        );
    }
    let last = highs.last().copied().unwrap_or(0);
    // Elias–Fano's cost is exact: k bits a key, one 1 a key, and a 0 per step of 2^k.
    let k = (0..=high_bits.min(CHUNK))
        .min_by_key(|&k| (n * k as u64 + (last >> k), k))
        .unwrap_or(0);
    for &high in &highs {
        bits.write(high & mask(k), k);
    }
    let low_k = bits.take_bytes();
    let mut unary = vec![0u8; ((last >> k) + n).div_ceil(8) as usize];
    for (i, &high) in highs.iter().enumerate() {
        let at = (high >> k) as usize + i;
        unary[at / 8] |= 1 << (at % 8);
    }
    let c = count_order(elems);
    for &(_, count) in elems {
        write_count(bits, count, c);
    }
    let counts = bits.take_bytes();
    let mut out = Vec::with_capacity(5 + lows.len() + low_k.len() + unary.len() + counts.len());
    let mut len = unary.len() as u64;
    while len >= 0x80 {
        out.push(len as u8 | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    for part in [lows, low_k, unary, counts] {
        out.extend_from_slice(&part);
    }
    (out, k, c)
}

/// Whether big-endian `low` follows `prev` (the same length): one 128-bit comparison for the
/// widths the real corpus's segments store.
#[inline(always)]
pub(super) fn low_bytes_ascend(prev: &[u8], low: &[u8]) -> bool {
    let tail = |b: &[u8]| {
        b.get(b.len().wrapping_sub(16)..)
            .and_then(|t| t.try_into().ok())
            .map(u128::from_be_bytes)
    };
    match (prev.len(), tail(prev), tail(low)) {
        (16, Some(p), Some(l)) => p < l,
        (17, Some(p), Some(l)) => (prev[0], p) < (low[0], l),
        _ => prev < low,
    }
}

/// Reads a count: Exp-Golomb of order `c` of `count - 1`.
#[inline(always)]
pub(super) fn read_count(
    r: &mut WindowReader<'_>,
    c: u32,
) -> std::result::Result<u64, &'static str> {
    // Most codes (every one of up to 56 bits) come from one load: a decoder is as fast as
    // the chain of its dependent loads.
    let w = r.peek();
    let u = w.trailing_zeros();
    if u + 1 + u + c <= CHUNK {
        let nbits = u + c;
        r.skip(u + 1 + nbits);
        if r.overrun() {
            return Err("truncated count");
        }
        return Ok(((1u64 << nbits) | ((w >> (u + 1)) & mask(nbits))) - (1u64 << c) + 1);
    }
    let u = r.read_unary().ok_or("truncated count")?;
    let nbits = u as u32 + c;
    if nbits > 64 {
        return Err("count too large");
    }
    // One read for every count below 2^56 (a loop here mispredicted on most keys).
    let low = if nbits <= CHUNK {
        r.read(nbits) as u128
    } else {
        let first = r.read(CHUNK) as u128;
        first | (r.read(nbits - CHUNK) as u128) << CHUNK
    };
    if r.overrun() {
        return Err("truncated count");
    }
    // Exp-Golomb: 2^nbits + low - 2^c + 1, in 64 bits but for the widest codes.
    if nbits < 64 {
        Ok(((1u64 << nbits) | low as u64) - (1u64 << c) + 1)
    } else {
        let wide = ((1u128 << nbits) | low) - (1u128 << c) + 1;
        u64::try_from(wide).map_err(|_| "count too large")
    }
}
