//! Checking a trail: every file present and in order, each header continuing the chain of
//! the file before, every record well-formed, every checkpoint's chain and signature right.
//! What the newest file holds after its last checkpoint (a crash before the seal) and a torn
//! record at its very end are reported, not failed: the next writer seals or cuts them.

use std::path::Path;

use ed25519_dalek::Verifier;

use crate::{
    AuditKey,
    files::{DirFiles, Files, file_name},
    format::{self, Event, Header, Record, Who},
    writer::extend,
};

/// Where and how a trail fails to verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A file of the sequence is missing (removed).
    #[error("{file} is missing: the files go from 1 to the newest without a gap")]
    Missing {
        /// The file's name.
        file: String,
    },
    /// A file's header is not a trail header.
    #[error("{file}: the header is damaged")]
    Header {
        /// The file.
        file: String,
    },
    /// A file sealed under another audit key.
    #[error("{file}: sealed under another audit key")]
    OtherKey {
        /// The file.
        file: String,
    },
    /// The previous file does not end where this one's header says: records were removed
    /// from it, or it was cut (at a checkpoint or elsewhere).
    #[error(
        "{file}: the file before it does not end where its header says (records removed or the file cut)"
    )]
    Cut {
        /// The file whose header disagrees.
        file: String,
    },
    /// A record that does not read (a flipped byte, a torn record inside the trail).
    #[error("{file}: the record at byte {offset} is damaged")]
    Damaged {
        /// The file.
        file: String,
        /// Its byte offset.
        offset: u64,
    },
    /// A checkpoint whose chain is not that of the records before it: one was changed,
    /// removed, inserted or two were swapped.
    #[error(
        "{file}: record {record} (a checkpoint) does not match the records before it (changed, removed, added or reordered)"
    )]
    Chain {
        /// The file.
        file: String,
        /// The checkpoint's record number in the file (from 1).
        record: u64,
    },
    /// A checkpoint whose signature is not the audit key's.
    #[error("{file}: record {record} (a checkpoint) has a bad signature")]
    Signature {
        /// The file.
        file: String,
        /// Its record number in the file (from 1).
        record: u64,
    },
    /// An older file that does not end in a checkpoint: its writer always sealed it before
    /// starting the next.
    #[error("{file}: records after its last checkpoint, though a newer file follows")]
    Unsealed {
        /// The file.
        file: String,
    },
    /// The trail directory could not be read.
    #[error("reading the audit trail: {0}")]
    Io(String),
}

/// What a verified trail holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Files.
    pub files: usize,
    /// Records of every kind.
    pub records: u64,
    /// Events.
    pub events: u64,
    /// Records after the newest file's last checkpoint (a crash before the seal).
    pub unsealed: u64,
    /// Bytes of a torn record at the newest file's end.
    pub torn_bytes: u64,
}

/// Verifies the trail in the directory `dir` against `key`: [`verify_in`] on [`DirFiles`].
pub fn verify(
    dir: &Path,
    key: &AuditKey,
    each: Option<&mut dyn FnMut(u32, u64, Event)>,
) -> Result<Report, VerifyError> {
    verify_in(&mut DirFiles::new(dir), key, each)
}

/// Verifies the trail kept by `files` against `key`; with `each`, hands every event to it
/// in order (file number, record number in the file, the event).
pub fn verify_in(
    files: &mut dyn Files,
    key: &AuditKey,
    mut each: Option<&mut dyn FnMut(u32, u64, Event)>,
) -> Result<Report, VerifyError> {
    let seqs = files.seqs().map_err(|e| match e {
        crate::TrailError::Broken(e) => e,
        e => VerifyError::Io(e.to_string()),
    })?;
    let mut report = Report::default();
    let (mut count, mut chain) = (0u64, [0u8; 32]);
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&key.verifying_key())
        .map_err(|_| VerifyError::Io("the audit key's public half is not valid".into()))?;
    for (i, &seq) in seqs.iter().enumerate() {
        let file = file_name(seq);
        if seq != i as u32 + 1 {
            return Err(VerifyError::Missing {
                file: file_name(i as u32 + 1),
            });
        }
        let bytes = files.read(seq).map_err(|e| match e {
            crate::TrailError::Broken(e) => e,
            e => VerifyError::Io(e.to_string()),
        })?;
        let header = Header::decode(&bytes).ok_or(VerifyError::Header { file: file.clone() })?;
        if header.seq != seq {
            return Err(VerifyError::Header { file });
        }
        if header.verifying_key != key.verifying_key() {
            return Err(VerifyError::OtherKey { file });
        }
        if (header.prev_count, header.prev_chain) != (count, chain) {
            return Err(VerifyError::Cut { file });
        }
        let newest = i + 1 == seqs.len();
        let (records, end) = format::records(&bytes);
        // Names are numbered within the file from 0, principals and texts together.
        let mut names: Vec<Named> = Vec::new();
        let mut unsealed = 0u64;
        for (n, (offset, framed, record)) in records.into_iter().enumerate() {
            let record_no = n as u64 + 1;
            let damaged = || VerifyError::Damaged {
                file: file.clone(),
                offset: offset as u64,
            };
            let record = record.ok_or_else(damaged)?;
            match &record {
                Record::Checkpoint(c) => {
                    if c.count != count || c.chain != chain {
                        return Err(VerifyError::Chain {
                            file,
                            record: record_no,
                        });
                    }
                    let message = format::signed_message(seq, c.count, &c.chain, c.time_ms);
                    let signature = ed25519_dalek::Signature::from_bytes(&c.signature);
                    if verifying.verify(&message, &signature).is_err() {
                        return Err(VerifyError::Signature {
                            file,
                            record: record_no,
                        });
                    }
                    unsealed = 0;
                }
                Record::NameWho(id, who) => {
                    if *id as usize != names.len() {
                        return Err(damaged());
                    }
                    names.push(Named::Who(who.clone()));
                    unsealed += 1;
                }
                Record::NameText(id, text) => {
                    if *id as usize != names.len() {
                        return Err(damaged());
                    }
                    names.push(Named::Text(text.clone()));
                    unsealed += 1;
                }
                Record::Event(e) => {
                    let text = |id: u16| match names.get(id as usize) {
                        Some(Named::Text(t)) => Some(t.clone()),
                        _ => None,
                    };
                    let who = match names.get(e.who as usize) {
                        Some(Named::Who(w)) => Some(w.clone()),
                        _ => None,
                    };
                    let (Some(who), Some(action), Some(route)) =
                        (who, text(e.action), text(e.route))
                    else {
                        return Err(damaged());
                    };
                    report.events += 1;
                    unsealed += 1;
                    if let Some(each) = each.as_mut() {
                        each(seq, record_no, e.named(who, action, route));
                    }
                }
            }
            chain = extend(&chain, framed);
            count += 1;
            report.records += 1;
        }
        if end < bytes.len() {
            if !newest {
                return Err(VerifyError::Damaged {
                    file,
                    offset: end as u64,
                });
            }
            report.torn_bytes = (bytes.len() - end) as u64;
        }
        if unsealed > 0 {
            if !newest {
                return Err(VerifyError::Unsealed { file });
            }
            report.unsealed = unsealed;
        }
        report.files += 1;
    }
    Ok(report)
}

/// A name of a file.
enum Named {
    Who(Who),
    Text(String),
}
