//! The audit log (issue #19): one record for every keyed request and every privileged
//! operator command — who ([`Principal`]), what, on which target (a keyed digest, never the
//! target), with what result and how much went out — appended to the data directory's
//! trail (`leakwatch-trail`: hash-chained, sealed by signed checkpoints under the audit
//! key, which is kept outside the data directory).
//!
//! Where the trail is kept follows the catalogue: a data directory with its own
//! `catalog.db` keeps it in `audit/`; one bound to a shared PostgreSQL catalogue
//! (`catalog-url`) writes the one trail every replica and machine shares, in the
//! catalogue's append-only table ([`leakwatch_catalog::trail_table`]), so that
//! `audit-log verify` on any machine checks everything every machine did (issue #21).
//!
//! Durability is the caller's choice per record: [`AuditLog::commit`] writes and syncs
//! before it returns (operator commands and requests that change state, before their
//! answer); [`AuditLog::record`] queues a read's record for the next [`AuditLog::flush`],
//! which the server runs every 100 ms (group commit: a crash loses at most that window,
//! which `verify` reports as an unsealed tail and the next start seals). A checkpoint
//! follows at least every second while records arrive, at every commit asked sealed, and
//! whenever a file closes.
//!
//! With a syslog socket ([`AuditLog::forward_to`]), every record also goes out as an
//! RFC 5424 line, so a collector keeps a copy the operator cannot edit.

use std::{
    net::SocketAddr,
    os::unix::net::UnixDatagram,
    path::{Path, PathBuf},
    sync::Mutex,
};

use leakwatch_catalog::trail_table::{TrailTable, TrailTx};
pub use leakwatch_trail::{AuditKey, Event, Report, TrailError, VerifyError, Who, WhoKind};
use leakwatch_trail::{DirFiles, Files, Locked, Trail};

use crate::{DataDir, Principal, ServiceError};

/// One thing done, as its edge describes it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Who did it.
    pub by: &'a Principal,
    /// What (`account.lookup`, `keys.create`, …).
    pub action: &'a str,
    /// The route template, or the command as typed without its values (`keys create`).
    pub route: &'a str,
    /// What it was done to (an account, a domain, a prefix, a key), if anything; only its
    /// keyed digest is written ([`AuditLog::digest`]).
    pub target: Option<&'a str>,
    /// An HTTP status, or 0 / 1 for a command that succeeded / failed.
    pub status: u16,
    /// How much went out: accounts, aliases, breaches or rows.
    pub size: u64,
    /// The client's address, for a request.
    pub peer: Option<SocketAddr>,
}

/// The data directory's audit log, open for appending.
#[derive(Debug)]
pub struct AuditLog {
    key: AuditKey,
    /// Where the trail is (read back for a tenant's slice).
    data: DataDir,
    trail: Mutex<Trail>,
    /// Records of reads waiting for the next flush.
    pending: Mutex<Vec<Event>>,
    syslog: Option<Syslog>,
}

impl AuditLog {
    /// Opens (creating) the audit log of `data` under `key`, sealing what a crashed writer
    /// left unsealed; its files grow to about `file_bytes` (and a new UTC day starts one).
    /// Refuses a trail sealed under another key, and one whose newest file does not read.
    pub fn open(data: &DataDir, key: AuditKey, file_bytes: u64) -> Result<AuditLog, ServiceError> {
        let trail = Trail::open_in(files_of(data)?, key.clone(), file_bytes, now_ms())?;
        Ok(AuditLog {
            key,
            data: data.clone(),
            trail: Mutex::new(trail),
            pending: Mutex::new(Vec::new()),
            syslog: None,
        })
    }

    /// Also sends every record, as an RFC 5424 line, to the syslog datagram socket at
    /// `socket` (`/dev/log`, or a collector's).
    pub fn forward_to(mut self, socket: &Path) -> Result<AuditLog, ServiceError> {
        self.syslog = Some(Syslog::connect(socket)?);
        Ok(self)
    }

    /// The keyed digest a target is written as: the same (case-folded) target, the same
    /// digest, so the key's holder can find every record about one account or domain.
    pub fn digest(&self, target: &str) -> [u8; 16] {
        digest(&self.key, target)
    }

    /// The event `entry` is written as, now: its target digested. What [`AuditLog::record`]
    /// and [`AuditLog::commit`] write; an edge that must hand the write to another thread
    /// makes it first and passes it to [`AuditLog::commit_event`].
    pub fn event(&self, entry: &Entry<'_>) -> Event {
        Event {
            time_ms: now_ms(),
            who: who(entry.by),
            action: entry.action.to_owned(),
            route: entry.route.to_owned(),
            target: entry.target.map(|t| self.digest(t)),
            status: entry.status,
            size: entry.size,
            peer: entry.peer,
        }
    }

    /// Queues the record of a read for the next [`AuditLog::flush`].
    pub fn record(&self, entry: Entry<'_>) {
        let event = self.event(&entry);
        self.pending.lock().expect("the audit queue").push(event);
    }

    /// Writes the record of `entry` (after every queued one) and syncs it before returning;
    /// `seal`: a checkpoint follows at once (a command about to exit).
    pub fn commit(&self, entry: Entry<'_>, seal: bool) -> Result<(), ServiceError> {
        self.commit_event(self.event(&entry), seal)
    }

    /// [`AuditLog::commit`] of an event made by [`AuditLog::event`].
    pub fn commit_event(&self, event: Event, seal: bool) -> Result<(), ServiceError> {
        let mut events = std::mem::take(&mut *self.pending.lock().expect("the audit queue"));
        events.push(event);
        self.write(&events, seal, now_ms())
    }

    /// Writes the queued records and syncs them; seals when a second has passed since the
    /// last checkpoint, or when `seal` (the server stopping).
    pub fn flush(&self, seal: bool) -> Result<(), ServiceError> {
        let events = std::mem::take(&mut *self.pending.lock().expect("the audit queue"));
        self.write(&events, seal, now_ms())
    }

    /// The newest `limit` records of `by`'s tenant — its keys' requests and the operator's
    /// commands for it — newest first: the dashboard's Activity slice. Read from a trail that
    /// verifies, end to end, under the audit key (queued records are written first, and
    /// writers wait meanwhile, so the read sees a whole trail): a slice of an edited log is
    /// an error, never a quiet answer. It reads the whole trail, as `audit-log verify` does.
    pub fn tenant_records(&self, by: &Principal, limit: usize) -> Result<Vec<Event>, ServiceError> {
        let tenant = by.tenant()?;
        self.flush(false)?;
        let _writers_wait = self.trail.lock().expect("the audit trail");
        let mut newest = std::collections::VecDeque::with_capacity(limit + 1);
        verify(
            &self.data,
            &self.key,
            Some(&mut |_, _, event: Event| {
                if !tenant.is_empty() && event.who.tenant == tenant {
                    newest.push_back(event);
                    if newest.len() > limit {
                        newest.pop_front();
                    }
                }
            }),
        )
        .map_err(TrailError::from)?;
        Ok(newest.into_iter().rev().collect())
    }

    /// Writes `events`; when that fails they go back to the front of the queue for the
    /// next flush (the server's keyed requests get 503 meanwhile), up to [`MAX_QUEUED`].
    fn write(&self, events: &[Event], seal: bool, now: u64) -> Result<(), ServiceError> {
        let written = self
            .trail
            .lock()
            .expect("the audit trail")
            .append(events, seal, now);
        if let Err(e) = written {
            let mut pending = self.pending.lock().expect("the audit queue");
            let mut requeued = events.to_vec();
            requeued.append(&mut pending);
            if requeued.len() > MAX_QUEUED {
                let lost = requeued.len() - MAX_QUEUED;
                requeued.drain(..lost);
                tracing::error!(
                    "the audit log cannot be written and holds {MAX_QUEUED} records waiting: \
                     the {lost} oldest are lost"
                );
            }
            *pending = requeued;
            return Err(e.into());
        }
        if let Some(syslog) = &self.syslog {
            for event in events {
                syslog.send(event);
            }
        }
        Ok(())
    }
}

/// The most records waiting for a write that failed (a catalogue away for minutes under
/// load); beyond it the oldest are dropped, and the loss is logged.
const MAX_QUEUED: usize = 100_000;

/// Where the audit log of `data` is kept: the shared catalogue's table when `data` is bound
/// to one, else its `audit/` directory.
fn files_of(data: &DataDir) -> Result<Box<dyn Files>, TrailError> {
    match catalog_url(data)? {
        Some(url) => Ok(Box::new(TableFiles::connect(&url)?)),
        None => Ok(Box::new(DirFiles::new(&data.audit()))),
    }
}

fn catalog_url(data: &DataDir) -> Result<Option<String>, TrailError> {
    data.catalog_url().map_err(|source| TrailError::Io {
        path: data.catalog_url_file().display().to_string(),
        source,
    })
}

/// The trail's files in the shared catalogue's table: each file the chunks its writers
/// appended, one transaction (holding the writers' lock) per append.
#[derive(Debug)]
struct TableFiles(TrailTable);

impl TableFiles {
    fn connect(url: &str) -> Result<TableFiles, TrailError> {
        Ok(TableFiles(TrailTable::connect(url).map_err(table_error)?))
    }
}

/// A catalogue error as the trail's.
fn table_error(e: leakwatch_catalog::CatalogError) -> TrailError {
    TrailError::Io {
        path: "the catalogue's audit table".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// The bytes of file `seq` after its first `from`, out of its chunks from the one holding
/// byte `from` on, and where the last chunk ends. A gap between chunks (a row removed) is
/// damage at its offset.
fn join(seq: u32, from: u64, chunks: Vec<(u64, Vec<u8>)>) -> Result<(Vec<u8>, u64), TrailError> {
    let mut out = Vec::new();
    let mut end = from;
    for (off, bytes) in chunks {
        if off > end {
            return Err(TrailError::Broken(VerifyError::Damaged {
                file: leakwatch_trail::file_name(seq),
                offset: end,
            }));
        }
        let skip = (end - off) as usize;
        out.extend_from_slice(bytes.get(skip..).unwrap_or_default());
        end = end.max(off + bytes.len() as u64);
    }
    Ok((out, end))
}

impl Files for TableFiles {
    fn lock(&mut self) -> Result<Box<dyn Locked + '_>, TrailError> {
        Ok(Box::new(TableLocked(self.0.begin().map_err(table_error)?)))
    }

    fn seqs(&mut self) -> Result<Vec<u32>, TrailError> {
        self.0.seqs().map_err(table_error)
    }

    fn read(&mut self, seq: u32) -> Result<Vec<u8>, TrailError> {
        let chunks = self.0.chunks(seq, 0).map_err(table_error)?;
        Ok(join(seq, 0, chunks)?.0)
    }
}

/// The table while this writer's transaction holds the lock.
struct TableLocked<'a>(TrailTx<'a>);

impl Locked for TableLocked<'_> {
    fn newest(&mut self) -> Result<Option<u32>, TrailError> {
        self.0.newest().map_err(table_error)
    }

    fn read_from(&mut self, seq: u32, from: u64) -> Result<(Vec<u8>, u64), TrailError> {
        let chunks = self.0.chunks(seq, from).map_err(table_error)?;
        let (bytes, end) = join(seq, from, chunks)?;
        if end == from && bytes.is_empty() {
            // Nothing at or after `from`: the file may be shorter.
            return Ok((bytes, self.0.len(seq).map_err(table_error)?));
        }
        Ok((bytes, end))
    }

    fn create(&mut self, seq: u32, header: &[u8]) -> Result<(), TrailError> {
        self.0.insert(seq, 0, header).map_err(table_error)
    }

    fn append(&mut self, seq: u32, at: u64, bytes: &[u8]) -> Result<(), TrailError> {
        self.0.insert(seq, at, bytes).map_err(table_error)
    }

    fn cut(&mut self, seq: u32, len: u64) -> Result<(), TrailError> {
        // Appends commit whole here, so no writer leaves a torn record: bytes at the end
        // that do not read were put there by someone else, and stay for `verify` to name.
        Err(TrailError::Broken(VerifyError::Damaged {
            file: leakwatch_trail::file_name(seq),
            offset: len,
        }))
    }

    fn finish(self: Box<Self>) -> Result<(), TrailError> {
        self.0.commit().map_err(table_error)
    }
}

/// The keyed digest of `target` under `key` (case-folded, surrounding white space ignored).
pub fn digest(key: &AuditKey, target: &str) -> [u8; 16] {
    let target = target.trim();
    // Most targets (addresses, domains, prefixes) are already folded: no copy for them.
    if target
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        key.target_digest(target.to_lowercase().as_bytes())
    } else {
        key.target_digest(target.as_bytes())
    }
}

/// Checks the audit log of `data` against `key`; with `each`, hands every event to it in
/// order (file number, record number in the file, event).
pub fn verify(
    data: &DataDir,
    key: &AuditKey,
    each: Option<&mut dyn FnMut(u32, u64, Event)>,
) -> Result<Report, VerifyError> {
    let mut files = files_of(data).map_err(|e| VerifyError::Io(e.to_string()))?;
    leakwatch_trail::verify_in(files.as_mut(), key, each)
}

/// How the trail names a principal.
pub fn who(by: &Principal) -> Who {
    let (kind, id, name, tenant) = match by {
        Principal::ApiKey {
            id, name, tenant, ..
        } => (WhoKind::ApiKey, *id, name.as_str(), tenant.as_str()),
        Principal::Operator { user, uid, tenant } => (
            WhoKind::Operator,
            i64::from(*uid),
            user.as_str(),
            tenant.as_deref().unwrap_or(""),
        ),
        Principal::LinkHolder => (WhoKind::LinkHolder, 0, "", ""),
        Principal::Public => (WhoKind::Public, 0, "", ""),
        Principal::Leakwatch { tenant } => {
            (WhoKind::Leakwatch, 0, "", tenant.as_deref().unwrap_or(""))
        }
    };
    Who {
        kind,
        id,
        name: clip(name),
        tenant: clip(tenant),
    }
}

/// A name cut to the 255 bytes a record holds (at a character boundary).
fn clip(s: &str) -> String {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The name of a principal kind, as `show` and `export` print it.
pub fn kind_name(kind: WhoKind) -> &'static str {
    match kind {
        WhoKind::ApiKey => "api-key",
        WhoKind::Operator => "operator",
        WhoKind::LinkHolder => "link-holder",
        WhoKind::Public => "public",
        WhoKind::Leakwatch => "leakwatch",
        _ => "other",
    }
}

/// An event as one JSON object (what `export` writes a line of and syslog carries): the
/// target as its hex digest.
pub fn event_json(e: &Event) -> serde_json::Value {
    serde_json::json!({
        "time": rfc3339_ms(e.time_ms),
        "principal": {
            "kind": kind_name(e.who.kind),
            "id": e.who.id,
            "name": e.who.name,
            "tenant": e.who.tenant,
        },
        "action": e.action,
        "route": e.route,
        "target": e.target.map(|t| hex(&t)),
        "status": e.status,
        "size": e.size,
        "peer": e.peer.map(|p| p.to_string()),
    })
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of a time in Unix milliseconds.
pub fn rfc3339_ms(time_ms: u64) -> String {
    let seconds = crate::format_date_time(time_ms / 1000);
    format!("{}.{:03}Z", seconds.trim_end_matches('Z'), time_ms % 1000)
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A syslog datagram socket the records are copied to.
#[derive(Debug)]
struct Syslog {
    socket: UnixDatagram,
    path: PathBuf,
    host: String,
}

impl Syslog {
    fn connect(path: &Path) -> Result<Syslog, ServiceError> {
        let socket = UnixDatagram::unbound()
            .and_then(|s| s.connect(path).map(|()| s))
            .map_err(|e| ServiceError::Syslog(format!("{}: {e}", path.display())))?;
        Ok(Syslog {
            socket,
            path: path.to_owned(),
            host: host_name(),
        })
    }

    /// Sends one record. A collector that is down costs its copy, not the request (the
    /// trail on disk has the record); the loss is logged.
    fn send(&self, event: &Event) {
        let line = rfc5424(event, &self.host, std::process::id());
        if let Err(e) = self.socket.send(line.as_bytes()) {
            tracing::warn!(
                "forwarding an audit record to syslog at {} failed: {e}",
                self.path.display()
            );
        }
    }
}

/// An event as an RFC 5424 message: facility authpriv (10), severity notice (5), the
/// action as MSGID, the record as JSON in MSG.
pub fn rfc5424(event: &Event, host: &str, pid: u32) -> String {
    let msgid: String = event
        .action
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    format!(
        "<{}>1 {} {} leakwatch {} {} - {}",
        10 * 8 + 5,
        rfc3339_ms(event.time_ms),
        if host.is_empty() { "-" } else { host },
        pid,
        if msgid.is_empty() { "-" } else { &msgid },
        event_json(event)
    )
}

/// This machine's host name (`-` when it has none that syslog takes).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(255)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A target's digest is that of its trimmed, lower-cased text, whichever way it is
    /// reached (folded targets skip the copy): the key's holder finds one account's records
    /// however it was typed.
    #[test]
    fn digests_fold_case_and_space_with_or_without_a_copy() {
        let key = AuditKey::from_hex(&"5c".repeat(32)).unwrap();
        let folded = |t: &str| key.target_digest(t.trim().to_lowercase().as_bytes());
        for target in [
            "ann@corp.test",
            " Ann@Corp.TEST\n",
            "ÉVE@corp.test",
            "éve@corp.test",
            "İstanbul.test",
            "5BAA6",
            "5baa6",
            "",
        ] {
            assert_eq!(digest(&key, target), folded(target), "{target:?}");
        }
        assert_eq!(digest(&key, "Ann@Corp.test"), digest(&key, "ann@corp.test"));
        assert_ne!(digest(&key, "ann@corp.test"), digest(&key, "bob@corp.test"));
    }
}
