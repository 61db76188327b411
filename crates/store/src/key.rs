//! Hash keys and the namespaces they live in (two password hashes, one account hash, the
//! credential check's entries).
//!
//! A [`Key`] is an unsigned integer of up to 160 bits: a SHA-1 digest (160 bits) or an NTLM
//! digest (128 bits), read big-endian so that numeric order is the order of the hex strings.
//! This module knows nothing about files; it only does the arithmetic the codec needs.

use std::fmt;

/// Which hash a segment holds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    /// SHA-1 of the password's UTF-8 bytes (Pwned Passwords' default mode).
    Sha1,
    /// NTLM: MD4 of the password's UTF-16LE encoding (`?mode=ntlm`).
    Ntlm,
    /// SHA-1 of a normalised account identifier (e-mail, phone, username). The value stored
    /// with each key is not a count but a breach-set id into the segment's postings file.
    Account,
    /// Entries of the private credential check (128 bits: a login's hash prefix above an OPRF
    /// output's tag; `leakwatch_credentials::entry_key`), valued by how often they were
    /// built. Never answered as a range: only through the credential check.
    Credential,
}

impl Namespace {
    /// Every namespace, in file-code order.
    pub const ALL: [Namespace; 4] = [
        Namespace::Sha1,
        Namespace::Ntlm,
        Namespace::Account,
        Namespace::Credential,
    ];
    /// The password-hash namespaces, whose values are occurrence counts.
    pub const PASSWORDS: [Namespace; 2] = [Namespace::Sha1, Namespace::Ntlm];

    /// Width of the hash in bits.
    pub const fn key_bits(self) -> u32 {
        match self {
            Namespace::Sha1 | Namespace::Account => 160,
            Namespace::Ntlm | Namespace::Credential => 128,
        }
    }
    /// Width of the hash in hex digits.
    pub const fn hex_len(self) -> usize {
        self.key_bits() as usize / 4
    }
    /// Width of a range answer's suffix in hex digits (the hash less its 5-hex prefix).
    pub const fn suffix_hex_len(self) -> usize {
        self.hex_len() - 5
    }
    /// The code stored in segment footers.
    pub const fn code(self) -> u8 {
        match self {
            Namespace::Sha1 => 1,
            Namespace::Ntlm => 2,
            Namespace::Account => 3,
            Namespace::Credential => 4,
        }
    }
    /// Inverse of [`Namespace::code`].
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Namespace::Sha1),
            2 => Some(Namespace::Ntlm),
            3 => Some(Namespace::Account),
            4 => Some(Namespace::Credential),
            _ => None,
        }
    }
    /// Lower-case name used in file names, the manifest and the CLI.
    pub const fn name(self) -> &'static str {
        match self {
            Namespace::Sha1 => "sha1",
            Namespace::Ntlm => "ntlm",
            Namespace::Account => "account",
            Namespace::Credential => "credential",
        }
    }
    /// The password namespace whose hex digests have `len` digits.
    pub fn from_hex_len(len: usize) -> Option<Self> {
        match len {
            40 => Some(Namespace::Sha1),
            32 => Some(Namespace::Ntlm),
            _ => None,
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Number of bits in a range prefix (5 hex digits).
pub const PREFIX_BITS: u32 = 20;

/// An unsigned integer below 2^160: `hi * 2^128 + lo`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Key {
    hi: u32,
    lo: u128,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:08X}{:032X})", self.hi, self.lo)
    }
}

/// The 32 upper-case hex digits of `x`, most significant first, as two 16-byte words in
/// memory order (digit 0 in the low byte of the first): each byte's nibbles split and
/// interleaved in one vector register, then `'0' + n`, plus 7 where `n > 9`. Returned in
/// registers, not through a stack buffer: a caller stores them where the text goes, and a
/// load of bytes just stored piecewise would stall on store forwarding.
///
/// # Safety
/// The processor must have SSE2: every x86-64 processor does.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn hex_u128(x: u128) -> [u128; 2] {
    use std::arch::x86_64::*;
    let bytes = x.to_be_bytes();
    let first = u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default());
    let second = u64::from_le_bytes(bytes[8..].try_into().unwrap_or_default());
    // Intrinsics that take no pointers are safe inside a function with their feature.
    let [first_half, second_half] = hex_sse2(_mm_set_epi64x(second as i64, first as i64));
    let word = |v: __m128i| {
        let lo = _mm_cvtsi128_si64(v) as u64;
        let hi = _mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)) as u64;
        (hi as u128) << 64 | lo as u128
    };
    [word(first_half), word(second_half)]
}

/// The 32 upper-case hex digits of the 16 bytes of `v` (in memory order), as two vectors:
/// nibbles split and interleaved, then `'0' + n`, plus 7 where `n > 9`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn hex_sse2(v: std::arch::x86_64::__m128i) -> [std::arch::x86_64::__m128i; 2] {
    use std::arch::x86_64::*;
    let low4 = _mm_set1_epi8(0x0F);
    let high = _mm_and_si128(_mm_srli_epi16::<4>(v), low4);
    let low = _mm_and_si128(v, low4);
    let ascii = |n: __m128i| {
        let letters = _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8(7));
        _mm_add_epi8(_mm_add_epi8(n, _mm_set1_epi8(b'0' as i8)), letters)
    };
    [
        ascii(_mm_unpacklo_epi8(high, low)),
        ascii(_mm_unpackhi_epi8(high, low)),
    ]
}

/// The 32 upper-case hex digits of `x`, most significant first, as two words in memory order.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn hex_u128(x: u128) -> [u128; 2] {
    let word = |v: u64| u128::from_le_bytes(hex_u64(v));
    [word((x >> 64) as u64), word(x as u64)]
}

/// The 32 upper-case hex digits of `x`, most significant first, as two words in memory order
/// (the first digit in the low byte of the first).
#[inline(always)]
pub(crate) fn hex32(x: u128) -> [u128; 2] {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `hex_u128` needs SSE2, which every x86-64 processor has (it is in the target's
    // baseline features, so the compiler already assumes it everywhere).
    let digits = unsafe { hex_u128(x) };
    #[cfg(not(target_arch = "x86_64"))]
    let digits = hex_u128(x);
    digits
}

/// The 32 upper-case hex digits of the 16 bytes `src`, written to `dst`: straight from memory
/// to memory through one vector register on x86-64 (no detour through general registers,
/// which cost a range answer's lines a dozen moves each), through [`hex32`] elsewhere.
#[inline(always)]
pub(crate) fn hex32_into(src: &[u8; 16], dst: &mut [std::mem::MaybeUninit<u8>; 32]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `hex16_sse2` needs SSE2, which every x86-64 processor has; it reads the 16
    // bytes of `src` and writes the 32 of `dst`, both borrowed at those sizes.
    unsafe {
        hex16_sse2(src.as_ptr(), dst.as_mut_ptr().cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let [a, b] = hex32(u128::from_be_bytes(*src));
        for (d, s) in dst
            .iter_mut()
            .zip(a.to_le_bytes().into_iter().chain(b.to_le_bytes()))
        {
            d.write(s);
        }
    }
}

/// Writes the 32 upper-case hex digits of the 16 bytes at `src` to `dst`.
///
/// # Safety
/// The processor must have SSE2 (every x86-64 processor does); `src` must be valid for
/// reading 16 bytes and `dst` for writing 32 (neither needs any alignment).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
unsafe fn hex16_sse2(src: *const u8, dst: *mut u8) {
    use std::arch::x86_64::*;
    // SAFETY: the caller lets us read 16 bytes at `src`; the load is unaligned.
    let [first, second] = hex_sse2(unsafe { _mm_loadu_si128(src.cast()) });
    // SAFETY: the caller lets us write 32 bytes at `dst`; the stores are unaligned.
    unsafe {
        _mm_storeu_si128(dst.cast(), first);
        _mm_storeu_si128(dst.add(16).cast(), second);
    }
}

/// The 16 upper-case hex digits of `x`, most significant first: its nibbles spread one to a
/// byte by three shift-and-mask steps, then `'0' + n`, plus 7 where `n > 9` (A–F).
#[inline(always)]
fn hex_u64(x: u64) -> [u8; 16] {
    const fn each(byte: u8) -> u128 {
        u128::from_ne_bytes([byte; 16])
    }
    let x = x as u128;
    let mut v = (x & 0xFFFF_FFFF) | ((x & 0xFFFF_FFFF_0000_0000) << 32);
    v = (v & 0x0000_0000_0000_FFFF_0000_0000_0000_FFFF)
        | ((v & 0x0000_0000_FFFF_0000_0000_0000_FFFF_0000) << 16);
    v = (v & 0x0000_00FF_0000_00FF_0000_00FF_0000_00FF)
        | ((v & 0x0000_FF00_0000_FF00_0000_FF00_0000_FF00) << 8);
    v = (v & 0x000F_000F_000F_000F_000F_000F_000F_000F)
        | ((v & 0x00F0_00F0_00F0_00F0_00F0_00F0_00F0_00F0) << 4);
    // Byte i now holds nibble i (least significant first), each below 16, so no byte carries.
    let letters = ((v + each(6)) >> 4) & each(1);
    (v + each(b'0') + letters * 7).to_be_bytes()
}

/// Hex digit values; 0xFF for every byte that is not a hex digit.
static HEX_VALUE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

impl Key {
    /// Zero.
    pub const ZERO: Key = Key { hi: 0, lo: 0 };

    /// Builds a key from a value below 2^128.
    pub const fn from_u128(lo: u128) -> Key {
        Key { hi: 0, lo }
    }

    /// `hi · 2^128 + lo`.
    pub(crate) const fn from_parts(hi: u32, lo: u128) -> Key {
        Key { hi, lo }
    }

    /// SHA-1 of `bytes`: a password's key in the SHA-1 namespace (of its UTF-8 bytes).
    pub fn sha1_of(bytes: &[u8]) -> Key {
        use sha1::Digest;
        Key::from_digest(&sha1::Sha1::digest(bytes)).unwrap_or_default()
    }

    /// NTLM of a password (MD4 of its UTF-16LE encoding): its key in the NTLM namespace.
    pub fn ntlm_of(password: &str) -> Key {
        use md4::Digest;
        let mut h = md4::Md4::new();
        for unit in password.encode_utf16() {
            h.update(unit.to_le_bytes());
        }
        Key::from_digest(&h.finalize()).unwrap_or_default()
    }

    /// An account's key: SHA-1 of its normalised identifier (`leakwatch-identity` normalises;
    /// HIBP's `breachedaccount/range` is over the same hash). The one place it is computed.
    pub fn account(normalized: &str) -> Key {
        Key::sha1_of(normalized.as_bytes())
    }

    /// Reads a 20-byte (SHA-1) or 16-byte (NTLM) big-endian digest.
    pub fn from_digest(bytes: &[u8]) -> Option<Key> {
        match bytes.len() {
            20 => Some(Key {
                hi: u32::from_be_bytes(bytes[..4].try_into().ok()?),
                lo: u128::from_be_bytes(bytes[4..].try_into().ok()?),
            }),
            16 => Some(Key {
                hi: 0,
                lo: u128::from_be_bytes(bytes.try_into().ok()?),
            }),
            _ => None,
        }
    }

    /// Parses hex digits (either case) into a key; `None` on a non-hex byte or > 40 digits.
    pub fn from_hex(hex: &[u8]) -> Option<Key> {
        if hex.len() > 40 {
            return None;
        }
        // Up to five 32-bit words, most significant first; the first takes the remainder.
        // Invalid digits map to 0xFF in the table, caught once by OR-ing them together.
        let mut words = [0u32; 5];
        let mut bad = 0u8;
        let first = hex.len() % 8;
        let mut at = 0;
        let start_word = 5 - hex.len().div_ceil(8);
        for (w, word) in words.iter_mut().enumerate().skip(start_word) {
            let take = if w == start_word && first != 0 {
                first
            } else {
                8
            };
            let mut v = 0u32;
            for &c in &hex[at..at + take] {
                let d = HEX_VALUE[c as usize];
                bad |= d;
                v = (v << 4) | (d & 0xF) as u32;
            }
            *word = v;
            at += take;
        }
        if bad & 0xF0 != 0 {
            return None;
        }
        let lo = (words[1] as u128) << 96
            | (words[2] as u128) << 64
            | (words[3] as u128) << 32
            | words[4] as u128;
        Some(Key { hi: words[0], lo })
    }

    /// The big-endian digest bytes for a namespace (20 or 16 bytes).
    pub fn to_digest(self, ns: Namespace) -> Vec<u8> {
        let mut out = Vec::with_capacity(20);
        if ns.key_bits() == 160 {
            out.extend_from_slice(&self.hi.to_be_bytes());
        }
        out.extend_from_slice(&self.lo.to_be_bytes());
        out
    }

    /// Appends the big-endian digest bytes for a namespace (20 or 16 bytes).
    #[inline]
    pub fn write_digest(self, ns: Namespace, out: &mut Vec<u8>) {
        if ns.key_bits() == 160 {
            out.extend_from_slice(&self.hi.to_be_bytes());
        }
        out.extend_from_slice(&self.lo.to_be_bytes());
    }

    /// The value as 20 big-endian bytes.
    #[inline]
    pub(crate) fn be_bytes(self) -> [u8; 20] {
        let mut out = [0u8; 20];
        out[..4].copy_from_slice(&self.hi.to_be_bytes());
        out[4..].copy_from_slice(&self.lo.to_be_bytes());
        out
    }

    /// The value of at most 20 big-endian bytes. The widths segments store (16 and 17
    /// bytes: the low bits of a key at the real corpus's sizes) take no copy loop.
    #[inline(always)]
    pub(crate) fn from_be_tail(b: &[u8]) -> Key {
        match b.len() {
            16 => Key {
                hi: 0,
                lo: u128::from_be_bytes(b.try_into().unwrap_or_default()),
            },
            17 => Key {
                hi: b[0] as u32,
                lo: u128::from_be_bytes(b[1..].try_into().unwrap_or_default()),
            },
            n => {
                let mut all = [0u8; 20];
                let n = n.min(20);
                all[20 - n..].copy_from_slice(&b[b.len() - n..]);
                Key {
                    hi: u32::from_be_bytes([all[0], all[1], all[2], all[3]]),
                    lo: u128::from_be_bytes(all[4..].try_into().unwrap_or_default()),
                }
            }
        }
    }

    /// Bitwise OR.
    #[inline(always)]
    pub(crate) fn or(self, other: Key) -> Key {
        Key {
            hi: self.hi | other.hi,
            lo: self.lo | other.lo,
        }
    }

    /// The low 128 bits: the whole key of a 128-bit namespace.
    #[inline]
    pub fn low_u128(self) -> u128 {
        self.lo
    }

    /// The low 64 bits (uniformly distributed for a cryptographic hash).
    #[inline]
    pub fn low_u64(self) -> u64 {
        self.lo as u64
    }

    /// The 20-bit range prefix of a key in namespace `ns`.
    #[inline]
    pub fn prefix(self, ns: Namespace) -> u32 {
        self.shift_right(ns.key_bits() - PREFIX_BITS).lo as u32
    }

    /// The smallest key in namespace `ns` whose prefix is `prefix` (or whose top `prefix_bits`
    /// bits are `prefix`).
    pub fn first_with_prefix(ns: Namespace, prefix: u64, prefix_bits: u32) -> Key {
        if prefix_bits == 0 {
            return Key::ZERO;
        }
        Key::from_u128(prefix as u128).shift_left(ns.key_bits() - prefix_bits)
    }

    /// Appends the upper-case hex of the last `digits` (at most 40) hex digits.
    #[inline]
    pub fn write_hex_suffix(self, digits: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hex()[40 - digits.min(40)..]);
    }

    /// All 40 upper-case hex digits.
    #[inline(always)]
    pub fn hex(self) -> [u8; 40] {
        let (top, [a, b]) = self.hex_words();
        let mut buf = [0u8; 40];
        buf[..8].copy_from_slice(&top.to_le_bytes());
        buf[8..24].copy_from_slice(&a.to_le_bytes());
        buf[24..].copy_from_slice(&b.to_le_bytes());
        buf
    }

    /// All 40 upper-case hex digits as words in memory order (the first digit in the low
    /// byte): 8 digits, then 16 and 16. SSE2 on x86-64 (part of its baseline), eight bytes at
    /// a time in registers elsewhere. Rendering a range answer on a cache miss stores these
    /// straight into the answer.
    #[inline(always)]
    pub(crate) fn hex_words(self) -> (u64, [u128; 2]) {
        let top = u64::from_le_bytes(hex_u64(self.hi as u64)[8..].try_into().unwrap_or_default());
        (top, hex32(self.lo))
    }

    /// Upper-case hex of the whole digest in namespace `ns`.
    pub fn to_hex(self, ns: Namespace) -> String {
        let mut v = Vec::with_capacity(40);
        self.write_hex_suffix(ns.hex_len(), &mut v);
        String::from_utf8(v).unwrap_or_default()
    }

    /// `self - other`, wrapping below 2^160.
    #[inline]
    pub fn wrapping_sub(self, other: Key) -> Key {
        let (lo, borrow) = self.lo.overflowing_sub(other.lo);
        Key {
            hi: self.hi.wrapping_sub(other.hi).wrapping_sub(borrow as u32),
            lo,
        }
    }

    /// `self + other`, or `None` past 2^160.
    #[inline]
    pub fn checked_add(self, other: Key) -> Option<Key> {
        let (lo, carry) = self.lo.overflowing_add(other.lo);
        let hi = self.hi.checked_add(other.hi)?.checked_add(carry as u32)?;
        Some(Key { hi, lo })
    }

    /// Logical shift right.
    #[inline]
    pub fn shift_right(self, k: u32) -> Key {
        match k {
            0 => self,
            1..=127 => Key {
                hi: if k < 32 { self.hi >> k } else { 0 },
                lo: (self.lo >> k) | ((self.hi as u128) << (128 - k)),
            },
            128..=159 => Key {
                hi: 0,
                lo: (self.hi >> (k - 128)) as u128,
            },
            _ => Key::ZERO,
        }
    }

    /// Logical shift left, dropping bits past 2^160.
    #[inline]
    pub fn shift_left(self, k: u32) -> Key {
        match k {
            0 => self,
            1..=127 => Key {
                hi: (((self.hi as u128) << k) | (self.lo >> (128 - k))) as u32,
                lo: self.lo << k,
            },
            128..=159 => Key {
                hi: (self.lo << (k - 128)) as u32,
                lo: 0,
            },
            _ => Key::ZERO,
        }
    }

    /// ORs a small value into the low bits.
    #[inline]
    pub fn or_low(self, v: u64) -> Key {
        Key {
            hi: self.hi,
            lo: self.lo | v as u128,
        }
    }

    /// Bits `[start, start + len)` as an integer; `len <= 64`.
    #[inline]
    pub fn bits(self, start: u32, len: u32) -> u64 {
        debug_assert!(len <= 64);
        let v = self.shift_right(start).lo as u64;
        if len == 64 {
            v
        } else {
            v & ((1u64 << len) - 1)
        }
    }

    /// The value as `u64` if it fits.
    pub fn to_u64(self) -> Option<u64> {
        (self.hi == 0 && self.lo <= u64::MAX as u128).then_some(self.lo as u64)
    }

    /// Number of significant bits (0 for zero).
    pub fn bit_len(self) -> u32 {
        if self.hi != 0 {
            160 - self.hi.leading_zeros()
        } else {
            128 - self.lo.leading_zeros()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_hex_roundtrip(hex: &str, ns: Namespace) {
        let k = Key::from_hex(hex.as_bytes()).unwrap();
        assert_eq!(k.to_hex(ns), hex.to_ascii_uppercase());
        let full = format!("{:08X}{:032X}", k.hi, k.lo);
        assert_eq!(k.hex(), full.as_bytes(), "SWAR hex equals fmt's");
        assert_eq!(Key::from_digest(&k.to_digest(ns)).unwrap(), k);
    }

    #[test]
    fn hex_and_digest_roundtrip() {
        check_hex_roundtrip("5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", Namespace::Sha1);
        check_hex_roundtrip("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", Namespace::Sha1);
        check_hex_roundtrip("0000000000000000000000000000000000000001", Namespace::Sha1);
        check_hex_roundtrip("8846F7EAEE8FB117AD06BDD830B7586C", Namespace::Ntlm);
        assert_eq!(Key::from_hex(b"12G4"), None);
    }

    #[test]
    fn swar_hex_equals_fmt_for_every_nibble_in_every_place() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = Key {
                hi: (x >> 32) as u32 ^ i,
                lo: (x as u128) << 64 | x.rotate_left(i % 64) as u128,
            };
            assert_eq!(k.hex(), format!("{:08X}{:032X}", k.hi, k.lo).as_bytes());
        }
    }

    #[test]
    fn prefix_is_first_five_hex_digits() {
        let k = Key::from_hex(b"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8").unwrap();
        assert_eq!(k.prefix(Namespace::Sha1), 0x5BAA6);
        let n = Key::from_hex(b"8846F7EAEE8FB117AD06BDD830B7586C").unwrap();
        assert_eq!(n.prefix(Namespace::Ntlm), 0x8846F);
        assert_eq!(
            Key::first_with_prefix(Namespace::Sha1, 0x5BAA6, 20).prefix(Namespace::Sha1),
            0x5BAA6
        );
        let mut s = Vec::new();
        k.write_hex_suffix(35, &mut s);
        assert_eq!(s, b"1E4C9B93F3F0682250B6CF8331B7EE68FD8");
    }

    #[test]
    fn arithmetic_matches_u128_reference_and_crosses_the_word_boundary() {
        let a = Key::from_hex(b"00000001FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF").unwrap();
        let one = Key::from_u128(1);
        let b = a.checked_add(one).unwrap();
        assert_eq!(
            b.to_hex(Namespace::Sha1),
            "0000000200000000000000000000000000000000"
        );
        assert_eq!(b.wrapping_sub(one), a);
        assert_eq!(b.wrapping_sub(a), one);
        for k in [0, 1, 31, 32, 63, 64, 100, 127, 128, 129, 140, 159, 160] {
            assert_eq!(
                a.shift_left(k).shift_right(k),
                a.shift_left(k).shift_right(k).shift_left(k).shift_right(k),
                "shift {k}"
            );
            let x = Key::from_u128(0xDEAD_BEEF);
            if k <= 128 {
                assert_eq!(x.shift_left(k).shift_right(k), x, "shift {k}");
            }
        }
        assert_eq!(a.bit_len(), 129);
        assert_eq!(a.bits(125, 8), 0b1111_1111 >> 4 | 0b1000);
        let max = Key::from_hex(&[b'F'; 40]).unwrap();
        assert_eq!(max.checked_add(one), None);
    }
}
