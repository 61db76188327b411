//! Alias blocks (alias file version 2): the aliases of a run of domains, compressed and
//! sealed as one, so an alias costs a few compressed bytes instead of a 16-byte synthetic IV,
//! a tag and a length of its own.
//!
//! ```text
//! plain  = varint groups ‖ groups, in domain-tag order, each:
//!          varint len ‖ domain ‖ varint n ‖ n aliases in byte order, each front-coded on the
//!          one before: varint shared ‖ varint len ‖ the rest
//! sealed = AES-SIV(key, AD = ["alias block", first tag (u64 BE), block number (u64 BE)],
//!                  zstd(plain))
//! ```
//!
//! Sealing is deterministic, so the same aliases give the same block (re-imports and
//! compactions are byte-identical); binding the first tag and the number keeps a block from
//! being moved within or between files unnoticed. The domain is written in every block that
//! holds its aliases, so a block opens on its own: domain search reads only its blocks, and
//! a key rotation gets each domain back without the dumps. No tag is stored inside a block:
//! it follows from the domain.

use crate::seal::{OperatorKey, SealError, Sealer};

/// Aliases gathered (before compression) before a block is sealed.
const BLOCK_TARGET: usize = 64 << 10;
/// Largest plaintext a block may open to: the target, the group count, and one more record
/// (a key of at most 255 bytes and a value of at most [`MAX_VALUE_LEN`], with their
/// varints). The builder counts an upper bound of what it writes, so a block never exceeds
/// it.
const MAX_PLAIN: usize = BLOCK_TARGET + 4096;
/// zstd level. Measured over this block layout on a generated 1M-account dump: level 3 gave
/// 7.23 B/alias, 9 6.83, 19 6.30, at 1×, 4.6× and 49× level 3's time; 19 would double a
/// dump import's time for 8%.
const ZSTD_LEVEL: i32 = 9;

/// What a file of sealed blocks holds: the same layout (groups of a key and its values,
/// front-coded, compressed, sealed as one), each kind under its own label in the seal's
/// associated data, so a block of one kind never opens as another (issue #22 adds the
/// stealer-log kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockKind {
    /// An e-mail domain and its aliases (alias file version 2).
    Aliases,
    /// A normalised e-mail address and the websites it was captured for.
    StealerEmailWebsites,
    /// A website (registrable domain) and the addresses captured for it.
    StealerWebsiteAddresses,
    /// An e-mail domain and `alias NUL website` for each of its aliases' captures.
    StealerDomainAliases,
}

impl BlockKind {
    /// The label the seal binds.
    fn label(self) -> &'static [u8] {
        match self {
            BlockKind::Aliases => b"alias block",
            BlockKind::StealerEmailWebsites => b"stealer email-websites block",
            BlockKind::StealerWebsiteAddresses => b"stealer website-addresses block",
            BlockKind::StealerDomainAliases => b"stealer domain-aliases block",
        }
    }
}

/// Longest value a block takes (an alias, a website, an address, or `alias NUL website`);
/// [`MAX_PLAIN`] leaves room for one group of a key and one value past the target.
pub const MAX_VALUE_LEN: usize = 255 + 1 + 253;

/// One domain's aliases in a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasGroup {
    /// The (punycode) domain.
    pub domain: String,
    /// Its aliases in this block, in byte order, distinct.
    pub aliases: Vec<String>,
}

/// A finished block, for `AliasWriter::push_block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBlock {
    /// The tag of its first domain.
    pub first_tag: u64,
    /// Aliases it holds.
    pub records: u32,
    /// The sealed bytes.
    pub bytes: Vec<u8>,
}

/// Gathers aliases in domain-tag order into sealed blocks of about 64 KiB of aliases (or,
/// for another [`BlockKind`], values by their key's tag).
pub struct BlockBuilder {
    kind: BlockKind,
    sealer: Sealer,
    groups: Vec<(u64, AliasGroup)>,
    plain: usize,
    blocks: u64,
}

impl std::fmt::Debug for BlockBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockBuilder")
            .field("blocks", &self.blocks)
            .finish_non_exhaustive()
    }
}

impl BlockBuilder {
    /// A builder of alias blocks sealing under `key`, numbering blocks from 0.
    pub fn new(key: &OperatorKey) -> BlockBuilder {
        BlockBuilder::of_kind(key, BlockKind::Aliases)
    }

    /// A builder of blocks of `kind` sealing under `key`, numbering blocks from 0.
    pub fn of_kind(key: &OperatorKey, kind: BlockKind) -> BlockBuilder {
        BlockBuilder {
            kind,
            sealer: key.sealer(),
            groups: Vec::new(),
            plain: 0,
            blocks: 0,
        }
    }

    /// Adds `alias` of `domain`, whose tag is `tag`; calls come in increasing (or equal)
    /// tag order. Returns the block this filled, if it did.
    pub fn push(&mut self, tag: u64, domain: &str, alias: &str) -> Option<SealedBlock> {
        assert!(
            domain.len() <= 255 && alias.len() <= MAX_VALUE_LEN,
            "a block's key or value longer than its bound"
        );
        match self.groups.last_mut() {
            Some((t, g)) if *t == tag && g.domain == domain => g.aliases.push(alias.to_owned()),
            _ => {
                // An upper bound of what the group adds: its domain's length and count as
                // varints (a count below 2^32: at most 5 bytes).
                self.plain += varint_len(domain.len()) + domain.len() + 5;
                self.groups.push((
                    tag,
                    AliasGroup {
                        domain: domain.to_owned(),
                        aliases: vec![alias.to_owned()],
                    },
                ));
            }
        }
        // At most: both varints as long as the alias's length's, and the whole alias.
        self.plain += 2 * varint_len(alias.len()) + alias.len();
        (self.plain >= BLOCK_TARGET).then(|| self.seal()).flatten()
    }

    /// Seals what is left, if anything.
    pub fn finish(mut self) -> Option<SealedBlock> {
        self.seal()
    }

    fn seal(&mut self) -> Option<SealedBlock> {
        let first_tag = self.groups.first()?.0;
        let mut plain = Vec::with_capacity(self.plain + 16);
        varint(&mut plain, self.groups.len() as u64);
        let mut records = 0u32;
        for (_, g) in &mut self.groups {
            g.aliases.sort_unstable();
            g.aliases.dedup();
            records += g.aliases.len() as u32;
            varint(&mut plain, g.domain.len() as u64);
            plain.extend_from_slice(g.domain.as_bytes());
            varint(&mut plain, g.aliases.len() as u64);
            let mut previous: &[u8] = b"";
            for alias in &g.aliases {
                let a = alias.as_bytes();
                let shared = a.iter().zip(previous).take_while(|(x, y)| x == y).count();
                varint(&mut plain, shared as u64);
                varint(&mut plain, (a.len() - shared) as u64);
                plain.extend_from_slice(&a[shared..]);
                previous = a;
            }
        }
        // The count of what a block may hold is an upper bound (+ the group count's varint).
        debug_assert!(
            plain.len() <= self.plain + 5,
            "{} > {}",
            plain.len(),
            self.plain
        );
        let compressed = zstd::bulk::compress(&plain, ZSTD_LEVEL)
            .expect("zstd compresses any input held in memory");
        let bytes = self
            .sealer
            .siv
            .encrypt(
                ad(self.kind, first_tag, self.blocks).as_slice(),
                &compressed,
            )
            .expect("AES-SIV encryption of a block cannot fail");
        self.blocks += 1;
        self.groups.clear();
        self.plain = 0;
        Some(SealedBlock {
            first_tag,
            records,
            bytes,
        })
    }
}

fn ad(kind: BlockKind, first_tag: u64, index: u64) -> [Vec<u8>; 3] {
    [
        kind.label().to_vec(),
        first_tag.to_be_bytes().to_vec(),
        index.to_be_bytes().to_vec(),
    ]
}

impl Sealer {
    /// Opens block number `index` of an alias file, whose first tag is `first_tag`: its
    /// domains and their aliases. Damage, another key, or a block moved from elsewhere
    /// gives [`SealError::Unseal`].
    pub fn open_alias_block(
        &mut self,
        index: u64,
        first_tag: u64,
        sealed: &[u8],
    ) -> Result<Vec<AliasGroup>, SealError> {
        self.open_block(BlockKind::Aliases, index, first_tag, sealed)
    }

    /// Opens block number `index` of a file of `kind` blocks (first tag `first_tag`): its
    /// groups, each a key (`domain`) and its values (`aliases`). A block of another kind,
    /// damage, another key, or a block moved from elsewhere gives [`SealError::Unseal`].
    pub fn open_block(
        &mut self,
        kind: BlockKind,
        index: u64,
        first_tag: u64,
        sealed: &[u8],
    ) -> Result<Vec<AliasGroup>, SealError> {
        let compressed = self
            .siv
            .decrypt(ad(kind, first_tag, index).as_slice(), sealed)
            .map_err(|_| SealError::Unseal)?;
        let plain =
            zstd::bulk::decompress(&compressed, MAX_PLAIN).map_err(|_| SealError::Unseal)?;
        decode(&plain).ok_or(SealError::Unseal)
    }
}

fn decode(plain: &[u8]) -> Option<Vec<AliasGroup>> {
    let mut r = Reader(plain);
    let n = r.varint()?;
    let mut groups = Vec::new();
    for _ in 0..n {
        let len = r.varint()?;
        let domain = String::from_utf8(r.take(len)?.to_vec()).ok()?;
        let count = r.varint()?;
        let mut aliases: Vec<String> = Vec::new();
        let mut previous = Vec::new();
        for _ in 0..count {
            let shared = usize::try_from(r.varint()?).ok()?;
            let len = r.varint()?;
            let mut alias = previous.get(..shared)?.to_vec();
            alias.extend_from_slice(r.take(len)?);
            previous.clone_from(&alias);
            aliases.push(String::from_utf8(alias).ok()?);
        }
        groups.push(AliasGroup { domain, aliases });
    }
    r.0.is_empty().then_some(groups)
}

/// Bytes of `v` as a varint.
fn varint_len(v: usize) -> usize {
    (usize::BITS - (v | 1).leading_zeros()).div_ceil(7) as usize
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn take(&mut self, len: u64) -> Option<&'a [u8]> {
        let len = usize::try_from(len).ok()?;
        if len > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    /// Pushes `(domain, alias)` pairs in tag order; returns the blocks made.
    fn build(key: &OperatorKey, pairs: &[(&str, String)]) -> Vec<SealedBlock> {
        let mut tagged: Vec<_> = pairs
            .iter()
            .map(|(d, a)| (key.domain_tag(d), *d, a.clone()))
            .collect();
        tagged.sort();
        tagged.dedup(); // as the import's merge does
        let mut b = BlockBuilder::new(key);
        let mut blocks: Vec<_> = tagged
            .iter()
            .filter_map(|(t, d, a)| b.push(*t, d, a))
            .collect();
        blocks.extend(b.finish());
        blocks
    }

    #[test]
    fn blocks_open_to_every_alias_of_every_domain_and_seal_deterministically() {
        let key = OperatorKey::from_hex(KEY).unwrap();
        let mut pairs = Vec::new();
        for i in 0..20_000 {
            let domain = ["big.example", "other.example", "x.test"][i % 3];
            pairs.push((domain, format!("user.{}", i * 7919 % 20_011)));
            pairs.push(("big.example", format!("user.{}", i % 500))); // repeats
        }
        let blocks = build(&key, &pairs);
        assert!(blocks.len() > 2, "test needs several blocks");
        assert_eq!(blocks, build(&key, &pairs), "deterministic");
        let mut got = std::collections::BTreeSet::new();
        let mut sealer = key.sealer();
        let mut records = 0;
        for (i, b) in blocks.iter().enumerate() {
            let groups = sealer
                .open_alias_block(i as u64, b.first_tag, &b.bytes)
                .unwrap();
            assert_eq!(key.domain_tag(&groups[0].domain), b.first_tag);
            for g in groups {
                records += g.aliases.len() as u32;
                assert!(g.aliases.windows(2).all(|w| w[0] < w[1]));
                got.extend(g.aliases.into_iter().map(|a| (g.domain.clone(), a)));
            }
            assert!(!b.bytes.windows(5).any(|w| w == b"user."), "sealed");
        }
        let want: std::collections::BTreeSet<_> = pairs
            .iter()
            .map(|(d, a)| (d.to_string(), a.clone()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(records as usize, want.len());
    }

    #[test]
    fn a_block_of_one_kind_never_opens_as_another() {
        let key = OperatorKey::from_hex(KEY).unwrap();
        let kinds = [
            BlockKind::Aliases,
            BlockKind::StealerEmailWebsites,
            BlockKind::StealerWebsiteAddresses,
            BlockKind::StealerDomainAliases,
        ];
        let email = "ann@example.test";
        let tag = key.domain_tag(email);
        // The longest value a kind holds: `alias NUL website`.
        let value = format!("{}\0{}.example", "a".repeat(255), "w".repeat(245));
        assert_eq!(value.len(), MAX_VALUE_LEN);
        for kind in kinds {
            let mut b = BlockBuilder::of_kind(&key, kind);
            assert!(b.push(tag, email, "streamflix.example").is_none());
            assert!(b.push(tag, email, &value).is_none());
            let block = b.finish().unwrap();
            let mut sealer = key.sealer();
            for other in kinds {
                let opened = sealer.open_block(other, 0, block.first_tag, &block.bytes);
                if other == kind {
                    let groups = opened.unwrap();
                    assert_eq!(groups.len(), 1);
                    assert_eq!(groups[0].domain, email);
                    assert_eq!(
                        groups[0].aliases,
                        [value.clone(), "streamflix.example".into()]
                    );
                } else {
                    assert!(opened.is_err(), "{kind:?} opened as {other:?}");
                }
            }
        }
    }

    #[test]
    fn the_longest_aliases_and_domains_still_fit_a_block_that_opens() {
        assert_eq!(
            [0, 1, 127, 128, 16_383, 16_384].map(varint_len),
            [1, 1, 1, 2, 2, 3]
        );
        let key = OperatorKey::from_hex(KEY).unwrap();
        let domain = format!("{}.example", "d".repeat(200));
        // Aliases that share nothing, each as long as a sealed record could be.
        let pairs: Vec<_> = (0..2_000u32)
            .map(|i| {
                (
                    domain.as_str(),
                    format!("{:010}{}", i.reverse_bits(), "a".repeat(245)),
                )
            })
            .collect();
        let blocks = build(&key, &pairs);
        assert!(blocks.len() > 3);
        let mut sealer = key.sealer();
        let mut n = 0;
        for (i, b) in blocks.iter().enumerate() {
            for g in sealer
                .open_alias_block(i as u64, b.first_tag, &b.bytes)
                .unwrap()
            {
                n += g.aliases.len();
            }
        }
        assert_eq!(n, pairs.len());
    }

    #[test]
    fn a_block_opens_only_under_its_key_number_and_first_tag_and_undamaged() {
        let key = OperatorKey::from_hex(KEY).unwrap();
        let pairs: Vec<_> = (0..50).map(|i| ("a.example", format!("n{i}"))).collect();
        let blocks = build(&key, &pairs);
        let b = &blocks[0];
        let mut sealer = key.sealer();
        assert!(sealer.open_alias_block(0, b.first_tag, &b.bytes).is_ok());
        assert_eq!(
            sealer.open_alias_block(1, b.first_tag, &b.bytes),
            Err(SealError::Unseal)
        );
        assert_eq!(
            sealer.open_alias_block(0, b.first_tag ^ 1, &b.bytes),
            Err(SealError::Unseal)
        );
        let other = OperatorKey::from_hex(&OperatorKey::generate_hex()).unwrap();
        assert_eq!(
            other.sealer().open_alias_block(0, b.first_tag, &b.bytes),
            Err(SealError::Unseal)
        );
        for i in 0..b.bytes.len() {
            let mut bad = b.bytes.clone();
            bad[i] ^= 0x10;
            assert_eq!(
                sealer.open_alias_block(0, b.first_tag, &bad),
                Err(SealError::Unseal),
                "flip at {i}"
            );
        }
    }
}
