//! The audit trail (issue #19): who did what, when, to which (digested) target, with what
//! result — appended, never rewritten, and sealed so that its own writer cannot edit it
//! unnoticed.
//!
//! A trail is a sequence of numbered files (`trail-00000001.log`, …; format in FORMAT.md),
//! kept in a directory or anywhere else that keeps the [`Files`] contract (the shared
//! catalogue's PostgreSQL, through the service layer).
//! Records are chained: a running SHA-256 over every record's bytes, file after file (each
//! file's header carries the chain and count the previous file ended with). Checkpoint
//! records seal the chain with an Ed25519 signature under a key derived from the **audit
//! key**, which is kept outside the data directory. [`verify`] recomputes the chain and
//! every signature: a flipped byte, a removed or reordered record, a missing file or a file
//! cut at a checkpoint fails it, naming the file and record; records after the last
//! checkpoint of the newest file (a crash before the seal) are reported as an unsealed tail,
//! not a failure, and the next writer seals them.
//!
//! Targets (an account, a domain, a prefix) are never written: only a keyed digest
//! ([`AuditKey::target_digest`]). Names of principals and routes are written once per file
//! and referred to by number, which keeps a record near 50 bytes.
//!
//! Nothing here knows who may do what, HTTP or the CLI: the service layer makes the events.

mod files;
mod format;
mod verify;
mod writer;

pub use files::{DirFiles, Files, Locked, file_name};
pub use format::{Event, Who, WhoKind};
pub use verify::{Report, VerifyError, verify, verify_in};
pub use writer::Trail;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Errors of the trail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrailError {
    /// Reading or writing a trail file failed.
    #[error("audit trail {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The audit key is not 64 hex digits.
    #[error("the audit key must be 64 hex digits (32 bytes)")]
    BadKey,
    /// The trail on disk does not verify where the writer needs to continue it.
    #[error("the audit trail does not verify: {0}")]
    Broken(#[from] VerifyError),
    /// The trail was sealed under another audit key.
    #[error("the audit trail is sealed under another audit key")]
    OtherKey,
    /// A name (principal, route) longer than a record can hold.
    #[error("a name in an audit record is longer than 255 bytes")]
    TooLong,
}

/// The secret that seals the trail: 32 random bytes, kept outside the data directory like
/// the operator key. The signing key and the target-digest key are derived from it, each
/// for its one use.
#[derive(Clone)]
pub struct AuditKey {
    /// Signs checkpoints (and backup manifests): derived once, not at every seal.
    signing: ed25519_dalek::SigningKey,
    /// Its public half.
    verifying: [u8; 32],
    /// HMAC-SHA256 keyed with the target-digest key, ready to be cloned per digest (a
    /// digest per audited request: the key schedule is not redone each time).
    target: Hmac<Sha256>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey").finish_non_exhaustive()
    }
}

impl AuditKey {
    /// A key from 64 hex digits (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<AuditKey, TrailError> {
        let text = text.trim();
        // Digits only: `from_str_radix` alone takes a "+f" pair, and slicing other text by
        // byte could split a character (a panic, not an error).
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TrailError::BadKey);
        }
        let mut secret = [0u8; 32];
        for (i, byte) in secret.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| TrailError::BadKey)?;
        }
        Ok(AuditKey::from_secret(&secret))
    }

    /// The key whose 32 secret bytes are `secret`, its derived keys made once.
    fn from_secret(secret: &[u8; 32]) -> AuditKey {
        let derive = |purpose: &[u8]| -> [u8; 32] {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
            mac.update(purpose);
            mac.finalize().into_bytes().into()
        };
        let signing = ed25519_dalek::SigningKey::from_bytes(&derive(b"leakwatch audit signing v1"));
        let verifying = signing.verifying_key().to_bytes();
        let target = Hmac::<Sha256>::new_from_slice(&derive(b"leakwatch audit target v1"))
            .expect("HMAC takes a key of any length");
        AuditKey {
            signing,
            verifying,
            target,
        }
    }

    /// A new random key as 64 hex digits (from the operating system's CSPRNG).
    pub fn generate_hex() -> String {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).expect("the operating system has randomness");
        raw.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key that signs checkpoints.
    fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.signing
    }

    /// The public half, which verifies checkpoints (and is written into every file, so a
    /// trail names the key that sealed it).
    pub fn verifying_key(&self) -> [u8; 32] {
        self.verifying
    }

    /// Signs `message` for `purpose` (a label kept apart from the trail's checkpoints, e.g.
    /// `"leakwatch backup manifest v1"`) with the audit key's signing key.
    pub fn sign(&self, purpose: &str, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.signing_key()
            .sign(&labelled(purpose, message))
            .to_bytes()
    }

    /// Whether `signature` is this key's over `message` for `purpose` ([`AuditKey::sign`]).
    pub fn verify_signature(&self, purpose: &str, message: &[u8], signature: &[u8; 64]) -> bool {
        use ed25519_dalek::Verifier;
        self.signing_key()
            .verifying_key()
            .verify(
                &labelled(purpose, message),
                &ed25519_dalek::Signature::from_bytes(signature),
            )
            .is_ok()
    }

    /// The keyed digest a target is recorded as (16 bytes of HMAC-SHA256 under a key derived
    /// for this use): the same target gives the same digest, so records about one account
    /// can be found by whoever holds the key, and nobody else can tell what it was.
    pub fn target_digest(&self, target: &[u8]) -> [u8; 16] {
        let mut mac = self.target.clone();
        mac.update(target);
        let full: [u8; 32] = mac.finalize().into_bytes().into();
        full[..16].try_into().expect("16 of 32 bytes")
    }
}

/// `purpose ‖ 0 ‖ message`: what [`AuditKey::sign`] signs, so a signature made for one use
/// never passes for another (a trail checkpoint's message starts with its own label).
fn labelled(purpose: &str, message: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(purpose.len() + 1 + message.len());
    m.extend_from_slice(purpose.as_bytes());
    m.push(0);
    m.extend_from_slice(message);
    m
}

#[cfg(test)]
mod tests;
