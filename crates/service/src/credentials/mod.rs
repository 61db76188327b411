//! The private credential check (issue #24): building its buckets from dumps and stealer
//! logs under the OPRF key, rotating that key, and answering a check.
//!
//! The OPRF key lives in a file of its own, like the operator key (never an argument, never
//! in the environment): [`OprfKeyFile`]. A rotation writes the new key beside it
//! (`FILE.next`), rebuilds every bucket under it, publishes them in one manifest swap that
//! retires the old ones, and only then renames the new key over the old; until the swap the
//! old buckets and the old key answer, and a server finds whichever key the store's
//! buckets name ([`CredentialKeys`]), so a crash at any step leaves checks answered.
//!
//! A check ([`check`], scope `credentials`) learns only a bucket: the first 20 (or, for a
//! split bucket, more) bits of the SHA-256 of a normalised login, and an OPRF-blinded element
//! that reveals nothing of the login or the password. The answer is the server's evaluation
//! of that element and the bucket's entry tags; the client alone can tell whether its pair
//! is among them.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use leakwatch_catalog::keys::Scope;
pub use leakwatch_credentials::{
    BUCKET_BITS, ELEMENT_LEN, LOGIN_BITS, MAX_ANSWER_ENTRIES, Match, OprfKey, TAG_BYTES,
};
use leakwatch_credentials::{answer_bits, bucket_tags, tags_to_bytes};
pub use leakwatch_ingest::{BuiltSource, CredentialBuild, CredentialSource, OtherOprfKey};
use leakwatch_ingest::{IngestOptions, build_credentials};
use leakwatch_store::{Snapshot, StoreWriter};

use crate::{
    DataDir, Principal, ServiceError,
    key_files::{KeyFileError, read_private, write_private},
};

/// Why a credential action could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// No credential buckets were built into this store.
    #[error("no credential buckets are built in this store")]
    NotBuilt,
    /// The key file holds neither the key the buckets were built under nor its successor.
    #[error(
        "the OPRF key file holds key {found}, but the store's credential buckets were built under {wanted}"
    )]
    KeyNotHeld {
        /// The fingerprint the buckets name.
        wanted: String,
        /// The fingerprint of the key in the file.
        found: String,
    },
    /// The key file could not be read or written.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The key file does not hold a key.
    #[error("the OPRF key file {0}: not 64 hex digits of a valid key")]
    NotAKey(String),
    /// The bucket's number of bits is outside 20..=32, or the bucket does not fit in them.
    #[error("bucketBits must be 20 to 32 and the bucket below 2^bucketBits")]
    BucketBits,
    /// The blinded element is not a valid ristretto255 element.
    #[error("blinded is not a valid ristretto255 element")]
    Element,
    /// The asked part of the bucket holds more entries than an answer may (one login
    /// leaked with tens of thousands of passwords): not answered.
    #[error("this bucket part holds more than {MAX_ANSWER_ENTRIES} entries")]
    TooLarge,
}

/// The OPRF key's file, and the file of the key a rotation is replacing it with.
#[derive(Debug, Clone)]
pub struct OprfKeyFile {
    path: PathBuf,
}

impl OprfKeyFile {
    /// The key file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> OprfKeyFile {
        OprfKeyFile { path: path.into() }
    }

    /// Where the key is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where a rotation keeps the new key until its buckets are published: `FILE.next`.
    pub fn next_path(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(".next");
        PathBuf::from(name)
    }

    fn read(path: &Path) -> Result<OprfKey, CredentialsError> {
        let text = read_private(path)?;
        OprfKey::from_hex(&text).map_err(|_| CredentialsError::NotAKey(path.display().to_string()))
    }

    /// The key in the file.
    pub fn load(&self) -> Result<OprfKey, CredentialsError> {
        Self::read(&self.path)
    }

    /// The key in the file, or a new one written to it (mode 0600) when there is no file;
    /// the flag says which.
    pub fn load_or_create(&self) -> Result<(OprfKey, bool), CredentialsError> {
        if !self.path.exists() {
            write_private(&self.path, &OprfKey::generate_hex())?;
            return Ok((self.load()?, true));
        }
        Ok((self.load()?, false))
    }

    /// The key whose fingerprint is `fingerprint`: the file's, else (a rotation published
    /// its buckets and has not yet renamed its key into place) the successor's.
    pub fn load_matching(&self, fingerprint: &str) -> Result<OprfKey, CredentialsError> {
        let key = self.load()?;
        if key.fingerprint() == fingerprint {
            return Ok(key);
        }
        match Self::read(&self.next_path()) {
            Ok(next) if next.fingerprint() == fingerprint => Ok(next),
            _ => Err(CredentialsError::KeyNotHeld {
                wanted: fingerprint.to_owned(),
                found: key.fingerprint().to_owned(),
            }),
        }
    }

    /// Completes a rotation whose buckets were published under the successor key but whose
    /// key was not yet renamed into place (a crash between the two): renames it now.
    fn finish_rotation(&self, store_key: Option<&str>) -> Result<(), CredentialsError> {
        let next = self.next_path();
        if !next.exists() {
            return Ok(());
        }
        let successor = Self::read(&next)?;
        if store_key == Some(successor.fingerprint()) {
            self.install(&next)?;
        }
        Ok(())
    }

    /// Renames `next` over the key file and makes the rename durable.
    fn install(&self, next: &Path) -> Result<(), CredentialsError> {
        let io = |source| KeyFileError::Io {
            what: "renaming the new key into",
            path: self.path.display().to_string(),
            source,
        };
        std::fs::rename(next, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }
}

/// What a build or a rotation did, and whether it made the key.
#[derive(Debug, Clone)]
pub struct Built {
    /// The build.
    pub build: CredentialBuild,
    /// The key file did not exist and a new key was written to it.
    pub key_created: bool,
}

/// Only the operator at a shell builds buckets or rotates the key.
fn require_operator(by: &Principal) -> Result<(), ServiceError> {
    if by.is_operator() {
        Ok(())
    } else {
        Err(ServiceError::MissingScope(Scope::Credentials))
    }
}

/// `leakwatch credentials build`: builds the buckets of `sources` under the key of
/// `key_file` (made when there is none yet) and publishes them; sources built before under
/// that key are skipped.
pub fn build(
    data: &DataDir,
    by: &Principal,
    sources: &[CredentialSource],
    key_file: &OprfKeyFile,
    opts: &IngestOptions,
) -> Result<Built, ServiceError> {
    require_operator(by)?;
    let mut writer = StoreWriter::open(crate::open_store_dir(data)?)?;
    key_file.finish_rotation(writer.manifest().credential_key())?;
    let (key, key_created) = key_file.load_or_create()?;
    let before = writer.manifest().generation;
    let build = build_credentials(&mut writer, sources, &key, opts, false)?;
    if build.generation != before {
        crate::announce_publication(data, build.generation);
    }
    Ok(Built { build, key_created })
}

/// `leakwatch credentials rotate-key`: a new key (or the one an interrupted rotation left
/// beside the key file), every bucket rebuilt from `sources` under it and published in one
/// swap that retires the old buckets, then the new key renamed into place.
pub fn rotate_key(
    data: &DataDir,
    by: &Principal,
    sources: &[CredentialSource],
    key_file: &OprfKeyFile,
    opts: &IngestOptions,
) -> Result<Built, ServiceError> {
    require_operator(by)?;
    let mut writer = StoreWriter::open(crate::open_store_dir(data)?)?;
    let next = key_file.next_path();
    let (key, key_created) = if next.exists() {
        (OprfKeyFile::read(&next)?, false)
    } else {
        write_private(&next, &OprfKey::generate_hex()).map_err(CredentialsError::from)?;
        (OprfKeyFile::read(&next)?, true)
    };
    let build = build_credentials(&mut writer, sources, &key, opts, true)?;
    key_file.install(&next)?;
    crate::announce_publication(data, build.generation);
    Ok(Built { build, key_created })
}

/// The server's OPRF key, loaded from its file on first use and again whenever the store's
/// buckets name another key (a rotation was published); and, per generation, the bits each
/// split bucket is split into, so that asking a split bucket with too few bits costs no read.
#[derive(Debug)]
pub struct CredentialKeys {
    file: OprfKeyFile,
    loaded: Mutex<Option<Arc<OprfKey>>>,
    split: Mutex<SplitBuckets>,
}

/// The split buckets of one generation: 20-bit bucket → bits (more than 20).
#[derive(Debug, Default)]
struct SplitBuckets {
    generation: u64,
    bits: std::collections::HashMap<u32, u8>,
}

/// At most this many split buckets are remembered (every bucket of a 16-billion-credential
/// store is split: 2^20 of them, ~20 MB); past it the memory starts again.
const MAX_SPLIT_REMEMBERED: usize = 1 << 20;

impl CredentialKeys {
    /// Keys from `file`.
    pub fn new(file: OprfKeyFile) -> CredentialKeys {
        CredentialKeys {
            file,
            loaded: Mutex::new(None),
            split: Mutex::new(SplitBuckets::default()),
        }
    }

    /// The bits `bucket20` is split into in `generation`, if it is split and known.
    fn split_bits(&self, generation: u64, bucket20: u32) -> Option<u32> {
        let split = self.split.lock().unwrap_or_else(|e| e.into_inner());
        (split.generation == generation)
            .then(|| split.bits.get(&bucket20).map(|&b| u32::from(b)))
            .flatten()
    }

    fn remember_split(&self, generation: u64, bucket20: u32, bits: u32) {
        let mut split = self.split.lock().unwrap_or_else(|e| e.into_inner());
        if split.generation != generation || split.bits.len() >= MAX_SPLIT_REMEMBERED {
            split.generation = generation;
            split.bits.clear();
        }
        split.bits.insert(bucket20, bits as u8);
    }

    /// The key whose fingerprint is `fingerprint`.
    fn key_for(&self, fingerprint: &str) -> Result<Arc<OprfKey>, CredentialsError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = loaded.as_ref().filter(|k| k.fingerprint() == fingerprint) {
            return Ok(key.clone());
        }
        let key = Arc::new(self.file.load_matching(fingerprint)?);
        *loaded = Some(key.clone());
        Ok(key)
    }
}

/// A check as a client sends it.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// The first `bucket_bits` bits of the SHA-256 of the normalised login.
    pub bucket: u32,
    /// How many bits `bucket` has: 20, or more when an answer asked for more.
    pub bucket_bits: u32,
    /// The OPRF-blinded element of (login, password).
    pub blinded: Vec<u8>,
}

/// What a check answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckAnswer {
    /// The bucket is split: send this many bits of the login's hash instead (nothing was
    /// evaluated).
    MoreBits(u32),
    /// The evaluation and the bucket part's entries.
    Entries {
        /// The bits of the bucket answered.
        bucket_bits: u32,
        /// The server's evaluation of the blinded element.
        evaluated: [u8; ELEMENT_LEN],
        /// The part's entry tags, [`TAG_BYTES`] each, sorted.
        tags: Vec<u8>,
        /// How many tags.
        entries: usize,
    },
}

/// `POST /api/v1/credentials/check` (scope `credentials`): the evaluation of the client's
/// blinded element under the key the store's buckets were built with, and the entries of
/// the asked bucket part. A bucket asked with fewer bits than it is split into is answered
/// with the bits to send ([`answer_bits`]: they depend on the whole 20-bit bucket, never on
/// the part asked, so they tell the server nothing new).
pub fn check(
    snap: &Snapshot,
    keys: &CredentialKeys,
    by: &Principal,
    request: &CheckRequest,
) -> Result<CheckAnswer, ServiceError> {
    by.require(Scope::Credentials)?;
    answer(snap, keys, request)
}

/// The web page's "Check a login" form (`POST /api/v1/credentials/page-check`): the same
/// answer for a visitor without a key (`by` is the public), whom the edge limits by client
/// address instead of by a key's scope and rate. Only the public asks here: a key's holder
/// asks through [`check`], in its scope.
pub fn check_from_page(
    snap: &Snapshot,
    keys: &CredentialKeys,
    by: &Principal,
    request: &CheckRequest,
) -> Result<CheckAnswer, ServiceError> {
    if !matches!(by, Principal::Public) {
        return Err(ServiceError::MissingScope(Scope::Credentials));
    }
    answer(snap, keys, request)
}

fn answer(
    snap: &Snapshot,
    keys: &CredentialKeys,
    request: &CheckRequest,
) -> Result<CheckAnswer, ServiceError> {
    let bits = request.bucket_bits;
    if !(BUCKET_BITS..=LOGIN_BITS).contains(&bits) || u64::from(request.bucket) >= 1u64 << bits {
        return Err(CredentialsError::BucketBits.into());
    }
    let fingerprint = snap.credential_key().ok_or(CredentialsError::NotBuilt)?;
    let key = keys.key_for(fingerprint)?;
    let bucket20 = request.bucket >> (bits - BUCKET_BITS);
    let generation = snap.generation();
    // How many bits the bucket needs: remembered for a split bucket, else worked out from
    // the whole bucket (which, unsplit, is the answer).
    let (needed, whole) = match keys.split_bits(generation, bucket20) {
        Some(needed) => (needed, None),
        None => {
            let entries = snap.credential_range(bucket20)?;
            let needed = answer_bits(&entries).unwrap_or(LOGIN_BITS);
            if needed > BUCKET_BITS {
                keys.remember_split(generation, bucket20, needed);
            }
            (needed, Some(entries))
        }
    };
    if bits < needed {
        return Ok(CheckAnswer::MoreBits(needed));
    }
    let entries = match whole {
        Some(entries) => entries,
        // Only the asked part's groups are read.
        None => snap.credential_part(request.bucket, bits)?,
    };
    let tags = bucket_tags(&entries, request.bucket, bits);
    if tags.len() > MAX_ANSWER_ENTRIES {
        return Err(CredentialsError::TooLarge.into());
    }
    let evaluated = key
        .blind_evaluate(&request.blinded)
        .map_err(|_| CredentialsError::Element)?;
    Ok(CheckAnswer::Entries {
        bucket_bits: bits,
        evaluated,
        entries: tags.len(),
        tags: tags_to_bytes(&tags),
    })
}

#[cfg(test)]
mod tests;
