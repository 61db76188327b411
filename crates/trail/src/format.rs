//! The bytes of a trail file (FORMAT.md, "Audit trail"): an 84-byte header, then records,
//! each a u16 length and a body whose first byte is its kind — a name (a principal or a
//! text, numbered within the file), an event, or a checkpoint.

use std::net::{IpAddr, SocketAddr};

/// The file's magic number and format version.
pub(crate) const MAGIC: &[u8; 8] = b"LWTRAIL1";
/// magic, seq u32, previous count u64, previous chain [32], verifying key [32].
pub(crate) const HEADER_LEN: usize = 8 + 4 + 8 + 32 + 32;

pub(crate) const KIND_NAME: u8 = 1;
pub(crate) const KIND_EVENT: u8 = 2;
pub(crate) const KIND_CHECKPOINT: u8 = 3;

const NAME_WHO: u8 = 1;
const NAME_TEXT: u8 = 2;

/// Who acted, as the trail records it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Who {
    /// What kind of principal.
    pub kind: WhoKind,
    /// The API key's id, or the operator's uid; 0 for the others.
    pub id: i64,
    /// The key's name, or the operator's user name.
    pub name: String,
    /// The key's tenant (or the one the operator acted for); empty for none.
    pub tenant: String,
}

/// The kinds of principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WhoKind {
    /// An API key.
    ApiKey,
    /// The operator at a shell.
    Operator,
    /// The holder of a mailed link.
    LinkHolder,
    /// A visitor without a key.
    Public,
    /// leakwatch's own worker.
    Leakwatch,
}

impl WhoKind {
    fn code(self) -> u8 {
        match self {
            WhoKind::ApiKey => 1,
            WhoKind::Operator => 2,
            WhoKind::LinkHolder => 3,
            WhoKind::Public => 4,
            WhoKind::Leakwatch => 5,
        }
    }

    fn from_code(code: u8) -> Option<WhoKind> {
        Some(match code {
            1 => WhoKind::ApiKey,
            2 => WhoKind::Operator,
            3 => WhoKind::LinkHolder,
            4 => WhoKind::Public,
            5 => WhoKind::Leakwatch,
            _ => return None,
        })
    }
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When (Unix milliseconds).
    pub time_ms: u64,
    /// Who did it.
    pub who: Who,
    /// What (`account.lookup`, `keys.create`, …).
    pub action: String,
    /// The route template or the command.
    pub route: String,
    /// The keyed digest of what it was done to, if anything (`AuditKey::target_digest`).
    pub target: Option<[u8; 16]>,
    /// The result: an HTTP status, or 0 / 1 for a command's success / failure.
    pub status: u16,
    /// How much went out: accounts, aliases, breaches or rows.
    pub size: u64,
    /// The client's address, for a request.
    pub peer: Option<SocketAddr>,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    /// Name number `id` of this file stands for a principal.
    NameWho(u16, Who),
    /// Name number `id` of this file stands for a text (an action or a route).
    NameText(u16, String),
    /// An event, its names by number.
    Event(RawEvent),
    /// A checkpoint.
    Checkpoint(Checkpoint),
}

/// An event as written (names by number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEvent {
    pub time_ms: u64,
    pub who: u16,
    pub action: u16,
    pub route: u16,
    pub target: Option<[u8; 16]>,
    pub status: u16,
    pub size: u64,
    pub peer: Option<SocketAddr>,
}

impl RawEvent {
    /// `e` as written, its names by these numbers.
    pub(crate) fn of(e: &Event, who: u16, action: u16, route: u16) -> RawEvent {
        RawEvent {
            time_ms: e.time_ms,
            who,
            action,
            route,
            target: e.target,
            status: e.status,
            size: e.size,
            peer: e.peer,
        }
    }

    /// The event this stands for, its names read back.
    pub(crate) fn named(&self, who: Who, action: String, route: String) -> Event {
        Event {
            time_ms: self.time_ms,
            who,
            action,
            route,
            target: self.target,
            status: self.status,
            size: self.size,
            peer: self.peer,
        }
    }
}

/// A checkpoint: the chain over every record before it, signed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Checkpoint {
    pub time_ms: u64,
    /// Records of the whole trail before this one.
    pub count: u64,
    pub chain: [u8; 32],
    pub signature: [u8; 64],
}

/// What a checkpoint's signature covers.
pub(crate) fn signed_message(seq: u32, count: u64, chain: &[u8; 32], time_ms: u64) -> Vec<u8> {
    let mut m = b"leakwatch trail checkpoint v1".to_vec();
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(&count.to_le_bytes());
    m.extend_from_slice(chain);
    m.extend_from_slice(&time_ms.to_le_bytes());
    m
}

/// A file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub seq: u32,
    pub prev_count: u64,
    pub prev_chain: [u8; 32],
    pub verifying_key: [u8; 32],
}

impl Header {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.prev_count.to_le_bytes());
        out.extend_from_slice(&self.prev_chain);
        out.extend_from_slice(&self.verifying_key);
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Header> {
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return None;
        }
        Some(Header {
            seq: u32::from_le_bytes(bytes[8..12].try_into().ok()?),
            prev_count: u64::from_le_bytes(bytes[12..20].try_into().ok()?),
            prev_chain: bytes[20..52].try_into().ok()?,
            verifying_key: bytes[52..84].try_into().ok()?,
        })
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), crate::TrailError> {
    let len = u8::try_from(s.len()).map_err(|_| crate::TrailError::TooLong)?;
    out.push(len);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// A record's bytes: the u16 length, then the body.
fn framed(body: Vec<u8>) -> Vec<u8> {
    let mut out = (body.len() as u16).to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

impl Record {
    pub fn encode(&self) -> Result<Vec<u8>, crate::TrailError> {
        let mut b = Vec::with_capacity(64);
        match self {
            Record::NameWho(id, who) => {
                b.push(KIND_NAME);
                b.extend_from_slice(&id.to_le_bytes());
                b.push(NAME_WHO);
                b.push(who.kind.code());
                b.extend_from_slice(&who.id.to_le_bytes());
                put_str(&mut b, &who.name)?;
                put_str(&mut b, &who.tenant)?;
            }
            Record::NameText(id, text) => {
                b.push(KIND_NAME);
                b.extend_from_slice(&id.to_le_bytes());
                b.push(NAME_TEXT);
                put_str(&mut b, text)?;
            }
            Record::Event(e) => {
                b.push(KIND_EVENT);
                b.extend_from_slice(&e.time_ms.to_le_bytes());
                for n in [e.who, e.action, e.route] {
                    b.extend_from_slice(&n.to_le_bytes());
                }
                match e.target {
                    Some(t) => {
                        b.push(1);
                        b.extend_from_slice(&t);
                    }
                    None => b.push(0),
                }
                b.extend_from_slice(&e.status.to_le_bytes());
                b.extend_from_slice(&e.size.to_le_bytes());
                match e.peer {
                    None => b.push(0),
                    Some(SocketAddr::V4(a)) => {
                        b.push(4);
                        b.extend_from_slice(&a.ip().octets());
                        b.extend_from_slice(&a.port().to_le_bytes());
                    }
                    Some(SocketAddr::V6(a)) => {
                        b.push(6);
                        b.extend_from_slice(&a.ip().octets());
                        b.extend_from_slice(&a.port().to_le_bytes());
                    }
                }
            }
            Record::Checkpoint(c) => {
                b.push(KIND_CHECKPOINT);
                b.extend_from_slice(&c.time_ms.to_le_bytes());
                b.extend_from_slice(&c.count.to_le_bytes());
                b.extend_from_slice(&c.chain);
                b.extend_from_slice(&c.signature);
            }
        }
        Ok(framed(b))
    }

    /// The record whose body is `body` (without its length), if it is well-formed.
    pub fn decode(body: &[u8]) -> Option<Record> {
        let mut r = Reader(body);
        let record = match r.u8()? {
            KIND_NAME => {
                let id = r.u16()?;
                match r.u8()? {
                    NAME_WHO => {
                        let kind = WhoKind::from_code(r.u8()?)?;
                        let id_ = r.i64()?;
                        let name = r.str()?;
                        let tenant = r.str()?;
                        Record::NameWho(
                            id,
                            Who {
                                kind,
                                id: id_,
                                name,
                                tenant,
                            },
                        )
                    }
                    NAME_TEXT => Record::NameText(id, r.str()?),
                    _ => return None,
                }
            }
            KIND_EVENT => {
                let time_ms = r.u64()?;
                let (who, action, route) = (r.u16()?, r.u16()?, r.u16()?);
                let target = match r.u8()? {
                    0 => None,
                    1 => Some(r.take(16)?.try_into().ok()?),
                    _ => return None,
                };
                let status = r.u16()?;
                let size = r.u64()?;
                let peer = match r.u8()? {
                    0 => None,
                    4 => {
                        let ip: [u8; 4] = r.take(4)?.try_into().ok()?;
                        Some(SocketAddr::new(IpAddr::from(ip), r.u16()?))
                    }
                    6 => {
                        let ip: [u8; 16] = r.take(16)?.try_into().ok()?;
                        Some(SocketAddr::new(IpAddr::from(ip), r.u16()?))
                    }
                    _ => return None,
                };
                Record::Event(RawEvent {
                    time_ms,
                    who,
                    action,
                    route,
                    target,
                    status,
                    size,
                    peer,
                })
            }
            KIND_CHECKPOINT => Record::Checkpoint(Checkpoint {
                time_ms: r.u64()?,
                count: r.u64()?,
                chain: r.take(32)?.try_into().ok()?,
                signature: r.take(64)?.try_into().ok()?,
            }),
            _ => return None,
        };
        // Every byte of the body is accounted for.
        r.0.is_empty().then_some(record)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u8()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// One record as found in a file: its offset, its framed bytes, and what they decode to
/// (none: damaged).
pub(crate) type Found<'a> = (usize, &'a [u8], Option<Record>);

/// Splits a file's bytes after the header into records, and the offset where the framed
/// records end (less than the length: a torn record there).
pub(crate) fn records(bytes: &[u8]) -> (Vec<Found<'_>>, usize) {
    let from = HEADER_LEN.min(bytes.len());
    records_from(&bytes[from..], from)
}

/// Splits `bytes`, which start at file offset `base` on a record boundary, into records;
/// offsets are the file's.
pub(crate) fn records_from(bytes: &[u8], base: usize) -> (Vec<Found<'_>>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 2 <= bytes.len() {
        let len = u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
        if len == 0 || at + 2 + len > bytes.len() {
            break;
        }
        let framed = &bytes[at..at + 2 + len];
        out.push((base + at, framed, Record::decode(&framed[2..])));
        at += 2 + len;
    }
    (out, base + at)
}
