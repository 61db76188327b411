//! Bit-granular writer and reader used by the segment codec.
//!
//! Bits are packed least-significant first into bytes, so a reader can load any 64-bit
//! little-endian window and shift. The reader never panics or reads out of bounds on short
//! or hostile input: past the end it reads on and says so ([`WindowReader::overrun`]), which
//! the decoder asks once a key and turns into a corruption error. This module knows nothing
//! about keys or files.

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

/// Reads bits written by [`BitWriter`], checking every read: a 64-bit buffer refilled eight
/// bytes at a time. The segment decoder used it until [`WindowReader`]; it stays as the
/// tests' reference for that reader.
#[cfg(test)]
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

#[cfg(test)]
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

/// Reads bits by position from a window of eight bytes loaded at the position: no buffer to
/// refill and no check a read, so consecutive reads do not wait on each other's bookkeeping
/// (a range's decode went from a chain of buffer updates to one add a read).
///
/// `data` is the coded bytes followed by whatever the file holds after them; the first
/// `len` bytes are the code. Reads past them return the following bytes (or, at the end of
/// `data`, the last eight again: loads are clamped, so nothing ever reads out of bounds),
/// and the caller must ask [`WindowReader::overrun`] before trusting what it decoded.
#[derive(Debug, Clone)]
pub struct WindowReader<'a> {
    data: &'a [u8],
    /// The next bit to read.
    pos: usize,
    /// Bits of code.
    end: usize,
    /// The last byte a window may start at.
    last: usize,
}

impl<'a> WindowReader<'a> {
    /// Reads the first `len` bytes of `data` as code; `None` if `data` is shorter than
    /// `len` or than one window.
    pub fn new(data: &'a [u8], len: usize) -> Option<Self> {
        (data.len() >= len && data.len() >= 8).then(|| WindowReader {
            data,
            pos: 0,
            end: len * 8,
            last: data.len() - 8,
        })
    }

    /// At least 57 bits from `pos` on, least significant first.
    #[inline(always)]
    fn window(&self) -> u64 {
        let at = (self.pos >> 3).min(self.last);
        let bytes: [u8; 8] = self.data[at..at + 8].try_into().unwrap_or([0; 8]);
        u64::from_le_bytes(bytes) >> (self.pos & 7)
    }

    /// The next 56 bits, least significant first, without consuming them (whatever follows
    /// the code, past its end): for decoding a short code from one load.
    #[inline(always)]
    pub fn peek(&self) -> u64 {
        self.window() & ((1u64 << CHUNK) - 1)
    }

    /// Consumes `n` bits; with [`Self::peek`], `n <= 56`.
    #[inline(always)]
    pub fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// Reads `n <= 56` bits (whatever follows the code, past its end: see [`Self::overrun`]).
    #[inline(always)]
    pub fn read(&mut self, n: u32) -> u64 {
        debug_assert!(n <= CHUNK);
        let v = self.window() & ((1u64 << n) - 1);
        self.pos += n as usize;
        v
    }

    /// Reads a unary number written by [`BitWriter::write_unary`]; `None` for a run of
    /// zeros that goes past the end.
    #[inline(always)]
    pub fn read_unary(&mut self) -> Option<u64> {
        let mut q = 0u64;
        loop {
            let w = self.window() & ((1u64 << CHUNK) - 1);
            if w != 0 {
                let tz = w.trailing_zeros();
                self.pos += tz as usize + 1;
                return Some(q + tz as u64);
            }
            // 56 zeros: consume them and look further, but never past the end (a run of
            // zeros in damaged data ends here instead of looping over the file).
            self.pos += CHUNK as usize;
            q += CHUNK as u64;
            if self.pos > self.end {
                return None;
            }
        }
    }

    /// Whether reads went past the end of the code: nothing read since the last time this
    /// said `false` may be used.
    #[inline(always)]
    pub fn overrun(&self) -> bool {
        self.pos > self.end
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
    fn the_window_reader_reads_what_the_checked_reader_reads() {
        let mut w = BitWriter::new();
        for i in 0..500u64 {
            w.write((i * 0x9E37_79B9) & ((1 << (i % 57)) - 1), (i % 57) as u32);
            w.write_unary(i % 130);
        }
        let code = w.take_bytes();
        let mut file = code.clone();
        file.extend_from_slice(&[0xA5; 3]); // what follows the code in a file
        let mut checked = BitReader::new(&code);
        let mut window = WindowReader::new(&file, code.len()).unwrap();
        for i in 0..500u64 {
            let n = (i % 57) as u32;
            assert_eq!(Some(window.read(n)), checked.read(n), "item {i}");
            assert_eq!(window.read_unary(), checked.read_unary());
            assert!(!window.overrun(), "item {i}");
        }
        // Past the end: reads go on without panicking, and the reader says so.
        for _ in 0..20 {
            window.read(56);
        }
        assert!(window.overrun());
        let zeros = [0u8; 40];
        let mut r = WindowReader::new(&zeros, 20).unwrap();
        assert_eq!(r.read_unary(), None);
        assert!(WindowReader::new(&[0u8; 7], 7).is_none());
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
