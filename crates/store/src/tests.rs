//! Store-level tests: segment round trips against a reference map, compaction, crash
//! leftovers, corruption detection, and the size bound. Run on both directory backends.

use std::{collections::BTreeMap, io::Write, sync::Arc};

use crate::{segment::FOOTER_LEN, *};

/// Deterministic pseudo-random keys (SplitMix64), independent of the code under test.
fn keys(ns: Namespace, n: usize, seed: u64) -> BTreeMap<Key, u64> {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut out = BTreeMap::new();
    while out.len() < n {
        let mut digest = vec![0u8; ns.hex_len() / 2];
        for chunk in digest.chunks_mut(8) {
            let v = next().to_be_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        let count = 1
            + (next() % 1000).pow(3) / 1_000_000
            + u64::from(next() % 97 == 0) * next() % 1_000_000;
        out.insert(Key::from_digest(&digest).unwrap(), count);
    }
    out
}

fn write_segment(w: &mut StoreWriter, ns: Namespace, data: &BTreeMap<Key, u64>) -> SegmentMeta {
    let (name, mut sw) = w.create_segment(ns, data.len() as u64).unwrap();
    for (&k, &c) in data {
        sw.push(k, c).unwrap();
    }
    StoreWriter::segment_meta(name, ns, sw.finish().unwrap())
}

fn reference_range(data: &BTreeMap<Key, u64>, ns: Namespace, prefix: u32) -> Vec<(Key, u64)> {
    let lo = Key::first_with_prefix(ns, prefix as u64, PREFIX_BITS);
    data.range(lo..)
        .take_while(|(k, _)| k.prefix(ns) == prefix)
        .map(|(&k, &c)| (k, c))
        .collect()
}

/// A range's text answer made with `format!`, independently of `render.rs`.
fn reference_text(ns: Namespace, entries: &[(Key, u64)]) -> String {
    let digits = ns.suffix_hex_len();
    entries
        .iter()
        .map(|(k, c)| {
            let hex = format!("{k:?}"); // Key(40 hex digits)
            format!("{}:{c}", &hex[4 + 40 - digits..4 + 40])
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn backends() -> Vec<(Arc<dyn Directory>, Option<tempfile::TempDir>)> {
    let tmp = tempfile::tempdir().unwrap();
    vec![
        (Arc::new(RamDirectory::new()), None),
        (
            Arc::new(MmapDirectory::open(tmp.path()).unwrap()),
            Some(tmp),
        ),
    ]
}

#[test]
fn ranges_and_lookups_match_reference_for_every_size_and_namespace() {
    for (dir, _keep) in backends() {
        for ns in Namespace::ALL {
            for (n, seed) in [(0usize, 1u64), (1, 2), (300, 3), (20_000, 4)] {
                let data = keys(ns, n, seed);
                let mut w = StoreWriter::open(dir.clone()).unwrap();
                let meta = write_segment(&mut w, ns, &data);
                w.commit(Commit {
                    added: vec![meta.clone()],
                    ..Commit::default()
                })
                .unwrap();
                let seg = Segment::open(&meta.file, dir.open_read(&meta.file).unwrap()).unwrap();
                seg.verify().unwrap();
                let all: Vec<(Key, u64)> = seg.iter().map(|r| r.unwrap()).collect();
                assert_eq!(all, data.iter().map(|(&k, &c)| (k, c)).collect::<Vec<_>>());
                // Every prefix that holds a key, plus its neighbours and the extremes.
                let mut prefixes: Vec<u32> = data
                    .keys()
                    .flat_map(|k| {
                        let p = k.prefix(ns);
                        [p.saturating_sub(1), p, (p + 1).min(0xFFFFF)]
                    })
                    .collect();
                prefixes.extend([0, 0xFFFFF]);
                for p in prefixes {
                    let mut got = Vec::new();
                    seg.for_each_in_range(p, |k, c| got.push((k, c))).unwrap();
                    let want = reference_range(&data, ns, p);
                    assert_eq!(got, want, "{ns} n={n} prefix {p:05X}");
                }
                for (&k, &c) in data.iter().take(500) {
                    assert_eq!(seg.get(k).unwrap(), Some(c));
                    assert_eq!(
                        seg.get(k.checked_add(Key::from_u128(1)).unwrap())
                            .unwrap()
                            .is_some(),
                        data.contains_key(&k.checked_add(Key::from_u128(1)).unwrap())
                    );
                }
                drop(w);
            }
        }
    }
}

#[test]
fn group_layouts_keep_groups_near_the_target_from_one_key_to_billions() {
    // (keys, group shift, split): shift while a range holds fewer keys than a group should,
    // split while it holds more.
    for (n, shift, split) in [
        (0u64, 20, 0),
        (1, 20, 0),
        (10_000_000, 3, 0),
        ((1 << 26) - 1, 1, 0),
        (1 << 26, 0, 1),
        (1_000_000_000, 0, 4),
        (u64::MAX, 0, MAX_SPLIT),
    ] {
        let layout = GroupLayout::for_keys(n);
        assert_eq!((layout.shift(), layout.split()), (shift, split), "n={n}");
        if n >= 1 << 26 && split < MAX_SPLIT {
            let per_group = n / u64::from(layout.groups());
            assert!(
                (TARGET_GROUP_LEN / 2..TARGET_GROUP_LEN).contains(&per_group),
                "n={n}"
            );
        }
    }
    let split = GroupLayout::for_keys(1_000_000_000);
    assert_eq!(split.groups_of_range(0x5BAA6), 0x5BAA60..0x5BAA70);
    assert_eq!(
        GroupLayout::for_keys(10_000_000).groups_of_range(0x5BAA6),
        0xB754..0xB755
    );
}

/// Segments sized for more than 67 million keys split each 5-hex range into several groups
/// (format version 2). Written here with few keys, crowded into a few ranges so that each of
/// those ranges spans both of its groups, and checked against the reference like the rest.
#[test]
fn split_ranges_answer_exactly_like_the_reference() {
    for (dir, _keep) in backends() {
        for ns in [Namespace::Sha1, Namespace::Ntlm, Namespace::Account] {
            let mut data = keys(ns, 2_000, 9);
            let scattered = keys(ns, 3_000, 10);
            for (i, (k, c)) in scattered.into_iter().enumerate() {
                // Crowd most keys into four ranges: keep the low bits, set the prefix.
                let prefix = [0x00000u64, 0x5BAA6, 0x80000, 0xFFFFF][i % 4];
                let suffix_bits = ns.key_bits() - PREFIX_BITS;
                let low = k
                    .shift_left(160 - suffix_bits)
                    .shift_right(160 - suffix_bits);
                let key = Key::first_with_prefix(ns, prefix, PREFIX_BITS)
                    .checked_add(low)
                    .unwrap();
                data.insert(key, c);
            }
            let mut w = StoreWriter::open(dir.clone()).unwrap();
            let (name, mut sw) = w.create_segment(ns, 1 << 26).unwrap();
            for (&k, &c) in &data {
                sw.push(k, c).unwrap();
            }
            let meta = StoreWriter::segment_meta(name, ns, sw.finish().unwrap());
            w.commit(Commit {
                added: vec![meta.clone()],
                ..Commit::default()
            })
            .unwrap();
            let file = dir.open_read(&meta.file).unwrap();
            let footer = &file.bytes()[file.bytes().len() - 64..];
            assert_eq!(
                footer[..4],
                2u32.to_le_bytes(),
                "split segments are version 2"
            );
            assert_eq!((footer[6], footer[7]), (0, 1), "shift 0, split 1");
            let seg = Segment::open(&meta.file, file).unwrap();
            assert_eq!(seg.group_layout().split(), 1);
            seg.verify().unwrap();
            let all: Vec<(Key, u64)> = seg.iter().map(|r| r.unwrap()).collect();
            assert_eq!(all, data.iter().map(|(&k, &c)| (k, c)).collect::<Vec<_>>());
            let mut prefixes: Vec<u32> = data.keys().map(|k| k.prefix(ns)).collect();
            prefixes.extend([1, 0x5BAA5, 0x5BAA7, 0xFFFFE]);
            for p in prefixes {
                let mut got = Vec::new();
                seg.for_each_in_range(p, |k, c| got.push((k, c))).unwrap();
                assert_eq!(got, reference_range(&data, ns, p), "{ns} prefix {p:05X}");
            }
            let crowded = reference_range(&data, ns, 0x5BAA6);
            assert!(
                crowded.len() > 500,
                "the crowded range spans both its groups"
            );
            for (&k, &c) in &data {
                assert_eq!(seg.get(k).unwrap(), Some(c));
                let next = k.checked_add(Key::from_u128(1)).unwrap();
                assert_eq!(seg.get(next).unwrap(), data.get(&next).copied());
            }
            if ns != Namespace::Account {
                // (an account segment needs its postings file to be published in a snapshot)
                let snap = Snapshot::open(dir.as_ref()).unwrap();
                assert_eq!(snap.range(ns, 0x5BAA6).unwrap(), crowded);
            }
        }
    }
}

#[test]
fn segment_versions_and_layouts_a_build_cannot_read_are_refused_not_misread() {
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut w = StoreWriter::open(dir.clone()).unwrap();
    let meta = write_segment(&mut w, Namespace::Sha1, &keys(Namespace::Sha1, 100, 5));
    let good = dir.open_read(&meta.file).unwrap().bytes().to_vec();
    let patched = |name: &str, version: u32, shift: u8, split: u8| {
        let mut b = good.clone();
        let f = b.len() - FOOTER_LEN;
        b[f..f + 4].copy_from_slice(&version.to_le_bytes());
        b[f + 6] = shift;
        b[f + 7] = split;
        let crc = crc32c::crc32c(&b[f..f + 52]);
        b[f + 52..f + 56].copy_from_slice(&crc.to_le_bytes());
        let mut out = dir.create(name).unwrap();
        out.write_all(&b).unwrap();
        out.finish().unwrap();
        Segment::open(name, dir.open_read(name).unwrap())
    };
    let shift = good[good.len() - FOOTER_LEN + 6];
    assert!(patched("same.seg", 1, shift, 0).is_ok());
    // Version 1 never had a split: its byte 7 is not read.
    assert!(patched("v1-byte7.seg", 1, shift, 3).is_ok());
    assert!(matches!(
        patched("v3.seg", 3, shift, 0),
        Err(StoreError::UnsupportedVersion { found: 3, .. })
    ));
    for (name, shift, split) in [
        ("v2-nosplit.seg", shift, 0),
        ("v2-both.seg", 1, 1),
        ("v2-wide.seg", 0, 9),
    ] {
        assert!(
            matches!(
                patched(name, 2, shift, split),
                Err(StoreError::Corrupt { .. })
            ),
            "{name}"
        );
    }
}

#[test]
fn extreme_keys_and_counts_roundtrip() {
    let ns = Namespace::Sha1;
    let mut data = BTreeMap::new();
    data.insert(Key::ZERO, 1);
    data.insert(Key::from_u128(1), u64::MAX);
    data.insert(Key::from_hex(&[b'F'; 40]).unwrap(), 2);
    data.insert(
        Key::from_hex(b"FFFFF00000000000000000000000000000000000").unwrap(),
        1 << 40,
    );
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut w = StoreWriter::open(dir.clone()).unwrap();
    let meta = write_segment(&mut w, ns, &data);
    let seg = Segment::open(&meta.file, dir.open_read(&meta.file).unwrap()).unwrap();
    let all: BTreeMap<Key, u64> = seg.iter().map(|r| r.unwrap()).collect();
    assert_eq!(all, data);
}

#[test]
fn writer_rejects_unsorted_duplicate_and_zero() {
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut w = StoreWriter::open(dir).unwrap();
    let (_, mut sw) = w.create_segment(Namespace::Ntlm, 10).unwrap();
    sw.push(Key::from_u128(5), 1).unwrap();
    assert!(sw.push(Key::from_u128(5), 1).is_err());
    assert!(sw.push(Key::from_u128(4), 1).is_err());
    assert!(sw.push(Key::from_u128(6), 0).is_err());
    let too_wide = Key::from_hex(b"1000000000000000000000000000000000").unwrap();
    assert!(sw.push(too_wide, 1).is_err());
}

#[test]
fn snapshot_sums_across_segments_and_compaction_preserves_answers() {
    for ((dir, _keep), ns) in backends()
        .into_iter()
        .zip([Namespace::Sha1, Namespace::Ntlm])
    {
        let a = keys(ns, 5_000, 10);
        let mut b = keys(ns, 3_000, 11);
        // Overlap: half of b's keys also in a.
        for (i, (&k, _)) in a.iter().enumerate().take(1500) {
            b.insert(k, i as u64 + 1);
        }
        let small = keys(ns, 3, 12);
        let mut expected = a.clone();
        for (&k, &c) in b.iter().chain(&small) {
            *expected.entry(k).or_default() += c;
        }
        let mut w = StoreWriter::open(dir.clone()).unwrap();
        for data in [&a, &b, &small] {
            let meta = write_segment(&mut w, ns, data);
            w.commit(Commit {
                added: vec![meta],
                ..Commit::default()
            })
            .unwrap();
        }
        let snap = Snapshot::open(dir.as_ref()).unwrap();
        assert_eq!(snap.segments(ns).len(), 3);
        assert_eq!(snap.generation(), 3);
        let check = |snap: &Snapshot| {
            for (&k, &c) in expected.iter().step_by(7) {
                assert_eq!(snap.count(ns, k).unwrap(), c);
                let p = k.prefix(ns);
                let want = reference_range(&expected, ns, p);
                assert_eq!(snap.range(ns, p).unwrap(), want);
                // Rendered after what the buffer already holds, and from one segment or many.
                let mut text = b"kept".to_vec();
                snap.render_range(ns, p, &mut text).unwrap();
                let want = format!("kept{}", reference_text(ns, &want));
                assert_eq!(String::from_utf8(text).unwrap(), want);
            }
        };
        check(&snap);
        let stats = w.compact(ns).unwrap().unwrap();
        assert_eq!(stats.merged, 3);
        assert_eq!(stats.hashes, expected.len() as u64);
        let after = Snapshot::open(dir.as_ref()).unwrap();
        assert_eq!(after.segments(ns).len(), 1);
        check(&after);
        check(&snap); // the old snapshot still answers from its (deleted) files
        let merged: BTreeMap<Key, u64> = after.segments(ns)[0].iter().map(|r| r.unwrap()).collect();
        assert_eq!(merged, expected);
        assert!(
            w.compact(ns).unwrap().is_none(),
            "one segment: nothing to do"
        );
        // Only the manifest and the one live segment remain.
        assert_eq!(dir.list().unwrap().len(), 2, "{:?}", dir.list().unwrap());
    }
}

#[test]
fn a_mirror_segment_is_summed_with_imports_but_never_compacted_and_its_etags_travel_with_it() {
    for (dir, _keep) in backends() {
        let ns = Namespace::Sha1;
        let mirrored = keys(ns, 2_000, 20);
        let imported = keys(ns, 1_000, 21);
        let tags = |n: u32| -> Vec<Vec<u8>> {
            (0..RANGES)
                .map(|p| format!("\"{n}-{p}\"").into_bytes())
                .collect()
        };
        let mut w = StoreWriter::open(dir.clone()).unwrap();
        let mirror_at = |w: &mut StoreWriter, data: &BTreeMap<Key, u64>, n: u32| {
            let seg = write_segment(w, ns, data);
            let table = EtagTable::from_ordered(tags(n).iter().map(Vec::as_slice)).unwrap();
            let etags = w.create_etags(ns, &table).unwrap();
            let mirror = MirrorMeta {
                namespace: ns,
                source: "http://127.0.0.1:1".into(),
                segment: seg.file.clone(),
                etags,
                synced_unix: 1,
            };
            let removed = w.manifest().mirror(ns).map(|m| vec![m.segment.clone()]);
            w.commit(Commit {
                added: vec![seg],
                removed: removed.unwrap_or_default(),
                mirror: Some(mirror),
                ..Commit::default()
            })
            .unwrap();
        };
        mirror_at(&mut w, &mirrored, 1);
        for data in [&imported, &keys(ns, 10, 22)] {
            let meta = write_segment(&mut w, ns, data);
            w.commit(Commit {
                added: vec![meta],
                ..Commit::default()
            })
            .unwrap();
        }
        let stats = w.compact(ns).unwrap().unwrap();
        assert_eq!(stats.merged, 2, "the two imports, not the mirror");
        let snap = Snapshot::open(dir.as_ref()).unwrap();
        assert_eq!(snap.segments(ns).len(), 2);
        let (meta, seg, table) = snap.mirror(ns).unwrap().unwrap();
        let held: BTreeMap<Key, u64> = seg.iter().map(|r| r.unwrap()).collect();
        assert_eq!(
            held, mirrored,
            "the mirror segment is exactly what was synced"
        );
        assert_eq!(table.get(0xABCDE), b"\"1-703710\"");
        let (k, c) = mirrored.iter().next().unwrap();
        assert_eq!(
            snap.count(ns, *k).unwrap(),
            c + imported.get(k).copied().unwrap_or(0)
        );
        // A backup carries the ETag table and reads back the same mirror.
        let backup = RamDirectory::new();
        snap.copy_to(&backup).unwrap();
        let copy = Snapshot::open(&backup).unwrap();
        let (copied_meta, _, copied_table) = copy.mirror(ns).unwrap().unwrap();
        assert_eq!((copied_meta, &copied_table), (meta, &table));
        // A new sync replaces segment and table; the old ones are deleted.
        let old_files = [meta.segment.clone(), meta.etags.clone()];
        mirror_at(&mut w, &keys(ns, 500, 23), 2);
        let listing = dir.list().unwrap();
        for old in &old_files {
            assert!(!listing.contains(old), "{old} still there: {listing:?}");
        }
        let snap = Snapshot::open(dir.as_ref()).unwrap();
        assert_eq!(snap.mirror(ns).unwrap().unwrap().2.get(7), b"\"2-7\"");
        snap.verify().unwrap();
        assert_eq!(snap.manifest().mirrors.len(), 1);
    }
}

#[test]
fn reopening_the_writer_removes_unpublished_leftovers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: Arc<dyn Directory> = Arc::new(MmapDirectory::open(tmp.path()).unwrap());
    let data = keys(Namespace::Sha1, 100, 20);
    {
        let mut w = StoreWriter::open(dir.clone()).unwrap();
        let meta = write_segment(&mut w, Namespace::Sha1, &data);
        w.commit(Commit {
            added: vec![meta],
            ..Commit::default()
        })
        .unwrap();
    }
    // What a writer killed before publishing leaves (no destructor ran): a finished segment
    // no manifest names and one never finished.
    let published = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    std::fs::copy(&published, tmp.path().join("0000000002-000-sha1.seg")).unwrap();
    std::fs::write(tmp.path().join("0000000002-001-ntlm.seg.partial"), b"half").unwrap();
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 5); // + LOCK
    let w = StoreWriter::open(dir.clone()).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"manifest".to_string()) && names.contains(&"LOCK".to_string()));
    assert_eq!(w.manifest().segments.len(), 1);
}

/// Regression (found by the disk-full import test): an import that failed after finishing
/// its SHA-1 segment, on the NTLM one, left the finished segment on disk until the next
/// writer started, so the space of a failed import was not given back.
#[test]
fn a_dropped_writer_removes_what_it_wrote_and_did_not_publish() {
    for (dir, tmp) in backends() {
        let data = keys(Namespace::Sha1, 100, 21);
        let mut w = StoreWriter::open(dir.clone()).unwrap();
        let meta = write_segment(&mut w, Namespace::Sha1, &data);
        w.commit(Commit {
            added: vec![meta],
            ..Commit::default()
        })
        .unwrap();
        let published = dir.list().unwrap();
        write_segment(&mut w, Namespace::Sha1, &data);
        let (_, mut unfinished) = w.create_segment(Namespace::Ntlm, 1).unwrap();
        unfinished.push(Key::from_u128(1), 1).unwrap();
        drop(unfinished);
        let sorted = |mut names: Vec<String>| {
            names.sort();
            names
        };
        assert!(dir.list().unwrap().len() > published.len());
        drop(w);
        assert_eq!(sorted(dir.list().unwrap()), sorted(published));
        if let Some(tmp) = &tmp {
            let on_disk: Vec<String> = std::fs::read_dir(tmp.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert!(
                !on_disk.iter().any(|n| n.contains("partial")),
                "{on_disk:?}"
            );
        }
        let snap = Snapshot::open(dir.as_ref()).unwrap();
        assert_eq!(snap.segments(Namespace::Sha1).len(), 1);
        assert_eq!(
            snap.count(Namespace::Sha1, *data.keys().next().unwrap())
                .unwrap(),
            data.values().next().copied().unwrap()
        );
    }
}

/// Flipping any byte of a segment is either caught (at open or when the group is read) or
/// lands in padding that no answer depends on; it never changes an answer.
#[test]
fn every_single_byte_flip_in_a_segment_is_detected_or_harmless() {
    let ns = Namespace::Sha1;
    let data = keys(ns, 700, 30);
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut w = StoreWriter::open(dir.clone()).unwrap();
    let meta = write_segment(&mut w, ns, &data);
    let good = dir.open_read(&meta.file).unwrap().bytes().to_vec();
    let expected: Vec<(Key, u64)> = data.iter().map(|(&k, &c)| (k, c)).collect();
    let mut detected = 0;
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x5A;
        let answer = Segment::open("s", FileSlice::from_vec(bad))
            .and_then(|s| s.iter().collect::<Result<Vec<_>>>());
        match answer {
            Err(e) => {
                assert!(e.is_corruption(), "byte {i}: {e}");
                detected += 1;
            }
            Ok(all) => assert_eq!(all, expected, "byte {i} changed an answer undetected"),
        }
    }
    assert!(
        detected >= good.len() - 8,
        "only {detected} of {} flips detected",
        good.len()
    );
}

/// A group whose bytes are garbage but whose checksums were made to match (a hostile or
/// buggy writer, not a flipped bit) decodes to a corruption error or to keys inside their
/// group, in order; it never panics or reads outside the file. The decoder checks a key's
/// reads once, after them, so this is what holds it to the file's bounds.
#[test]
fn garbage_groups_with_matching_checksums_are_refused_not_a_panic() {
    let ns = Namespace::Sha1;
    let data = keys(ns, 700, 31);
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut w = StoreWriter::open(dir.clone()).unwrap();
    let meta = write_segment(&mut w, ns, &data);
    let good = dir.open_read(&meta.file).unwrap().bytes().to_vec();
    let seg = Segment::open("s", FileSlice::from_vec(good.clone())).unwrap();
    let groups = seg.group_count() as usize;
    let foot = good.len() - FOOTER_LEN;
    let table = u64::from_le_bytes(good[foot + 32..foot + 40].try_into().unwrap()) as usize;
    let entry = |b: &[u8], g: usize| {
        let at = table + g * 16;
        let mut off = [0u8; 8];
        off[..6].copy_from_slice(&b[at..at + 6]);
        let end = if g + 1 < groups {
            let mut next = [0u8; 8];
            next[..6].copy_from_slice(&b[at + 16..at + 22]);
            u64::from_le_bytes(next) as usize
        } else {
            table
        };
        (u64::from_le_bytes(off) as usize, end)
    };
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut refused = 0;
    for g in 0..groups {
        for pattern in 0..4 {
            let mut bad = good.clone();
            let (start, end) = entry(&bad, g);
            for b in &mut bad[start..end] {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = match pattern {
                    0 => 0x00,
                    1 => 0xFF,
                    2 => 0x80, // long unary runs
                    _ => x as u8,
                };
            }
            // Make every checksum agree: the group's, the table's, the footer's.
            let crc = crc32c::crc32c(&bad[start..end]);
            bad[table + g * 16 + 12..table + g * 16 + 16].copy_from_slice(&crc.to_le_bytes());
            let table_crc = crc32c::crc32c(&bad[table..foot]);
            bad[foot + 40..foot + 44].copy_from_slice(&table_crc.to_le_bytes());
            let footer_crc = crc32c::crc32c(&bad[foot..foot + FOOTER_LEN - 12]);
            bad[foot + FOOTER_LEN - 12..foot + FOOTER_LEN - 8]
                .copy_from_slice(&footer_crc.to_le_bytes());
            let seg = Segment::open("s", FileSlice::from_vec(bad)).unwrap();
            match seg.iter().collect::<Result<Vec<_>>>() {
                Err(e) => {
                    assert!(e.is_corruption(), "group {g} pattern {pattern}: {e}");
                    refused += (pattern == 0) as usize;
                }
                Ok(all) => assert!(
                    all.windows(2).all(|w| w[0].0 < w[1].0),
                    "group {g} pattern {pattern}: keys out of order"
                ),
            }
            for &k in data.keys().step_by(50) {
                let _ = seg.for_each_in_range(k.prefix(ns), |_, _| {});
            }
        }
    }
    // Zeros are one unary run past the end of every group: always refused.
    assert_eq!(refused, groups, "groups of zeros refused");
}

#[test]
fn manifest_roundtrip_and_corruption() {
    let m = Manifest {
        format_version: 1,
        generation: 3,
        published_unix: 1_700_000_000,
        segments: vec![],
        sources: vec![SourceRecord {
            fingerprint: "xxh3-128:00".into(),
            label: "a.txt".into(),
            imported_unix: 1,
            lines: 2,
            accepted: 2,
            rejected: 0,
            breach: Some("Alpha".into()),
        }],
        breaches: vec!["Alpha".into()],
        aliases: vec![AliasMeta {
            file: "0000000003-000-aliases.alias".into(),
            records: 5,
            bytes: 300,
            created_unix: 1,
            key_id: "k1".into(),
        }],
        forgotten: vec![],
        mirrors: vec![],
    };
    // Without forgotten keys a manifest is version 1, byte for byte what version-1 readers
    // know; with them, version 2; with a mirror, version 3.
    let forgetful = Manifest {
        format_version: 2,
        forgotten: vec!["00ff".repeat(10)],
        ..m.clone()
    };
    let mirrored = Manifest {
        format_version: MANIFEST_VERSION,
        mirrors: vec![MirrorMeta {
            namespace: Namespace::Sha1,
            source: "https://api.pwnedpasswords.com".into(),
            segment: "0000000003-000-sha1.seg".into(),
            etags: "0000000003-001-sha1.etags".into(),
            synced_unix: 5,
        }],
        ..m.clone()
    };
    for (m, version) in [(m, 1u32), (forgetful, 2), (mirrored, 3)] {
        let bytes = m.encode();
        assert_eq!(
            bytes[bytes.len() - 24..bytes.len() - 20],
            version.to_le_bytes()
        );
        assert_eq!(Manifest::decode(&bytes).unwrap(), m);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(Manifest::decode(&bad).is_err(), "flip at {i} undetected");
        }
        assert!(Manifest::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}

/// Bytes per hash stay within 5% of the floor (160 - log2 n + 1.44 bits + count entropy),
/// with the group table included, at a size where the table could dominate.
#[test]
fn segment_size_is_near_the_information_theoretic_floor() {
    let ns = Namespace::Sha1;
    let n = 200_000usize;
    let data = keys(ns, n, 40);
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut w = StoreWriter::open(dir).unwrap();
    let meta = write_segment(&mut w, ns, &data);
    let mut freq: BTreeMap<u64, u64> = BTreeMap::new();
    for &c in data.values() {
        *freq.entry(c).or_default() += 1;
    }
    let count_entropy: f64 = freq
        .values()
        .map(|&f| {
            let p = f as f64 / n as f64;
            -p * p.log2()
        })
        .sum();
    let floor_bits = 160.0 - (n as f64).log2() + std::f64::consts::LOG2_E + count_entropy;
    let actual_bits = meta.bytes as f64 * 8.0 / n as f64;
    assert!(
        actual_bits <= floor_bits * 1.05,
        "actual {actual_bits:.2} bits/hash vs floor {floor_bits:.2}"
    );
}

/// Publishes one import segment of accounts linked to `breach`, as ingest does: value 1
/// for a primary identifier, 2 for a secondary one.
fn import_accounts(w: &mut StoreWriter, breach: &str, accounts: &BTreeMap<Key, u64>) {
    let (id, new) = w.breach_id(breach);
    let postings = w
        .create_postings(&Postings::new([
            vec![breach_ref(id, true)],
            vec![breach_ref(id, false)],
        ]))
        .unwrap();
    let (name, mut sw) = w
        .create_segment(Namespace::Account, accounts.len() as u64)
        .unwrap();
    for (&k, &set) in accounts {
        sw.push(k, set).unwrap();
    }
    let mut meta = StoreWriter::segment_meta(name, Namespace::Account, sw.finish().unwrap());
    meta.postings = Some(postings);
    w.commit(Commit {
        added: vec![meta],
        breaches: if new {
            vec![breach.to_owned()]
        } else {
            Vec::new()
        },
        ..Commit::default()
    })
    .unwrap();
}

#[test]
fn account_lookups_unite_breaches_across_imports_and_compaction_keeps_every_answer() {
    for (dir, _keep) in backends() {
        let mut w = StoreWriter::open(dir.clone()).unwrap();
        // Three breaches with overlapping accounts; "beta" is imported twice (two files).
        let pool: Vec<Key> = keys(Namespace::Account, 6_000, 11).into_keys().collect();
        let imports = [
            ("alpha", 0..3_000),
            ("beta", 2_000..4_500),
            ("gamma", 4_000..6_000),
            ("beta", 5_500..5_800),
        ];
        let mut reference: BTreeMap<Key, std::collections::BTreeSet<String>> = BTreeMap::new();
        // (breach, key) pairs where the identifier was primary: what PwnCount counts.
        let mut primary = std::collections::BTreeSet::new();
        for (breach, span) in imports.clone() {
            // Every third identifier is secondary (a username beside an e-mail address).
            let accounts: BTreeMap<Key, u64> = pool[span.clone()]
                .iter()
                .zip(span)
                .map(|(&k, i)| (k, if i % 3 == 0 { 2 } else { 1 }))
                .collect();
            for (&k, &set) in &accounts {
                reference.entry(k).or_default().insert(breach.to_owned());
                if set == 1 {
                    primary.insert((breach, k));
                }
            }
            import_accounts(&mut w, breach, &accounts);
        }
        let absent: Vec<Key> = keys(Namespace::Account, 200, 99).into_keys().collect();
        let check = |snap: &Snapshot| {
            for (k, want) in &reference {
                let got: std::collections::BTreeSet<String> = snap
                    .account_breaches(*k)
                    .unwrap()
                    .into_iter()
                    .map(|id| snap.breach_name(id).unwrap().to_owned())
                    .collect();
                assert_eq!(&got, want, "{k:?}");
            }
            for k in &absent {
                assert!(snap.account_breaches(*k).unwrap().is_empty());
            }
            for breach in ["alpha", "beta", "gamma"] {
                let want = primary.iter().filter(|(b, _)| *b == breach).count() as u64;
                assert_eq!(snap.accounts_in_breach(breach).unwrap(), want, "{breach}");
            }
            assert_eq!(snap.accounts_in_breach("nobody").unwrap(), 0);
            // 6-hex ranges: every prefix holding a key, and one empty neighbour.
            for k in reference.keys().step_by(97) {
                let p24 = k.shift_right(136).low_u64() as u32;
                let want: Vec<(Key, Vec<String>)> = reference
                    .iter()
                    .filter(|(k, _)| k.shift_right(136).low_u64() as u32 == p24)
                    .map(|(k, s)| (*k, s.iter().cloned().collect()))
                    .collect();
                let got: Vec<(Key, Vec<String>)> = snap
                    .account_range(p24)
                    .unwrap()
                    .into_iter()
                    .map(|(k, ids)| {
                        (
                            k,
                            ids.iter()
                                .map(|&i| snap.breach_name(i).unwrap().to_owned())
                                .collect(),
                        )
                    })
                    .collect();
                assert_eq!(got, want, "range {p24:06X}");
            }
        };
        let before = Snapshot::open(dir.as_ref()).unwrap();
        assert_eq!(before.segments(Namespace::Account).len(), 4);
        assert_eq!(before.manifest().breaches, ["alpha", "beta", "gamma"]);
        check(&before);
        let stats = w.compact(Namespace::Account).unwrap().unwrap();
        assert_eq!((stats.merged, stats.hashes), (4, reference.len() as u64));
        let after = Snapshot::open(dir.as_ref()).unwrap();
        assert_eq!(after.segments(Namespace::Account).len(), 1);
        after.verify().unwrap();
        check(&after);
        // Compaction numbered the sets by frequency: set 1 is the most common one.
        let files = dir.list().unwrap();
        assert_eq!(
            files.iter().filter(|f| f.ends_with(".post")).count(),
            1,
            "{files:?}"
        );
        assert_eq!(
            files.iter().filter(|f| f.ends_with(".seg")).count(),
            1,
            "{files:?}"
        );
    }
}

#[test]
fn a_manifest_naming_a_missing_postings_file_is_refused_not_misread() {
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut w = StoreWriter::open(dir.clone()).unwrap();
    let accounts: BTreeMap<Key, u64> = keys(Namespace::Account, 10, 5)
        .into_keys()
        .map(|k| (k, 1))
        .collect();
    import_accounts(&mut w, "alpha", &accounts);
    drop(w);
    let post = dir
        .list()
        .unwrap()
        .into_iter()
        .find(|f| f.ends_with(".post"))
        .unwrap();
    dir.delete(&post).unwrap();
    assert!(Snapshot::open(dir.as_ref()).is_err());
}
