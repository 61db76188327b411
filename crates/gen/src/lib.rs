//! Synthetic, fictional password corpora and breach dumps, deterministic from a seed.
//!
//! Passwords are made up (a short list of the most common real-world choices, then
//! syllable words with digits), so tests and benchmarks never need real leak data or a
//! download. Frequencies are heavy-tailed like real corpora: a plain list repeats popular
//! passwords (Zipf over ranks), a Pwned Passwords file gives each distinct hash a
//! Pareto-distributed count. Everything streams: a billion lines never sit in memory,
//! except `hibp-dir`, which must sort and so holds its hashes.
//! The random generator is spelled out here (SplitMix64) so outputs never change with a
//! dependency's version.

mod dump;
mod stealer;

use std::io::{self, Write};

pub use dump::{Account, DumpFormat, write_dump};
pub use stealer::{GenCapture, StealerTruth, write_stealer_tree, write_stealer_truth};

use leakwatch_store::{Key, Namespace};

/// SplitMix64: small, fast, and fixed forever.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

/// The most common passwords of public password studies: generic words, no personal data.
const COMMON: &[&str] = &[
    "123456",
    "password",
    "123456789",
    "12345678",
    "12345",
    "qwerty",
    "1234567",
    "111111",
    "123123",
    "abc123",
    "1234567890",
    "password1",
    "iloveyou",
    "000000",
    "qwerty123",
    "1q2w3e4r",
    "letmein",
    "admin",
    "welcome",
    "monkey",
    "dragon",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "master",
    "shadow",
    "superman",
    "trustno1",
    "passw0rd",
    "hello123",
    "starwars",
    "freedom",
    "whatever",
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ten", "sun", "mar", "vel", "dor", "fin", "bel", "cor", "tis", "nak",
    "pro", "lum", "zen", "gar", "hol", "wen", "sky", "red", "blu", "max", "kit", "rox", "jet",
    "pan",
];

/// The password of a given popularity rank (0 is the most popular). Distinct ranks give
/// distinct passwords: the letters never end in a digit and the rank follows them.
pub fn password(rank: u64) -> String {
    if let Some(p) = COMMON.get(rank as usize) {
        return (*p).to_owned();
    }
    let mut h = Rng::new(rank);
    let mut s = String::new();
    for _ in 0..2 + h.next_u64() % 3 {
        s.push_str(SYLLABLES[(h.next_u64() % SYLLABLES.len() as u64) as usize]);
    }
    if h.next_u64().is_multiple_of(3) {
        s[..1].make_ascii_uppercase();
    }
    s.push_str(&rank.to_string());
    match h.next_u64() % 8 {
        0 => s.push('!'),
        1 => s.push_str("#x"),
        _ => {}
    }
    s
}

/// Output formats of `leakwatch gen passwords`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenFormat {
    /// `SHA1:COUNT` lines, one per distinct password, in generation (hash-random) order.
    Sha1,
    /// `NTLM:COUNT` lines.
    Ntlm,
    /// One plaintext password per line, popular ones repeated (Zipf).
    Plain,
}

/// A Pareto-distributed occurrence count (about 55% are 1), the top ranks much larger.
fn count_for(rank: u64, rng: &mut Rng) -> u64 {
    if (rank as usize) < COMMON.len() {
        return 10_000_000 / (rank + 1);
    }
    let c = rng.unit().powf(-1.0 / 1.15).floor() as u64;
    c.clamp(1, 50_000_000)
}

/// Writes `count` lines of `format` to `out`.
pub fn write_passwords(
    out: &mut dyn Write,
    format: GenFormat,
    count: u64,
    seed: u64,
) -> io::Result<()> {
    let mut rng = Rng::new(seed);
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    let mut line = Vec::with_capacity(64);
    match format {
        GenFormat::Sha1 | GenFormat::Ntlm => {
            let ns = if format == GenFormat::Sha1 {
                Namespace::Sha1
            } else {
                Namespace::Ntlm
            };
            // Distinct passwords: rank r is offset by the seed so different seeds overlap
            // only in the common head, as real corpora do.
            let offset = if seed == 0 {
                0
            } else {
                (seed % 1000) * 1_000_000_000
            };
            for r in 0..count {
                let rank = if (r as usize) < COMMON.len() {
                    r
                } else {
                    r + offset
                };
                let pw = password(rank);
                let key = hash(ns, &pw);
                line.clear();
                key.write_hex_suffix(ns.hex_len(), &mut line);
                line.push(b':');
                line.extend_from_slice(count_for(r, &mut rng).to_string().as_bytes());
                line.push(b'\n');
                out.write_all(&line)?;
            }
        }
        GenFormat::Plain => {
            let vocab = (count / 4).max(100) as f64;
            // Zipf with s = 1 by inverse transform on the continuous approximation.
            for _ in 0..count {
                let u = rng.unit();
                let rank = ((vocab + 1.0).powf(u) - 1.0).floor() as u64;
                out.write_all(password(rank).as_bytes())?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()
}

/// Writes a Pwned Passwords downloader-style directory: `XXXXX.txt` per prefix that holds
/// a hash (at real-corpus sizes, every one of the 1,048,576), `SUFFIX:COUNT` lines sorted,
/// CRLF line ends. Holds the `count` hashes in memory to sort them.
pub fn write_range_dir(
    dir: &std::path::Path,
    format: GenFormat,
    count: u64,
    seed: u64,
) -> io::Result<()> {
    let ns = if format == GenFormat::Ntlm {
        Namespace::Ntlm
    } else {
        Namespace::Sha1
    };
    let mut text = Vec::new();
    write_passwords(
        &mut text,
        if ns == Namespace::Ntlm {
            GenFormat::Ntlm
        } else {
            GenFormat::Sha1
        },
        count,
        seed,
    )?;
    let mut entries: Vec<(Key, &[u8])> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            Some((Key::from_hex(&l[..colon])?, &l[colon + 1..]))
        })
        .collect();
    entries.sort_unstable_by_key(|e| e.0);
    std::fs::create_dir_all(dir)?;
    for range in entries.chunk_by(|a, b| a.0.prefix(ns) == b.0.prefix(ns)) {
        let body = range_file(ns, range.iter().copied());
        std::fs::write(dir.join(format!("{:05X}.txt", range[0].0.prefix(ns))), body)?;
    }
    Ok(())
}

/// The shape of a synthetic hash corpus made to match a real one's ranges rather than its
/// passwords: `lines_per_range` lines (give or take the binomial spread a real corpus shows,
/// about its square root) under each of `prefixes` evenly spaced 5-hex prefixes. The public
/// corpus has about 1,900 lines a range; a bench that cannot hold 2 billion hashes keeps that
/// per-range size over fewer prefixes. Evenly spaced, so that no two populated ranges share
/// a store group at the group sizes such a corpus gets (see the store's `GroupLayout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeShape {
    /// Populated prefixes, 1 to 1,048,576.
    pub prefixes: u32,
    /// Mean lines per populated range.
    pub lines_per_range: u32,
}

impl RangeShape {
    /// The `i`-th populated prefix.
    pub fn prefix(self, i: u32) -> u32 {
        ((i as u64) << 20).div_ceil(self.prefixes.max(1) as u64) as u32
    }
}

/// Calls `f(prefix, entries)` for each populated range of `shape` in prefix order, entries
/// sorted and distinct: random suffixes (no password behind them; the shape is the point)
/// with Pareto counts, deterministic from `seed`.
pub fn for_each_shaped_range(
    ns: Namespace,
    shape: RangeShape,
    seed: u64,
    mut f: impl FnMut(u32, &[(Key, u64)]) -> io::Result<()>,
) -> io::Result<()> {
    if shape.prefixes == 0 || shape.prefixes > 1 << 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "prefixes must be between 1 and 1048576",
        ));
    }
    let mut rng = Rng::new(seed);
    let suffix_bits = ns.key_bits() - leakwatch_store::PREFIX_BITS;
    let mean = shape.lines_per_range as f64;
    let mut entries: Vec<(Key, u64)> = Vec::with_capacity(shape.lines_per_range as usize * 2);
    for i in 0..shape.prefixes {
        let prefix = shape.prefix(i);
        // Box-Muller: a real range's size is binomial, close to normal around the mean.
        let z = (-2.0 * rng.unit().ln()).sqrt() * (std::f64::consts::TAU * rng.unit()).cos();
        let lines = (mean + z * mean.sqrt()).round().max(1.0) as usize;
        let base = Key::first_with_prefix(ns, prefix as u64, leakwatch_store::PREFIX_BITS);
        entries.clear();
        while entries.len() < lines {
            let random = Key::from_u128((rng.next_u64() as u128) << 64 | rng.next_u64() as u128)
                .shift_left(32)
                .or_low(rng.next_u64() & 0xFFFF_FFFF);
            let suffix = random
                .shift_left(160 - suffix_bits)
                .shift_right(160 - suffix_bits);
            let key = base
                .checked_add(suffix)
                .expect("a suffix stays inside its range");
            let count = count_for(COMMON.len() as u64, &mut rng);
            entries.push((key, count));
            if entries.len() == lines {
                entries.sort_unstable_by_key(|e| e.0);
                entries.dedup_by_key(|e| e.0);
            }
        }
        f(prefix, &entries)?;
    }
    Ok(())
}

/// Writes a corpus of `shape` as `HASH:COUNT` lines (see [`for_each_shaped_range`]).
pub fn write_shaped(
    out: &mut dyn Write,
    format: GenFormat,
    shape: RangeShape,
    seed: u64,
) -> io::Result<()> {
    let ns = hash_namespace(format)?;
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    let mut line = Vec::with_capacity(64);
    for_each_shaped_range(ns, shape, seed, |_, entries| {
        for &(key, count) in entries {
            line.clear();
            key.write_hex_suffix(ns.hex_len(), &mut line);
            line.push(b':');
            line.extend_from_slice(count.to_string().as_bytes());
            line.push(b'\n');
            out.write_all(&line)?;
        }
        Ok(())
    })?;
    out.flush()
}

/// Writes a corpus of `shape` as a downloader-style range directory (see
/// [`write_range_dir`]).
pub fn write_shaped_range_dir(
    dir: &std::path::Path,
    format: GenFormat,
    shape: RangeShape,
    seed: u64,
) -> io::Result<()> {
    let ns = hash_namespace(format)?;
    std::fs::create_dir_all(dir)?;
    for_each_shaped_range(ns, shape, seed, |prefix, entries| {
        let body = range_file(
            ns,
            entries
                .iter()
                .map(|&(k, c)| (k, c.to_string().into_bytes())),
        );
        std::fs::write(dir.join(format!("{prefix:05X}.txt")), body)
    })
}

/// A range file's bytes: `SUFFIX:COUNT` lines joined by CRLF, none after the last.
fn range_file<C: AsRef<[u8]>>(ns: Namespace, entries: impl Iterator<Item = (Key, C)>) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, count) in entries {
        if !body.is_empty() {
            body.extend_from_slice(b"\r\n");
        }
        key.write_hex_suffix(ns.suffix_hex_len(), &mut body);
        body.push(b':');
        body.extend_from_slice(count.as_ref());
    }
    body
}

fn hash_namespace(format: GenFormat) -> io::Result<Namespace> {
    match format {
        GenFormat::Sha1 => Ok(Namespace::Sha1),
        GenFormat::Ntlm => Ok(Namespace::Ntlm),
        GenFormat::Plain => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a range shape makes hashes: use format sha1 or ntlm",
        )),
    }
}

fn hash(ns: Namespace, pw: &str) -> Key {
    match ns {
        Namespace::Ntlm => Key::ntlm_of(pw),
        // hash_namespace gives only the password namespaces.
        Namespace::Sha1 | Namespace::Account | Namespace::Credential => Key::sha1_of(pw.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_distinct_and_heavy_tailed() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_passwords(&mut a, GenFormat::Sha1, 5000, 7).unwrap();
        write_passwords(&mut b, GenFormat::Sha1, 5000, 7).unwrap();
        assert_eq!(a, b);
        let lines: Vec<&[u8]> = a.split(|&c| c == b'\n').filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 5000);
        let distinct: std::collections::HashSet<&[u8]> = lines.iter().map(|l| &l[..40]).collect();
        assert_eq!(distinct.len(), 5000);
        assert!(
            lines[1].starts_with(b"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:"),
            "rank 1 is 'password'"
        );
        let ones = lines.iter().filter(|l| l.ends_with(b":1")).count();
        assert!((2000..4000).contains(&ones), "{ones} counts of 1");
    }

    #[test]
    fn plain_lists_repeat_popular_passwords() {
        let mut out = Vec::new();
        write_passwords(&mut out, GenFormat::Plain, 10_000, 1).unwrap();
        let text = String::from_utf8(out).unwrap();
        let top = text.lines().filter(|l| *l == "123456").count();
        assert!(top > 500, "the most popular password appears {top} times");
    }

    #[test]
    fn a_range_shape_fills_evenly_spaced_prefixes_with_about_its_lines() {
        let shape = RangeShape {
            prefixes: 64,
            lines_per_range: 1900,
        };
        for ns in [Namespace::Sha1, Namespace::Ntlm] {
            let mut sizes = Vec::new();
            for_each_shaped_range(ns, shape, 5, |prefix, entries| {
                assert_eq!(prefix, sizes.len() as u32 * 16384, "evenly spaced");
                assert!(
                    entries
                        .iter()
                        .all(|(k, c)| k.prefix(ns) == prefix && *c >= 1)
                );
                assert!(
                    entries.windows(2).all(|w| w[0].0 < w[1].0),
                    "sorted, distinct"
                );
                sizes.push(entries.len());
                Ok(())
            })
            .unwrap();
            assert_eq!(sizes.len(), 64);
            let mean = sizes.iter().sum::<usize>() as f64 / 64.0;
            assert!((1880.0..1920.0).contains(&mean), "{mean}");
            assert!(
                sizes.iter().all(|&n| (1700..2100).contains(&n)),
                "{sizes:?}"
            );
            assert!(
                sizes.iter().any(|&n| n != sizes[0]),
                "sizes spread as a real corpus's"
            );
        }
        // The file and the directory hold the same lines, deterministically.
        let small = RangeShape {
            prefixes: 3,
            lines_per_range: 10,
        };
        let mut text = Vec::new();
        write_shaped(&mut text, GenFormat::Sha1, small, 9).unwrap();
        let mut again = Vec::new();
        write_shaped(&mut again, GenFormat::Sha1, small, 9).unwrap();
        assert_eq!(text, again);
        let dir = std::env::temp_dir().join(format!("leakwatch-gen-shape-{}", std::process::id()));
        write_shaped_range_dir(&dir, GenFormat::Sha1, small, 9).unwrap();
        let mut from_dir = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        assert_eq!(names.len(), 3);
        for path in names {
            let prefix = path.file_stem().unwrap().to_str().unwrap().to_owned();
            for line in std::fs::read_to_string(&path).unwrap().split("\r\n") {
                from_dir.extend_from_slice(format!("{prefix}{line}\n").as_bytes());
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            String::from_utf8(from_dir).unwrap(),
            String::from_utf8(text).unwrap()
        );
    }

    #[test]
    fn passwords_are_distinct_across_ranks() {
        let set: std::collections::HashSet<String> = (0..100_000).map(password).collect();
        assert_eq!(set.len(), 100_000);
    }
}
