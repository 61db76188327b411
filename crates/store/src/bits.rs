//! Bit-granular writer and reader used by the segment codec.
//!
//! Bits are packed least-significant first into bytes, so a reader can load any 64-bit
//! little-endian window and shift. The reader never panics on short or hostile input: every
//! read is bounds-checked and returns `None` past the end, which callers turn into a
//! corruption error. This module knows nothing about keys or files.

/// Largest number of bits moved by one `write`/`read` call.
pub const CHUNK: u32 = 56;

/// Appends bits to a byte vector.
#[derive(Debug, Default)]
pub struct BitWriter {
    buf: Vec<u8>,
    acc: u64,
    nacc: u32,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes the low `n <= 56` bits of `v`.
    #[inline]
    pub fn write(&mut self, v: u64, n: u32) {
        debug_assert!(n <= CHUNK && v >> n == 0);
        if n == 0 {
            return;
        }
        if self.nacc + n > 64 {
            let whole = self.nacc / 8;
            self.buf
                .extend_from_slice(&self.acc.to_le_bytes()[..whole as usize]);
            self.acc = if whole == 8 {
                0
            } else {
                self.acc >> (whole * 8)
            };
            self.nacc -= whole * 8;
        }
        self.acc |= v << self.nacc;
        self.nacc += n;
    }

    /// Writes any number of bits from a wide value, low bits first.
    #[inline]
    pub fn write_wide(&mut self, mut get: impl FnMut(u32, u32) -> u64, n: u32) {
        let mut done = 0;
        while done < n {
            let take = (n - done).min(CHUNK);
            self.write(get(done, take), take);
            done += take;
        }
    }

    /// Writes `q` zero bits followed by a one bit.
    #[inline]
    pub fn write_unary(&mut self, mut q: u64) {
        while q >= CHUNK as u64 {
            self.write(0, CHUNK);
            q -= CHUNK as u64;
        }
        self.write(1 << q, q as u32 + 1);
    }

    /// Pads to a whole byte and returns the bytes, leaving the writer empty.
    pub fn take_bytes(&mut self) -> Vec<u8> {
        let n = self.nacc.div_ceil(8) as usize;
        self.buf.extend_from_slice(&self.acc.to_le_bytes()[..n]);
        self.acc = 0;
        self.nacc = 0;
        std::mem::take(&mut self.buf)
    }
}

/// Reads bits written by [`BitWriter`]: a 64-bit buffer refilled eight bytes at a time, so
/// a read is a mask and a shift (the segment decoder reads six times a key).
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// The next byte to load into `buf`.
    next: usize,
    /// Unread bits, least significant first; bits above `avail` are zero.
    buf: u64,
    avail: u32,
    /// Bits of `data` not yet read (so reads past the end fail, not the zero padding).
    left: u64,
}

impl<'a> BitReader<'a> {
    /// Reads `data` from its first bit.
    pub fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            next: 0,
            buf: 0,
            avail: 0,
            left: data.len() as u64 * 8,
        }
    }

    /// Tops `buf` up to at least 56 bits (zeros past the end of the data).
    #[inline(always)]
    fn refill(&mut self) {
        let word = match self.data.get(self.next..self.next + 8) {
            Some(s) => u64::from_le_bytes(s.try_into().unwrap_or([0; 8])),
            None => {
                let mut tmp = [0u8; 8];
                let tail = self.data.get(self.next..).unwrap_or(&[]);
                tmp[..tail.len()].copy_from_slice(tail);
                u64::from_le_bytes(tmp)
            }
        };
        self.buf |= word << self.avail;
        let bytes = (63 - self.avail) / 8;
        self.next += bytes as usize;
        self.avail += bytes * 8;
    }

    /// Reads `n <= 56` bits.
    #[inline(always)]
    pub fn read(&mut self, n: u32) -> Option<u64> {
        debug_assert!(n <= CHUNK);
        if n as u64 > self.left {
            return None;
        }
        if self.avail < n {
            self.refill();
        }
        let v = self.buf & ((1u64 << n) - 1);
        // Two shifts: `n` may be 0..=56, and a shift by 64 is not defined.
        self.buf = (self.buf >> (n / 2)) >> (n - n / 2);
        self.avail -= n;
        self.left -= n as u64;
        Some(v)
    }

    /// Reads a unary number written by [`BitWriter::write_unary`].
    #[inline(always)]
    pub fn read_unary(&mut self) -> Option<u64> {
        let mut q = 0u64;
        loop {
            if self.avail < CHUNK {
                self.refill();
            }
            let tz = self.buf.trailing_zeros();
            if tz < self.avail {
                let used = tz as u64 + 1;
                if used > self.left {
                    return None;
                }
                self.buf = (self.buf >> tz) >> 1;
                self.avail -= tz + 1;
                self.left -= used;
                return Some(q + tz as u64);
            }
            // Only zeros buffered: consume them and look further.
            if self.avail as u64 >= self.left {
                return None;
            }
            q += self.avail as u64;
            self.left -= self.avail as u64;
            self.buf = 0;
            self.avail = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_mixed_widths_and_unary() {
        let mut w = BitWriter::new();
        let items: Vec<(u64, u32)> = (0..1000u64)
            .map(|i| ((i * 0x9E37_79B9) & ((1 << (i % 57)) - 1), (i % 57) as u32))
            .collect();
        for (i, &(v, n)) in items.iter().enumerate() {
            w.write(v, n);
            w.write_unary(i as u64 % 130);
        }
        let bytes = w.take_bytes();
        let mut r = BitReader::new(&bytes);
        for (i, &(v, n)) in items.iter().enumerate() {
            assert_eq!(r.read(n), Some(v), "item {i}");
            assert_eq!(r.read_unary(), Some(i as u64 % 130), "unary {i}");
        }
    }

    #[test]
    fn reading_past_the_end_is_none_not_a_panic() {
        let mut r = BitReader::new(&[0xFF]);
        assert_eq!(r.read(8), Some(0xFF));
        assert_eq!(r.read(1), None);
        let zeros = [0u8; 20];
        assert_eq!(BitReader::new(&zeros).read_unary(), None);
        assert_eq!(BitReader::new(&[]).read_unary(), None);
    }
}
