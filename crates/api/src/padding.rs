//! `Add-Padding: true`: a range answer topped up with fake lines of count 0, so that its size
//! tells an observer of the encrypted connection little about which range it is.
//!
//! An answer gets `max(real lines, 800 + U{0..=200})` lines, the same distribution as
//! Pwned Passwords' padding. A range that already holds that many is sent exactly as the
//! plain answer (the public corpus's ~1,900-line ranges always are), so padding costs
//! nothing there. A smaller range is merged, in order, with fake lines taken from a sorted
//! pool of random suffixes each server thread renders ahead of time and renews every
//! [`POOL_USES`] answers: no sort, no hex formatting and one random draw per request.

use std::cell::RefCell;

use leakwatch_store::{Key, Namespace, PREFIX_BITS};

/// Padding: at least this many lines...
pub(crate) const PAD_MIN: usize = 800;
/// ...plus up to this many more, chosen at random per response.
pub(crate) const PAD_JITTER: usize = 200;
/// Rendered fake lines a thread keeps per namespace: a request takes a random subset.
const POOL_LINES: usize = 4096;
/// Answers a pool serves before the thread renders a fresh one.
const POOL_USES: u32 = 256;

/// The lines a padded answer should hold, drawn per request (before looking at the range).
pub(crate) fn target() -> usize {
    PAD_MIN + fastrand::usize(0..=PAD_JITTER)
}

/// Sorted fake lines `SUFFIX:0` of one namespace, each `width` bytes, back to back.
struct Pool {
    ns: Namespace,
    bytes: Vec<u8>,
    width: usize,
    uses: u32,
}

impl Pool {
    fn fresh(ns: Namespace) -> Pool {
        let suffix_bits = ns.key_bits() - PREFIX_BITS;
        let mut suffixes: Vec<Key> = (0..POOL_LINES)
            .map(|_| {
                Key::from_u128(fastrand::u128(..))
                    .shift_left(32)
                    .or_low(fastrand::u32(..) as u64)
                    .shift_left(160 - suffix_bits)
                    .shift_right(160 - suffix_bits)
            })
            .collect();
        suffixes.sort_unstable();
        suffixes.dedup();
        let digits = ns.suffix_hex_len();
        let mut bytes = Vec::with_capacity(suffixes.len() * (digits + 2));
        for key in suffixes {
            key.write_hex_suffix(digits, &mut bytes);
            bytes.extend_from_slice(b":0");
        }
        Pool {
            ns,
            bytes,
            width: digits + 2,
            uses: 0,
        }
    }

    fn lines(&self) -> usize {
        self.bytes.len() / self.width
    }
}

thread_local! {
    static POOLS: RefCell<Vec<Pool>> = const { RefCell::new(Vec::new()) };
}

/// `real`, a rendered answer of `lines` lines of `ns`, padded to `target` lines (`real`
/// itself, copied, if it already holds that many).
pub(crate) fn pad(ns: Namespace, real: &[u8], lines: usize, target: usize) -> Vec<u8> {
    let wanted = target.saturating_sub(lines).min(POOL_LINES / 2);
    if wanted == 0 {
        return real.to_vec();
    }
    POOLS.with_borrow_mut(|pools| {
        let at = match pools.iter().position(|p| p.ns == ns) {
            Some(at) if pools[at].uses < POOL_USES => at,
            Some(at) => {
                pools[at] = Pool::fresh(ns);
                at
            }
            None => {
                pools.push(Pool::fresh(ns));
                pools.len() - 1
            }
        };
        let pool = &mut pools[at];
        pool.uses += 1;
        merge(ns, real, pool, wanted)
    })
}

/// `real`'s lines and `wanted` lines of `pool`, merged by suffix. The fake lines are evenly
/// spaced ranks of the pool from a random offset: the pool is itself uniformly random and
/// renewed every [`POOL_USES`] answers, and what padding hides from an observer of the
/// connection is the answer's size, which `wanted` sets. (A uniformly random subset by
/// selection sampling drew a random number for each of the pool's 4,096 lines a request.)
fn merge(ns: Namespace, real: &[u8], pool: &Pool, wanted: usize) -> Vec<u8> {
    let digits = ns.suffix_hex_len();
    let mut out = Vec::with_capacity(real.len() + wanted * (pool.width + 2));
    let mut rest = real;
    let push = |out: &mut Vec<u8>, line: &[u8]| {
        if !out.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line);
    };
    // Suffixes compare by their first 16 digits as one number (every suffix has at least
    // 27), then by the rest only on a tie: a `memcmp` call a comparison was a third of this.
    let head = |line: &[u8]| u128::from_be_bytes(line[..16].try_into().unwrap_or([0; 16]));
    let n = pool.lines();
    let wanted = wanted.min(n);
    if wanted == 0 {
        return real.to_vec();
    }
    // Fixed point, 16 fractional bits: rank j is (start + j * step) >> 16, below n.
    let step = (n << 16) / wanted;
    let start = fastrand::usize(0..step);
    for j in 0..wanted {
        let i = (start + j * step) >> 16;
        let fake = &pool.bytes[i * pool.width..(i + 1) * pool.width];
        let fake_head = head(fake);
        // Real lines before the fake one, one at a time (upper-case hex of equal width
        // sorts as its number).
        while rest.len() >= digits {
            let real_head = head(rest);
            if real_head > fake_head
                || (real_head == fake_head && rest[16..digits] >= fake[16..digits])
            {
                break;
            }
            let end = rest.iter().position(|&b| b == b'\r').unwrap_or(rest.len());
            push(&mut out, &rest[..end]);
            rest = rest.get(end + 2..).unwrap_or_default();
        }
        // A fake suffix equal to a real one (2^-100 or so) is dropped, not sent twice.
        if rest.len() >= digits && head(rest) == fake_head && rest[16..digits] == fake[16..digits] {
            continue;
        }
        push(&mut out, fake);
    }
    if !rest.is_empty() {
        push(&mut out, rest); // the real lines after the last fake, already CRLF-joined
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rendered answer of `n` real lines of `ns` with count 7, made with `format!`.
    fn real_answer(ns: Namespace, n: u128) -> Vec<u8> {
        let digits = ns.suffix_hex_len();
        (1..=n)
            .map(|i| {
                let suffix = format!("{:040X}", i * 0x0123_4567_89AB_CDEF_0123_4567);
                format!("{}:7", &suffix[40 - digits..])
            })
            .collect::<Vec<_>>()
            .join("\r\n")
            .into_bytes()
    }

    fn lines(body: &[u8]) -> Vec<&str> {
        std::str::from_utf8(body).unwrap().split("\r\n").collect()
    }

    #[test]
    fn padding_merges_fresh_count_zero_lines_in_order_and_keeps_every_real_line() {
        for ns in Namespace::PASSWORDS {
            for real_lines in [0u128, 1, 5, 799, 999] {
                let real = real_answer(ns, real_lines);
                for target in [800, 900, 1000] {
                    let out = pad(ns, &real, real_lines as usize, target);
                    let got = lines(&out);
                    assert_eq!(got.len(), target.max(real_lines as usize));
                    assert!(got.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
                    let digits = ns.suffix_hex_len();
                    for line in &got {
                        let (suffix, count) = line.split_once(':').unwrap();
                        assert_eq!(suffix.len(), digits);
                        assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()));
                        assert!(count == "0" || count == "7", "{line}");
                    }
                    let kept = got.iter().filter(|l| l.ends_with(":7")).count();
                    assert_eq!(kept, real_lines as usize, "every real line, once");
                }
            }
        }
        // Two answers of the same range differ in their fake lines.
        let real = real_answer(Namespace::Sha1, 3);
        assert_ne!(
            pad(Namespace::Sha1, &real, 3, 900),
            pad(Namespace::Sha1, &real, 3, 900)
        );
    }

    /// Suffixes that agree on their first 16 digits are ordered by the rest: the merge
    /// compares the heads as numbers and only then the tails.
    #[test]
    fn lines_sharing_their_first_sixteen_digits_merge_in_order() {
        let ns = Namespace::Sha1;
        let head = "0123456789ABCDEF";
        let suffix = |tail: u128| format!("{head}{tail:019X}");
        let real: Vec<String> = [3u128, 10, 0x5000, 0xFFFF_FFFF]
            .iter()
            .map(|&t| format!("{}:7", suffix(t)))
            .collect();
        let mut pool_lines: Vec<String> = (0..64u128).map(|i| suffix(i * 0x100_0000 + 4)).collect();
        pool_lines.sort();
        let pool = Pool {
            ns,
            bytes: pool_lines
                .iter()
                .map(|l| format!("{l}:0"))
                .collect::<String>()
                .into_bytes(),
            width: ns.suffix_hex_len() + 2,
            uses: 0,
        };
        let out = merge(ns, real.join("\r\n").as_bytes(), &pool, 32);
        let got = lines(&out);
        assert_eq!(got.len(), 36);
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
        assert_eq!(got.iter().filter(|l| l.ends_with(":7")).count(), 4);
    }

    #[test]
    fn padded_sizes_are_uniform_from_800_to_1000_lines_as_before() {
        // What the handler does: draw the target, pad a 5-line range to it.
        let real = real_answer(Namespace::Sha1, 5);
        let mut quarters = [0usize; 4];
        let mut total = 0usize;
        let rounds = 4000;
        for _ in 0..rounds {
            let n = lines(&pad(Namespace::Sha1, &real, 5, target())).len();
            assert!((800..=1000).contains(&n), "{n}");
            quarters[((n - 800) / 50).min(3)] += 1;
            total += n;
        }
        let mean = total as f64 / rounds as f64;
        assert!((895.0..905.0).contains(&mean), "{mean}");
        for q in quarters {
            assert!((800..1200).contains(&q), "{quarters:?}");
        }
        // A range with more lines than any target is sent as it is.
        let big = real_answer(Namespace::Sha1, 1200);
        assert_eq!(pad(Namespace::Sha1, &big, 1200, target()), big);
    }
}
