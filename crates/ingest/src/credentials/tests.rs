//! A credential build over a small fictional dump and stealer log, checked the way a client
//! checks: blinded, evaluated by the server's key, finalised, looked up in the bucket the
//! store answers. The variants the test expects are written out here from MIGP's rules, not
//! taken from the implementation.

use std::sync::Arc;

use leakwatch_credentials::{
    BUCKET_BITS, Blinded, Match, OprfKey, answer_bits, bucket_of, bucket_tags, lookup,
    normalize_login, oprf_input,
};
use leakwatch_store::{Directory, Namespace, RamDirectory, Snapshot, StoreWriter};

use super::{CredentialSource, build_credentials};
use crate::{IngestError, IngestOptions, Source};

/// What a client learns for (`login`, `password`) from the store in `dir` under `key`.
fn check(dir: &dyn Directory, key: &OprfKey, login: &str, password: &str) -> Option<Match> {
    let login = normalize_login(login).unwrap();
    let input = oprf_input(&login, password).unwrap();
    let blinded = Blinded::new(&input).unwrap();
    let evaluated = key.blind_evaluate(blinded.message()).unwrap();
    let output = blinded.finalize(&input, &evaluated).unwrap();
    let snap = Snapshot::open(dir).unwrap();
    let keys = snap
        .credential_range(bucket_of(&login, BUCKET_BITS))
        .unwrap();
    let bits = answer_bits(&keys).unwrap();
    let tags = bucket_tags(&keys, bucket_of(&login, bits), bits);
    lookup(&tags, &output)
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: Arc<dyn Directory>,
    sources: Vec<CredentialSource>,
    opts: IngestOptions,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("shop.txt");
    std::fs::write(
        &dump,
        "Alice.Smith@Example.COM:Summer2024\n\
         bob@example.org:hunter22\n\
         a line without a separator\n\
         dave@example.net:\n\
         erin@example.com:p@ssw0rd\n",
    )
    .unwrap();
    let logs = tmp.path().join("logs.txt");
    std::fs::write(
        &logs,
        "https://shop.example.net/login:Carol_99:Winter2023\n\
         https://mail.example.org/:frank@example.org:correct horse\n",
    )
    .unwrap();
    let mut opts = IngestOptions::new(tmp.path());
    opts.progress = false;
    opts.status_file = None;
    Fixture {
        dir: Arc::new(RamDirectory::new()),
        sources: vec![
            CredentialSource {
                source: Source::File(dump),
                stealer: false,
            },
            CredentialSource {
                source: Source::File(logs),
                stealer: true,
            },
        ],
        opts,
        _tmp: tmp,
    }
}

#[test]
fn every_leaked_pair_is_exact_its_variants_similar_and_anything_else_not_found() {
    let f = fixture();
    let key = OprfKey::from_hex(&OprfKey::generate_hex()).unwrap();
    let mut writer = StoreWriter::open(f.dir.clone()).unwrap();
    let build = build_credentials(&mut writer, &f.sources, &key, &f.opts, false).unwrap();
    // Three dump pairs and two captures; two dump lines hold no pair.
    assert_eq!(build.pairs, 5);
    assert_eq!(build.rejected, 2);
    assert_eq!(build.lines, 7);
    assert!(build.evaluations > build.pairs && build.evaluations <= 11 * build.pairs);
    assert_eq!(build.entries.distinct, build.evaluations);
    let snap = Snapshot::open(f.dir.as_ref()).unwrap();
    assert_eq!(snap.credential_key(), Some(key.fingerprint()));
    drop(snap);

    let dir = f.dir.as_ref();
    let leaked = [
        // The login as a user types it: normalised on both sides.
        ("alice.smith@example.com", "Summer2024"),
        ("ALICE.SMITH@EXAMPLE.COM", "Summer2024"),
        ("bob@example.org", "hunter22"),
        ("erin@example.com", "p@ssw0rd"),
        ("carol_99", "Winter2023"),
        ("frank@example.org", "correct horse"),
    ];
    for (login, password) in leaked {
        assert_eq!(
            check(dir, &key, login, password),
            Some(Match::Exact),
            "{login}"
        );
    }
    // MIGP's rules, applied by hand: a symbol or digit appended, the first letter's case
    // switched, the trailing number stepped, the trailing digits removed.
    let similar = [
        ("alice.smith@example.com", "Summer2024!"),
        ("alice.smith@example.com", "Summer20241"),
        ("alice.smith@example.com", "summer2024"),
        ("alice.smith@example.com", "Summer2025"),
        ("alice.smith@example.com", "Summer"),
        ("bob@example.org", "Hunter22"),
        ("carol_99", "Winter2023!"),
    ];
    for (login, password) in similar {
        assert_eq!(
            check(dir, &key, login, password),
            Some(Match::Similar),
            "{password}"
        );
    }
    let not_found = [
        // A leaked password under another login, a leaked login with another password.
        ("bob@example.org", "Summer2024"),
        ("alice.smith@example.com", "Autumn2024"),
        ("alice.smith@example.com", "Summer2024!!"),
        ("dave@example.net", ""),
        ("nobody@example.com", "hunter22"),
    ];
    for (login, password) in not_found {
        if password.is_empty() {
            continue; // no input to check: an empty password was never leaked
        }
        assert_eq!(
            check(dir, &key, login, password),
            None,
            "{login} {password}"
        );
    }
}

#[test]
fn a_source_built_before_is_skipped_and_another_key_must_rotate() {
    let f = fixture();
    let key = OprfKey::from_hex(&OprfKey::generate_hex()).unwrap();
    let mut writer = StoreWriter::open(f.dir.clone()).unwrap();
    let first = build_credentials(&mut writer, &f.sources, &key, &f.opts, false).unwrap();
    let again = build_credentials(&mut writer, &f.sources, &key, &f.opts, false).unwrap();
    assert!(again.sources.iter().all(|s| s.already_built));
    assert_eq!(again.generation, first.generation);
    assert_eq!(again.evaluations, 0);

    let other = OprfKey::from_hex(&OprfKey::generate_hex()).unwrap();
    let refused = build_credentials(&mut writer, &f.sources, &other, &f.opts, false);
    assert!(matches!(refused, Err(IngestError::OtherOprfKey(_))));

    // Rotation: every source again under the new key, the old segments retired in the swap.
    let rotated = build_credentials(&mut writer, &f.sources, &other, &f.opts, true).unwrap();
    assert_eq!(rotated.retired, 1);
    assert_eq!(rotated.pairs, first.pairs);
    let snap = Snapshot::open(f.dir.as_ref()).unwrap();
    assert_eq!(snap.credential_key(), Some(other.fingerprint()));
    assert_eq!(snap.segments(Namespace::Credential).len(), 1);
    drop(snap);
    let dir = f.dir.as_ref();
    assert_eq!(
        check(dir, &other, "bob@example.org", "hunter22"),
        Some(Match::Exact)
    );
    // Under the retired key, nothing is found any more.
    assert_eq!(check(dir, &key, "bob@example.org", "hunter22"), None);
}
