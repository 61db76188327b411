//! The manifest: the one mutable file, naming every published segment and imported source.
//!
//! A store's state *is* its manifest: a segment not named here does not exist for readers
//! and is deleted by the next writer. The manifest is JSON (small, human-inspectable)
//! followed by a fixed, checksummed footer (docs/FORMAT.md). It is replaced only through
//! [`crate::Directory::atomic_write`], so a crash leaves the old or the new one, whole.

use serde::{Deserialize, Serialize};

use crate::{
    error::{Result, StoreError},
    footer::{self, Fields},
    key::Namespace,
};

/// File name of the manifest in the store directory.
pub const MANIFEST_FILE: &str = "manifest";
/// Version of the manifest layout this build writes and reads.
pub const MANIFEST_VERSION: u32 = 5;

/// The oldest version, written when nothing needs a newer one: a store that never forgot an
/// account nor mirrored a source keeps writing exactly the manifest version 1 readers know.
const MANIFEST_VERSION_1: u32 = 1;
/// Version 2 added `forgotten`; version 3 added `mirrors`; version 4 sealed files of
/// another kind than aliases (`AliasMeta::kind`), which a version-3 reader would take for
/// alias files; version 5 segments of the credential namespace, each naming its OPRF key,
/// which a version-4 reader could not parse.
const MANIFEST_VERSION_2: u32 = 2;
const MANIFEST_VERSION_3: u32 = 3;
const MANIFEST_VERSION_4: u32 = 4;
const MANIFEST_MAGIC: &[u8; 8] = b"LWMANIF\x01";

/// A published segment, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentMeta {
    /// File name in the store directory.
    pub file: String,
    /// Hash namespace of every key in it.
    pub namespace: Namespace,
    /// Distinct hashes.
    pub hashes: u64,
    /// Sum of counts.
    pub total_count: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// When it was written (seconds since the Unix epoch).
    pub created_unix: u64,
    /// For an account segment, its postings file (breach-set id → breach ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postings: Option<String>,
    /// For a credential segment, the fingerprint of the OPRF key its entries were built
    /// under (never the key): every live credential segment names the same one. Version 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oprf_key: Option<String>,
}

/// What a file of sealed blocks (an alias file's layout) holds. The store never opens a
/// block; the kind says which readers a file is for, and the caller's seal binds it too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SealedKind {
    /// E-mail domains and their aliases (domain search).
    #[default]
    Aliases,
    /// Stealer logs: an e-mail address and the websites it was captured for.
    StealerEmail,
    /// Stealer logs: a website and the addresses captured for it.
    StealerWebsite,
    /// Stealer logs: an e-mail domain and `alias NUL website` of its aliases' captures.
    StealerDomain,
}

impl SealedKind {
    /// Every kind, in the order files of each are listed.
    pub const ALL: [SealedKind; 4] = [
        SealedKind::Aliases,
        SealedKind::StealerEmail,
        SealedKind::StealerWebsite,
        SealedKind::StealerDomain,
    ];

    /// Whether this is the alias kind (the only one version-3 manifests know).
    pub fn is_aliases(&self) -> bool {
        *self == SealedKind::Aliases
    }

    /// The stem of the kind's file names.
    pub fn file_stem(self) -> &'static str {
        match self {
            SealedKind::Aliases => "aliases",
            SealedKind::StealerEmail => "stealer-email",
            SealedKind::StealerWebsite => "stealer-website",
            SealedKind::StealerDomain => "stealer-domain",
        }
    }
}

/// A published alias file (sealed e-mail local parts by domain tag), or another file of
/// the same layout holding another [`SealedKind`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasMeta {
    /// File name in the store directory.
    pub file: String,
    /// What its blocks hold (absent: aliases, as every file before version 4).
    #[serde(default, skip_serializing_if = "SealedKind::is_aliases")]
    pub kind: SealedKind,
    /// Records in it.
    pub records: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// When it was written.
    pub created_unix: u64,
    /// Identifies the operator key that sealed it (never the key itself), so that a
    /// rotation knows which files still need re-sealing.
    pub key_id: String,
}

/// A namespace kept in sync with an HIBP-compatible range API (`leakwatch sync`): which
/// segment holds exactly the source's ranges, and the ETags that source gave for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorMeta {
    /// The password namespace mirrored.
    pub namespace: Namespace,
    /// The range API it mirrors (its base URL or URL template, without credentials).
    pub source: String,
    /// The segment holding the source's ranges as last synced; also listed in `segments`,
    /// and never merged by compaction (imports add their own segments beside it).
    pub segment: String,
    /// The ETag table (one tag per range) describing `segment`'s content.
    pub etags: String,
    /// When the last sync that changed something published.
    pub synced_unix: u64,
}

/// An imported source, remembered so that importing it again changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// The breach its accounts were linked to, for a dump import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach: Option<String>,
    /// `xxh3-128:` and the hex digest of the source's decompressed bytes.
    pub fingerprint: String,
    /// What the operator called it (a file name, or `-` for standard input).
    pub label: String,
    /// When it was imported.
    pub imported_unix: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines accepted.
    pub accepted: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// For a credential build (`leakwatch credentials build`), the fingerprint of the OPRF
    /// key its entries were built under: such a record says the source's credential-check
    /// entries are in the store, not that it was imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_key: Option<String>,
}

/// The published state of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version of the JSON body.
    pub format_version: u32,
    /// Increases by one with every publication; 0 means nothing was ever published.
    pub generation: u64,
    /// When this generation was published.
    pub published_unix: u64,
    /// Every live segment.
    pub segments: Vec<SegmentMeta>,
    /// Every source imported into the store, oldest first.
    pub sources: Vec<SourceRecord>,
    /// Names of the breaches account segments refer to; a breach's store-local id is its
    /// index here. Only ever appended to, so ids stay valid for every segment. An empty
    /// name is an id a shared catalogue allocated to an import not published yet (another
    /// writer published an id above it first); that import fills it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaches: Vec<String>,
    /// Every live alias file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<AliasMeta>,
    /// Account keys (40 hex digits, sorted) erased by `leakwatch forget`: never answered,
    /// dropped by compaction, and kept here so a later import cannot bring them back.
    /// Version 2; a manifest without any is written as version 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forgotten: Vec<String>,
    /// Mirrored namespaces (at most one entry each). Version 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<MirrorMeta>,
}

impl Manifest {
    /// The segments of one namespace, oldest first.
    pub fn segments_of(&self, ns: Namespace) -> impl Iterator<Item = &SegmentMeta> {
        self.segments.iter().filter(move |s| s.namespace == ns)
    }

    /// The fingerprint of the OPRF key the live credential segments were built under (one
    /// for all of them: a snapshot refuses a manifest where they differ), `None` without any.
    pub fn credential_key(&self) -> Option<&str> {
        self.segments_of(Namespace::Credential)
            .find_map(|s| s.oprf_key.as_deref())
    }

    /// The store-local id of a breach, if any account was ever imported into it.
    pub fn breach_id(&self, name: &str) -> Option<u32> {
        self.breaches
            .iter()
            .position(|b| b == name && !name.is_empty())
            .map(|i| i as u32)
    }

    /// The mirror entry of a namespace, if it is synced from a source.
    pub fn mirror(&self, ns: Namespace) -> Option<&MirrorMeta> {
        self.mirrors.iter().find(|m| m.namespace == ns)
    }

    /// Every file the manifest keeps alive (segments, postings, alias files, ETag tables).
    pub fn live_files(&self) -> impl Iterator<Item = &str> {
        self.segments
            .iter()
            .flat_map(|s| std::iter::once(s.file.as_str()).chain(s.postings.as_deref()))
            .chain(self.aliases.iter().map(|a| a.file.as_str()))
            .chain(self.mirrors.iter().map(|m| m.etags.as_str()))
    }

    /// Serialises the manifest with its checksummed footer.
    pub fn encode(&self) -> Vec<u8> {
        // The oldest version that can say everything in it, so older builds keep reading
        // stores that use none of the newer fields.
        let version = if self
            .segments
            .iter()
            .any(|s| s.namespace == Namespace::Credential)
        {
            MANIFEST_VERSION
        } else if self.aliases.iter().any(|a| !a.kind.is_aliases()) {
            MANIFEST_VERSION_4
        } else if !self.mirrors.is_empty() {
            MANIFEST_VERSION_3
        } else if !self.forgotten.is_empty() {
            MANIFEST_VERSION_2
        } else {
            MANIFEST_VERSION_1
        };
        let body = Manifest {
            format_version: version,
            ..self.clone()
        };
        let mut out = serde_json::to_vec_pretty(&body).unwrap_or_default();
        footer::append_trailer(&mut out, version, Fields::default(), MANIFEST_MAGIC);
        out
    }

    /// Parses and checks a manifest written by [`Manifest::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Manifest> {
        let footer::Trailer { version, body, .. } = footer::check_trailer(
            MANIFEST_FILE,
            "manifest",
            bytes,
            MANIFEST_MAGIC,
            MANIFEST_VERSION_1..=MANIFEST_VERSION,
            0,
        )?;
        let m: Manifest = serde_json::from_slice(body).map_err(|e| {
            StoreError::corrupt(
                MANIFEST_FILE,
                e.column() as u64,
                format!("manifest JSON: {e}"),
            )
        })?;
        if m.format_version != version {
            return Err(StoreError::UnsupportedVersion {
                file: MANIFEST_FILE.into(),
                found: m.format_version,
                supported: MANIFEST_VERSION,
            });
        }
        Ok(m)
    }
}
