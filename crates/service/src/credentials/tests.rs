//! A check of a split bucket, as a client makes it: asked with 20 bits, told the bits the
//! bucket is split into (remembered for the generation), asked again and answered with the
//! part holding the client's entry; a part too large even at 32 bits is refused.

use std::sync::Arc;

use leakwatch_credentials::{
    Blinded, entry_key, login_prefix, lookup, normalize_login, oprf_input, tag, tags_from_bytes,
};
use leakwatch_store::{Commit, Directory, Key, Namespace, RamDirectory, Snapshot, StoreWriter};

use super::*;

/// A store whose credential segment holds `crowd` random entries under each of `logins`
/// prefixes' 20-bit bucket (spread over its lower 12 bits, or all under one login when
/// `one_login`), and the exact entry of (`login`, `password`) under `key`.
fn store(key: &OprfKey, login: &str, password: &str, crowd: u64, one_login: bool) -> Snapshot {
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut w = StoreWriter::open(dir.clone()).unwrap();
    let login = normalize_login(login).unwrap();
    let prefix = login_prefix(&login);
    let output = key
        .evaluate(&oprf_input(&login, password).unwrap())
        .unwrap();
    let mut keys = vec![entry_key(prefix, tag(&output, Match::Exact))];
    let mut state = 0x5eed_u64;
    for _ in 0..crowd {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let low = if one_login {
            prefix & 0xFFF
        } else {
            (state >> 52) as u32
        };
        let p = (prefix & !0xFFF) | low;
        keys.push(entry_key(
            p,
            u128::from(state) << 32 | u128::from(state >> 40),
        ));
    }
    keys.sort_unstable();
    keys.dedup();
    let (name, mut seg) = w
        .create_segment(Namespace::Credential, keys.len() as u64)
        .unwrap();
    for k in keys {
        seg.push(Key::from_digest(&k.to_be_bytes()).unwrap(), 1)
            .unwrap();
    }
    let mut meta = StoreWriter::segment_meta(name, Namespace::Credential, seg.finish().unwrap());
    meta.oprf_key = Some(key.fingerprint().to_owned());
    w.commit(Commit {
        added: vec![meta],
        ..Commit::default()
    })
    .unwrap();
    Snapshot::open(dir.as_ref()).unwrap()
}

fn keys_file(key: &OprfKey) -> (tempfile::TempDir, CredentialKeys) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("oprf.key");
    crate::key_files::write_private(&path, &key.to_hex()).unwrap();
    (tmp, CredentialKeys::new(OprfKeyFile::new(path)))
}

#[test]
fn a_split_bucket_names_its_bits_and_its_part_holds_the_clients_entry() {
    let key = OprfKey::from_hex(&OprfKey::generate_hex()).unwrap();
    let (login, password) = ("crowded@example.com", "Summer2024");
    // 150,000 entries in the bucket: more than an answer holds, split into 22 bits (~37,500 a
    // part), as a bucket of a 16-billion-credential store is.
    let snap = store(&key, login, password, 150_000, false);
    let (_tmp, keys) = keys_file(&key);
    let by = Principal::operator();
    let normal = normalize_login(login).unwrap();
    let input = oprf_input(&normal, password).unwrap();
    let ask = |bits: u32, blinded: &Blinded| CheckRequest {
        bucket: leakwatch_credentials::bucket_of(&normal, bits),
        bucket_bits: bits,
        blinded: blinded.message().to_vec(),
    };
    let blinded = Blinded::new(&input).unwrap();
    let CheckAnswer::MoreBits(bits) = check(&snap, &keys, &by, &ask(20, &blinded)).unwrap() else {
        panic!("a split bucket answered at 20 bits");
    };
    assert_eq!(bits, 22);
    // Remembered: asked again with 20 bits, the same answer without a read.
    assert_eq!(
        keys.split_bits(snap.generation(), bits_bucket(&normal)),
        Some(22)
    );
    assert_eq!(
        check(&snap, &keys, &by, &ask(20, &blinded)).unwrap(),
        CheckAnswer::MoreBits(22)
    );
    let CheckAnswer::Entries {
        bucket_bits,
        evaluated,
        tags,
        entries,
    } = check(&snap, &keys, &by, &ask(22, &blinded)).unwrap()
    else {
        panic!("no entries at 22 bits");
    };
    assert_eq!(bucket_bits, 22);
    assert!((30_000..=45_000).contains(&entries), "{entries}");
    assert!(entries <= MAX_ANSWER_ENTRIES);
    let tags = tags_from_bytes(&tags).unwrap();
    assert_eq!(tags.len(), entries);
    let output = blinded.finalize(&input, &evaluated).unwrap();
    assert_eq!(lookup(&tags, &output), Some(Match::Exact));
    // More bits than needed are answered too (the client's choice), still holding it.
    let CheckAnswer::Entries { tags, .. } = check(&snap, &keys, &by, &ask(26, &blinded)).unwrap()
    else {
        panic!("no entries at 26 bits");
    };
    assert_eq!(
        lookup(&tags_from_bytes(&tags).unwrap(), &output),
        Some(Match::Exact)
    );
    // Without the scope, nothing.
    assert!(matches!(
        check(&snap, &keys, &Principal::Public, &ask(22, &blinded)),
        Err(ServiceError::MissingScope(_))
    ));
    // The page's route answers the public the same, and only the public.
    assert_eq!(
        check_from_page(&snap, &keys, &Principal::Public, &ask(22, &blinded)).unwrap(),
        check(&snap, &keys, &by, &ask(22, &blinded)).unwrap()
    );
    assert!(matches!(
        check_from_page(&snap, &keys, &by, &ask(22, &blinded)),
        Err(ServiceError::MissingScope(_))
    ));
}

fn bits_bucket(login: &str) -> u32 {
    leakwatch_credentials::bucket_of(login, BUCKET_BITS)
}

#[test]
fn one_login_with_more_entries_than_an_answer_holds_is_refused_at_32_bits() {
    let key = OprfKey::from_hex(&OprfKey::generate_hex()).unwrap();
    let snap = store(&key, "hoarder@example.com", "x", 70_000, true);
    let (_tmp, keys) = keys_file(&key);
    let normal = normalize_login("hoarder@example.com").unwrap();
    let blinded = Blinded::new(&oprf_input(&normal, "x").unwrap()).unwrap();
    let ask = |bits| CheckRequest {
        bucket: leakwatch_credentials::bucket_of(&normal, bits),
        bucket_bits: bits,
        blinded: blinded.message().to_vec(),
    };
    let by = Principal::operator();
    assert_eq!(
        check(&snap, &keys, &by, &ask(20)).unwrap(),
        CheckAnswer::MoreBits(32)
    );
    assert!(matches!(
        check(&snap, &keys, &by, &ask(32)),
        Err(ServiceError::Credentials(CredentialsError::TooLarge))
    ));
    // Bad requests: bits outside 20..=32, a bucket too large for its bits, a bad element.
    for (bucket, bits) in [(0, 19), (0, 33), (1 << 20, 20)] {
        let request = CheckRequest {
            bucket,
            bucket_bits: bits,
            blinded: vec![0; 32],
        };
        assert!(matches!(
            check(&snap, &keys, &by, &request),
            Err(ServiceError::Credentials(CredentialsError::BucketBits))
        ));
    }
    let snap_small = store(&key, "one@example.com", "y", 10, false);
    let bad = CheckRequest {
        bucket: bits_bucket(&normalize_login("one@example.com").unwrap()),
        bucket_bits: 20,
        blinded: vec![0xFF; 32],
    };
    assert!(matches!(
        check(&snap_small, &keys, &by, &bad),
        Err(ServiceError::Credentials(CredentialsError::Element))
    ));
}
