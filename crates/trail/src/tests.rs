//! The trail against tampering: every edit an insider with the files could make is caught
//! and placed, a crash's leftovers are reported and then sealed, and two writers keep one
//! chain.

use std::path::Path;

use super::*;
use crate::format::{KIND_CHECKPOINT, records};

fn key() -> AuditKey {
    AuditKey::from_hex(&"7a".repeat(32)).unwrap()
}

fn event(i: u64, who: &str) -> Event {
    Event {
        time_ms: 1_700_000_000_000 + i,
        who: Who {
            kind: WhoKind::ApiKey,
            id: 7,
            name: who.into(),
            tenant: "acme".into(),
        },
        action: "account.lookup".into(),
        route: "/api/v3/breachedaccount/{account}".into(),
        target: Some(key().target_digest(format!("user{i}@example.test").as_bytes())),
        status: 200,
        size: i % 3,
        peer: Some("192.0.2.10:51234".parse().unwrap()),
    }
}

/// A trail of `files` files with `per_file` sealed events each (small files rotate).
fn trail(dir: &Path, events: u64, max_file_bytes: u64) -> Trail {
    let mut t = Trail::open(dir, key(), max_file_bytes, 1).unwrap();
    for i in 0..events {
        t.append(&[event(i, "soc")], true, 10 + i).unwrap();
    }
    t
}

fn all_events(dir: &Path) -> Result<Vec<Event>, VerifyError> {
    let mut out = Vec::new();
    verify(dir, &key(), Some(&mut |_, _, e| out.push(e)))?;
    Ok(out)
}

fn file(dir: &Path, seq: u32) -> std::path::PathBuf {
    dir.join(crate::files::file_name(seq))
}

#[test]
fn events_come_back_as_written_and_name_no_target() {
    let tmp = tempfile::tempdir().unwrap();
    trail(tmp.path(), 20, 1 << 20);
    let got = all_events(tmp.path()).unwrap();
    assert_eq!(got, (0..20).map(|i| event(i, "soc")).collect::<Vec<_>>());
    let bytes = std::fs::read(file(tmp.path(), 1)).unwrap();
    for i in 0..20 {
        let target = format!("user{i}@example.test");
        assert!(!bytes.windows(target.len()).any(|w| w == target.as_bytes()));
    }
    // An event, once its names are written, is small.
    let (recs, _) = records(&bytes);
    let event_len = recs
        .iter()
        .filter(|(_, f, _)| f[2] == crate::format::KIND_EVENT)
        .map(|(_, f, _)| f.len())
        .max()
        .unwrap();
    assert!(event_len <= 100, "{event_len} bytes");
}

#[test]
fn every_edit_is_caught_and_placed() {
    let tmp = tempfile::tempdir().unwrap();
    // Small files: the trail spans several.
    trail(tmp.path(), 80, 4096);
    let seqs = DirFiles::new(tmp.path()).seqs().unwrap();
    assert!(seqs.len() >= 3, "{seqs:?}");
    let clean = verify(tmp.path(), &key(), None).unwrap();
    assert_eq!((clean.events, clean.unsealed, clean.torn_bytes), (80, 0, 0));
    let first = file(tmp.path(), 1);
    let original = std::fs::read(&first).unwrap();
    let (recs, _) = records(&original);
    let restore = || std::fs::write(&first, &original).unwrap();

    // A flipped byte anywhere in the file.
    for at in (0..original.len()).step_by(7) {
        let mut bytes = original.clone();
        bytes[at] ^= 0x20;
        std::fs::write(&first, &bytes).unwrap();
        assert!(
            verify(tmp.path(), &key(), None).is_err(),
            "byte {at} flipped unnoticed"
        );
    }
    restore();

    // A deleted event.
    let (at, framed, _) = recs
        .iter()
        .find(|(_, f, _)| f[2] == crate::format::KIND_EVENT)
        .unwrap();
    let mut bytes = original.clone();
    bytes.drain(*at..*at + framed.len());
    std::fs::write(&first, &bytes).unwrap();
    assert!(matches!(
        verify(tmp.path(), &key(), None),
        Err(VerifyError::Chain { .. } | VerifyError::Damaged { .. })
    ));
    restore();

    // Two events swapped.
    let events: Vec<_> = recs
        .iter()
        .filter(|(_, f, _)| f[2] == crate::format::KIND_EVENT)
        .collect();
    let (a, b) = (events[0], events[1]);
    let mut bytes = original[..a.0].to_vec();
    bytes.extend_from_slice(b.1);
    bytes.extend_from_slice(&original[a.0 + a.1.len()..b.0]);
    bytes.extend_from_slice(a.1);
    bytes.extend_from_slice(&original[b.0 + b.1.len()..]);
    std::fs::write(&first, &bytes).unwrap();
    let err = verify(tmp.path(), &key(), None).unwrap_err();
    assert!(matches!(err, VerifyError::Chain { .. }), "{err}");
    assert!(err.to_string().contains("trail-00000001.log"), "{err}");
    restore();

    // The file cut at a checkpoint (its last records removed, sealed as they were).
    let checkpoints: Vec<_> = recs
        .iter()
        .filter(|(_, f, _)| f[2] == KIND_CHECKPOINT)
        .collect();
    let (at, framed, _) = checkpoints[checkpoints.len() - 2];
    std::fs::write(&first, &original[..at + framed.len()]).unwrap();
    assert_eq!(
        verify(tmp.path(), &key(), None),
        Err(VerifyError::Cut {
            file: "trail-00000002.log".into()
        })
    );
    restore();

    // A removed file.
    let second = file(tmp.path(), 2);
    let kept = std::fs::read(&second).unwrap();
    std::fs::remove_file(&second).unwrap();
    assert_eq!(
        verify(tmp.path(), &key(), None),
        Err(VerifyError::Missing {
            file: "trail-00000002.log".into()
        })
    );
    std::fs::write(&second, kept).unwrap();

    // Another key's trail is not this one's.
    let other = AuditKey::from_hex(&"7b".repeat(32)).unwrap();
    assert!(matches!(
        verify(tmp.path(), &other, None),
        Err(VerifyError::OtherKey { .. })
    ));
    assert_eq!(verify(tmp.path(), &key(), None).unwrap(), clean);
}

#[test]
fn a_crash_mid_write_is_reported_then_sealed_by_the_next_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = trail(tmp.path(), 3, 1 << 20);
    // Records written without a seal (a server between checkpoints), then a torn record.
    t.append(&[event(10, "soc"), event(11, "soc")], false, 20)
        .unwrap();
    drop(t);
    let path = file(tmp.path(), 1);
    let mut bytes = std::fs::read(&path).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(&[40, 0, crate::format::KIND_EVENT, 1, 2, 3]);
    std::fs::write(&path, &bytes).unwrap();
    let report = verify(tmp.path(), &key(), None).unwrap();
    assert_eq!((report.unsealed, report.torn_bytes), (2, 6));
    // The next writer cuts the torn record and seals the two events.
    Trail::open(tmp.path(), key(), 1 << 20, 30).unwrap();
    assert!(std::fs::read(&path).unwrap().len() > whole);
    let report = verify(tmp.path(), &key(), None).unwrap();
    assert_eq!(
        (report.events, report.unsealed, report.torn_bytes),
        (5, 0, 0)
    );
}

#[test]
fn two_writers_keep_one_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Trail::open(tmp.path(), key(), 4096, 1).unwrap();
    let mut cli = Trail::open(tmp.path(), key(), 4096, 1).unwrap();
    for i in 0..30 {
        let (t, who) = if i % 3 == 0 {
            (&mut cli, "operator")
        } else {
            (&mut server, "soc")
        };
        t.append(&[event(i, who)], i % 2 == 0, 100 + i * 400)
            .unwrap();
    }
    server.append(&[], true, 99_999).unwrap();
    let got = all_events(tmp.path()).unwrap();
    let want: Vec<Event> = (0..30)
        .map(|i| event(i, if i % 3 == 0 { "operator" } else { "soc" }))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn the_audit_key_reads_only_as_64_hex_digits() {
    assert!(AuditKey::from_hex(&AuditKey::generate_hex()).is_ok());
    for bad in ["", "zz", &"7a".repeat(31), &"g0".repeat(32)] {
        assert!(AuditKey::from_hex(bad).is_err(), "{bad:?}");
    }
    let k = key();
    assert_eq!(k.target_digest(b"a"), k.target_digest(b"a"));
    assert_ne!(k.target_digest(b"a"), k.target_digest(b"b"));
    assert_ne!(
        k.target_digest(b"a"),
        AuditKey::from_hex(&"7b".repeat(32))
            .unwrap()
            .target_digest(b"a")
    );
}

#[test]
fn a_new_utc_day_starts_a_new_file_and_old_files_are_never_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let day = 86_400_000;
    let mut t = Trail::open(tmp.path(), key(), 1 << 20, 5 * day).unwrap();
    let at = |ms: u64, i: u64| Event {
        time_ms: ms,
        ..event(i, "soc")
    };
    t.append(&[at(5 * day + 1, 0), at(5 * day + 2, 1)], true, 5 * day + 3)
        .unwrap();
    let first = std::fs::read(file(tmp.path(), 1)).unwrap();
    t.append(&[at(6 * day + 1, 2)], true, 6 * day + 2).unwrap();
    assert_eq!(DirFiles::new(tmp.path()).seqs().unwrap(), vec![1, 2]);
    // The first file only gained its closing checkpoint.
    let after = std::fs::read(file(tmp.path(), 1)).unwrap();
    assert_eq!(&after[..first.len()], &first[..]);
    let got = all_events(tmp.path()).unwrap();
    assert_eq!(got.len(), 3);
    // A second writer continues the chain in the new file, reading only what is new.
    let mut other = Trail::open(tmp.path(), key(), 1 << 20, 6 * day + 3).unwrap();
    other
        .append(&[at(6 * day + 4, 3)], false, 6 * day + 4)
        .unwrap();
    t.append(&[at(6 * day + 5, 4)], true, 6 * day + 5).unwrap();
    let report = verify(tmp.path(), &key(), None).unwrap();
    assert_eq!((report.files, report.events, report.unsealed), (2, 5, 0));
}

#[test]
fn a_signature_holds_only_for_its_key_purpose_and_message() {
    let sig = key().sign("leakwatch backup manifest v1", b"files");
    assert!(key().verify_signature("leakwatch backup manifest v1", b"files", &sig));
    assert!(!key().verify_signature("leakwatch backup manifest v1", b"filez", &sig));
    assert!(!key().verify_signature("another use", b"files", &sig));
    let other = AuditKey::from_hex(&"7b".repeat(32)).unwrap();
    assert!(!other.verify_signature("leakwatch backup manifest v1", b"files", &sig));
}

/// A place whose appends commit whole at `finish` (as the catalogue's table does), shared by
/// its writers, and which can be told to fail the next `finish`.
#[derive(Debug, Clone, Default)]
struct Transactional {
    inner: std::sync::Arc<std::sync::Mutex<Shared>>,
}

#[derive(Debug, Default)]
struct Shared {
    files: std::collections::BTreeMap<u32, Vec<u8>>,
    fail_next_finish: bool,
}

struct Tx<'a> {
    place: &'a Transactional,
    staged: std::collections::BTreeMap<u32, Vec<u8>>,
}

impl Files for Transactional {
    fn lock(&mut self) -> Result<Box<dyn Locked + '_>, TrailError> {
        let staged = self.inner.lock().unwrap().files.clone();
        Ok(Box::new(Tx {
            place: self,
            staged,
        }))
    }
    fn seqs(&mut self) -> Result<Vec<u32>, TrailError> {
        Ok(self.inner.lock().unwrap().files.keys().copied().collect())
    }
    fn read(&mut self, seq: u32) -> Result<Vec<u8>, TrailError> {
        Ok(self.inner.lock().unwrap().files[&seq].clone())
    }
}

impl Locked for Tx<'_> {
    fn newest(&mut self) -> Result<Option<u32>, TrailError> {
        Ok(self.staged.keys().last().copied())
    }
    fn read_from(&mut self, seq: u32, from: u64) -> Result<(Vec<u8>, u64), TrailError> {
        let f = &self.staged[&seq];
        Ok((
            f.get(from as usize..).unwrap_or_default().to_vec(),
            f.len() as u64,
        ))
    }
    fn create(&mut self, seq: u32, header: &[u8]) -> Result<(), TrailError> {
        assert!(self.staged.insert(seq, header.to_vec()).is_none());
        Ok(())
    }
    fn append(&mut self, seq: u32, at: u64, bytes: &[u8]) -> Result<(), TrailError> {
        let f = self.staged.get_mut(&seq).unwrap();
        assert_eq!(
            f.len() as u64,
            at,
            "an append that does not start at the file's end"
        );
        f.extend_from_slice(bytes);
        Ok(())
    }
    fn cut(&mut self, _: u32, _: u64) -> Result<(), TrailError> {
        panic!("appends commit whole: nothing is ever torn")
    }
    fn finish(self: Box<Self>) -> Result<(), TrailError> {
        let mut shared = self.place.inner.lock().unwrap();
        if std::mem::take(&mut shared.fail_next_finish) {
            return Err(TrailError::Io {
                path: "the test place".into(),
                source: std::io::Error::other("connection lost"),
            });
        }
        shared.files = self.staged;
        Ok(())
    }
}

/// Regression for the shared catalogue's trail: a writer whose write failed (its
/// transaction rolled back) had counted its records as written, so its next append
/// continued a chain the place did not hold, and `verify` failed on it.
#[test]
fn a_write_that_failed_leaves_nothing_half_taken_and_the_next_one_continues_the_chain() {
    let place = Transactional::default();
    let mut a = Trail::open_in(Box::new(place.clone()), key(), 4096, 1).unwrap();
    let mut b = Trail::open_in(Box::new(place.clone()), key(), 4096, 2).unwrap();
    let mut written = Vec::new();
    for i in 0..120u64 {
        let (writer, who) = if i % 2 == 0 {
            (&mut a, "a")
        } else {
            (&mut b, "b")
        };
        let e = event(i, who);
        if i % 7 == 3 {
            place.inner.lock().unwrap().fail_next_finish = true;
            assert!(
                writer
                    .append(std::slice::from_ref(&e), true, 10 + i)
                    .is_err()
            );
            continue;
        }
        writer
            .append(std::slice::from_ref(&e), i % 5 == 0, 10 + i)
            .unwrap();
        written.push(e);
    }
    a.append(&[], true, 1000).unwrap();
    let mut got = Vec::new();
    let report = verify_in(&mut place.clone(), &key(), Some(&mut |_, _, e| got.push(e))).unwrap();
    assert!(report.files >= 2, "{report:?}");
    assert_eq!(report.unsealed, 0, "{report:?}");
    assert_eq!(got, written);
}

/// Regression: the key reader sliced the text by byte and parsed pairs with
/// `from_str_radix`, so a "+f" pair was a byte and 64 bytes of non-ASCII text panicked.
#[test]
fn a_key_file_with_anything_but_64_hex_digits_is_refused_not_misread() {
    let good = "0f".repeat(32);
    assert!(AuditKey::from_hex(&format!("  {good}\n")).is_ok());
    for bad in [
        format!("{}+f", "0f".repeat(31)),
        "é".repeat(32),
        format!("a€{}", "0f".repeat(30)), // 64 bytes; byte 2 is inside the '€'
        "0f".repeat(31),
    ] {
        assert!(
            matches!(AuditKey::from_hex(&bad), Err(TrailError::BadKey)),
            "{bad:?} accepted"
        );
    }
}
