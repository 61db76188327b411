//! What makes a backup trustworthy and private (issue #19): a manifest of every file with
//! its size and SHA-256, signed with the audit key (`backup-manifest.json` and
//! `backup-manifest.sig`), which a restore checks before it writes anything; and age
//! encryption of the whole backup (a tar stream) to the recipients the operator names.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
};

use leakwatch_trail::AuditKey;
use sha2::{Digest, Sha256};

use crate::backup::BackupError;

/// The manifest's file name in a backup.
pub(crate) const MANIFEST: &str = "backup-manifest.json";
/// Its signature's (hex of the Ed25519 signature under the audit key).
pub(crate) const SIGNATURE: &str = "backup-manifest.sig";
/// What the signature is for (kept apart from the audit trail's checkpoints).
const PURPOSE: &str = "leakwatch backup manifest v1";

/// One file of a backup, as its manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Entry {
    /// The path under the backup, `/`-separated.
    path: String,
    bytes: u64,
    /// Lower-case hex.
    sha256: String,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Manifest {
    format: u32,
    generation: u64,
    created: String,
    files: Vec<Entry>,
}

/// Every regular file under `dir`, by its `/`-separated path, sorted; the manifest and its
/// signature left out.
fn files(dir: &Path) -> Result<Vec<(String, PathBuf)>, BackupError> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let kind = e.file_type()?;
            if kind.is_dir() {
                walk(root, &e.path(), out)?;
            } else if kind.is_file() {
                let rel = e.path();
                let rel = rel.strip_prefix(root).expect("under the root");
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if name != MANIFEST && name != SIGNATURE {
                    out.push((name, e.path()));
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn sha256_of(path: &Path) -> Result<(u64, String), BackupError> {
    let mut file = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, crate::auditlog::hex(&hash.finalize())))
}

/// Writes the signed manifest of the backup in `dir` (store generation `generation`).
pub(crate) fn sign(dir: &Path, generation: u64, key: &AuditKey) -> Result<(), BackupError> {
    let files = files(dir)?
        .into_iter()
        .map(|(path, file)| {
            let (bytes, sha256) = sha256_of(&file)?;
            Ok(Entry {
                path,
                bytes,
                sha256,
            })
        })
        .collect::<Result<Vec<_>, BackupError>>()?;
    let manifest = Manifest {
        format: 1,
        generation,
        created: crate::format_date_time(crate::now_unix()),
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    let signature = key.sign(PURPOSE, &json);
    write_synced(&dir.join(MANIFEST), &json)?;
    write_synced(
        &dir.join(SIGNATURE),
        format!("{}\n", crate::auditlog::hex(&signature)).as_bytes(),
    )?;
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut f = std::fs::File::create(path).map_err(|source| BackupError::Io {
        context: "creating",
        path: path.to_owned(),
        source,
    })?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Checks the backup in `dir` against its signed manifest: the signature is the audit
/// key's, and the files are exactly those listed, each of its size and SHA-256.
pub(crate) fn check(dir: &Path, key: &AuditKey) -> Result<(), BackupError> {
    let json = std::fs::read(dir.join(MANIFEST)).map_err(|_| BackupError::Unsigned)?;
    let signature = std::fs::read_to_string(dir.join(SIGNATURE))
        .ok()
        .and_then(|hex| unhex64(hex.trim()))
        .ok_or(BackupError::BadSignature)?;
    if !key.verify_signature(PURPOSE, &json, &signature) {
        return Err(BackupError::BadSignature);
    }
    let manifest: Manifest =
        serde_json::from_slice(&json).map_err(|_| BackupError::BadSignature)?;
    let listed: Vec<&str> = manifest.files.iter().map(|e| e.path.as_str()).collect();
    let present = files(dir)?;
    let names: Vec<&str> = present.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(extra) = names.iter().find(|n| !listed.contains(n)) {
        return Err(BackupError::NotInManifest((*extra).to_owned()));
    }
    for entry in &manifest.files {
        let Some((_, file)) = present.iter().find(|(n, _)| *n == entry.path) else {
            return Err(BackupError::MissingFile(entry.path.clone()));
        };
        if sha256_of(file)? != (entry.bytes, entry.sha256.clone()) {
            return Err(BackupError::Changed(entry.path.clone()));
        }
    }
    Ok(())
}

fn unhex64(hex: &str) -> Option<[u8; 64]> {
    if hex.len() != 128 {
        return None;
    }
    let mut out = [0u8; 64];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Parses age recipients (`age1…`, X25519).
pub(crate) fn recipients(list: &[String]) -> Result<Vec<age::x25519::Recipient>, BackupError> {
    list.iter()
        .map(|r| {
            r.trim()
                .parse::<age::x25519::Recipient>()
                .map_err(|_| BackupError::BadRecipient(r.clone()))
        })
        .collect()
}

/// Writes the backup directory `dir` as a tar stream encrypted to `recipients` into the new
/// file `dest` (synced); a failure removes what was written.
pub(crate) fn encrypt(
    dir: &Path,
    dest: &Path,
    recipients: &[age::x25519::Recipient],
) -> Result<u64, BackupError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(|source| BackupError::Io {
            context: "creating (it must not exist yet)",
            path: dest.to_owned(),
            source,
        })?;
    let written = (|| {
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| BackupError::Encryption(e.to_string()))?;
        let mut out = encryptor.wrap_output(std::io::BufWriter::new(&file))?;
        {
            let mut tar = tar::Builder::new(&mut out);
            tar.mode(tar::HeaderMode::Deterministic);
            tar.follow_symlinks(false);
            for (name, path) in files(dir)?
                .into_iter()
                .chain([MANIFEST, SIGNATURE].map(|n| (n.to_owned(), dir.join(n))))
            {
                tar.append_path_with_name(&path, &name)?;
            }
            tar.finish()?;
        }
        out.finish()?.flush()?;
        file.sync_all()?;
        Ok(file.metadata()?.len())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    written
}

/// Decrypts the encrypted backup `src` with the age identities in `identity_file` and
/// unpacks it into the new directory `into` (entries that would land outside it are
/// refused). A damaged byte anywhere fails it: age authenticates every chunk.
pub(crate) fn decrypt(src: &Path, identity_file: &Path, into: &Path) -> Result<(), BackupError> {
    let identities = age::IdentityFile::from_file(identity_file.to_string_lossy().into_owned())
        .map_err(|e| BackupError::Identity(format!("{}: {e}", identity_file.display())))?
        .into_identities()
        .map_err(|e| BackupError::Identity(format!("{}: {e}", identity_file.display())))?;
    let input =
        std::io::BufReader::new(std::fs::File::open(src).map_err(|source| BackupError::Io {
            context: "opening",
            path: src.to_owned(),
            source,
        })?);
    let decryptor =
        age::Decryptor::new_buffered(input).map_err(|e| BackupError::Encryption(e.to_string()))?;
    let reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| BackupError::Encryption(e.to_string()))?;
    std::fs::create_dir_all(into)?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive
        .entries()
        .map_err(|e| BackupError::Encryption(e.to_string()))?
    {
        let mut entry = entry.map_err(|e| BackupError::Encryption(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            return Err(BackupError::Encryption(
                "the backup holds something other than files".into(),
            ));
        }
        // `unpack_in` refuses a path with `..` or a root: nothing lands outside `into`.
        let placed = entry
            .unpack_in(into)
            .map_err(|e| BackupError::Encryption(e.to_string()))?;
        if !placed {
            return Err(BackupError::Encryption(
                "the backup names a file outside itself".into(),
            ));
        }
    }
    // To the end of the stream: age checks the last chunk's tag, and that it is the last.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink())
        .map_err(|e| BackupError::Encryption(e.to_string()))?;
    Ok(())
}
