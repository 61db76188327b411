//! The credential namespace: entries are read a bucket at a time, never as a range or a
//! count, and every live credential segment names the one OPRF key it was built under.

use super::*;

/// A credential segment of `data` built under the OPRF key with fingerprint `key`.
fn credential_segment(w: &mut StoreWriter, data: &BTreeMap<Key, u64>, key: &str) -> SegmentMeta {
    let mut meta = write_segment(w, Namespace::Credential, data);
    meta.oprf_key = Some(key.to_owned());
    meta
}

/// The keys of `data` under the 20-bit `prefix`, as a bucket read must give them.
fn reference_bucket(data: &[&BTreeMap<Key, u64>], prefix: u32) -> Vec<u128> {
    let mut keys: Vec<u128> = data
        .iter()
        .flat_map(|d| d.keys())
        .map(|k| k.low_u128())
        .filter(|k| (k >> 108) as u32 == prefix)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[test]
fn credential_buckets_merge_segments_and_survive_compaction_with_their_key() {
    for (dir, _tmp) in backends() {
        let mut w = StoreWriter::open(dir.clone()).unwrap();
        let a = keys(Namespace::Credential, 3_000, 1);
        let mut b = keys(Namespace::Credential, 3_000, 2);
        // Some entries built again by a later build: read once.
        b.extend(a.iter().take(100).map(|(k, c)| (*k, *c)));
        let meta = credential_segment(&mut w, &a, "f1");
        publish(&mut w, meta);
        let meta = credential_segment(&mut w, &b, "f1");
        publish(&mut w, meta);
        let snap = Snapshot::open(dir.as_ref()).unwrap();
        assert_eq!(snap.credential_key(), Some("f1"));
        // Every bucket either segment fills, and their neighbours.
        let mut both = a.clone();
        both.extend(b.iter().map(|(k, c)| (*k, *c)));
        let prefixes = prefixes_around(&both, Namespace::Credential);
        for &p in &prefixes {
            assert_eq!(
                snap.credential_range(p).unwrap(),
                reference_bucket(&[&a, &b], p)
            );
        }
        // Version 5, which a version-4 reader refuses instead of misreading.
        let bytes = dir.read_manifest_bytes().unwrap().unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains("\"format_version\": 5"));
        // Buckets only: never a range answer or a count.
        let any = *a.keys().next().unwrap();
        assert!(snap.range(Namespace::Credential, 0).is_err());
        assert!(snap.count(Namespace::Credential, any).is_err());

        let stats = w.compact(Namespace::Credential).unwrap().unwrap();
        assert_eq!(stats.merged, 2);
        let snap = Snapshot::open(dir.as_ref()).unwrap();
        assert_eq!(snap.segments(Namespace::Credential).len(), 1);
        assert_eq!(snap.credential_key(), Some("f1"));
        snap.verify().unwrap();
        for &p in &prefixes {
            assert_eq!(
                snap.credential_range(p).unwrap(),
                reference_bucket(&[&a, &b], p)
            );
        }
    }
}

#[test]
fn credential_segments_under_two_oprf_keys_are_refused_as_corrupt() {
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut w = StoreWriter::open(dir.clone()).unwrap();
    let a = credential_segment(&mut w, &keys(Namespace::Credential, 10, 1), "f1");
    let b = credential_segment(&mut w, &keys(Namespace::Credential, 10, 2), "f2");
    let mut manifest = w.manifest().clone();
    manifest.segments = vec![a.clone(), b];
    let err = Snapshot::open_manifest(dir.as_ref(), manifest.clone()).unwrap_err();
    assert!(err.to_string().contains("different OPRF keys"), "{err}");
    // Nor one that does not say which key.
    let mut unnamed = a;
    unnamed.oprf_key = None;
    manifest.segments = vec![unnamed];
    let err = Snapshot::open_manifest(dir.as_ref(), manifest).unwrap_err();
    assert!(err.to_string().contains("OPRF key"), "{err}");
}

/// A split bucket's part is read from its own groups: for every number of bits from 20 to 32,
/// the part's keys are exactly those whose first bits are the part's, at the key space's
/// two ends too (where the end of the part wraps), with one segment and with two.
#[test]
fn a_split_buckets_part_holds_exactly_the_keys_under_its_bits() {
    let mut state = 0x1234_5678_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut a: BTreeMap<Key, u64> = keys(Namespace::Credential, 2_000, 3);
    // A crowded bucket, and keys at the lowest and the highest login prefixes.
    for login in
        (0..6_000u64)
            .map(|i| 0xABCD_E000 | (i * 7 % 4096))
            .chain([0, 1, 0xFFFF_FFFF, 0xFFFF_FFFE])
    {
        let k = u128::from(login) << 96 | u128::from(next()) << 32 | u128::from(next() >> 32);
        a.insert(Key::from_digest(&k.to_be_bytes()).unwrap(), 1);
    }
    let b = keys(Namespace::Credential, 500, 4);
    for both in [false, true] {
        let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
        let mut w = StoreWriter::open(dir.clone()).unwrap();
        let meta = credential_segment(&mut w, &a, "f1");
        publish(&mut w, meta);
        if both {
            let meta = credential_segment(&mut w, &b, "f1");
            publish(&mut w, meta);
        }
        let snap = Snapshot::open(dir.as_ref()).unwrap();
        let all: Vec<u128> = {
            let mut v: Vec<u128> = a
                .keys()
                .chain(b.keys().filter(|_| both))
                .map(|k| k.low_u128())
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        for bits in 20..=32u32 {
            let login = |k: u128| (k >> 96) as u32;
            let parts = [
                0xABCD_E000u32,
                0xABCD_E7FF,
                0,
                0xFFFF_FFFF,
                login(all[all.len() / 3]),
            ]
            .map(|p| p >> (32 - bits));
            for part in parts {
                let expected: Vec<u128> = all
                    .iter()
                    .copied()
                    .filter(|&k| login(k) >> (32 - bits) == part)
                    .collect();
                assert_eq!(
                    snap.credential_part(part, bits).unwrap(),
                    expected,
                    "bits {bits} part {part:x} two segments {both}"
                );
            }
        }
    }
}
