//! Segments and snapshots answer ranges and lookups exactly like a reference map, in every
//! layout, namespace and size, within a few percent of the information-theoretic floor.

use super::*;

#[test]
fn ranges_and_lookups_match_reference_for_every_size_and_namespace() {
    for ((dir, _keep), coding) in backends().into_iter().zip(CODINGS.iter().cycle()) {
        for ns in Namespace::ALL {
            for (n, seed) in [(0usize, 1u64), (1, 2), (300, 3), (20_000, 4)] {
                let data = keys(ns, n, seed);
                let mut w = StoreWriter::open(dir.clone()).unwrap();
                let meta = write_segment_coded(&mut w, ns, &data, *coding);
                publish(&mut w, meta.clone());
                let seg = Segment::open(&meta.file, dir.open_read(&meta.file).unwrap()).unwrap();
                seg.verify().unwrap();
                let all: Vec<(Key, u64)> = seg.iter().map(|r| r.unwrap()).collect();
                assert_eq!(all, data.iter().map(|(&k, &c)| (k, c)).collect::<Vec<_>>());
                // Every prefix that holds a key, plus its neighbours and the extremes.
                let mut prefixes = prefixes_around(&data, ns);
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
/// (format version 2, and 3). Written here with few keys, crowded into a few ranges so that
/// each of those ranges spans both of its groups, and checked against the reference like the
/// rest.
#[test]
fn split_ranges_answer_exactly_like_the_reference() {
    for (coding, (dir, _keep)) in CODINGS
        .into_iter()
        .flat_map(|c| backends().into_iter().map(move |b| (c, b)))
    {
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
            let (name, mut sw) = w.create_segment_with(ns, 1 << 26, coding).unwrap();
            for (&k, &c) in &data {
                sw.push(k, c).unwrap();
            }
            let meta = StoreWriter::segment_meta(name, ns, sw.finish().unwrap());
            publish(&mut w, meta.clone());
            let file = dir.open_read(&meta.file).unwrap();
            let footer = &file.bytes()[file.bytes().len() - 64..];
            let version = match coding {
                GroupCoding::RiceGaps => 2u32,
                _ => SEGMENT_VERSION,
            };
            assert_eq!(footer[..4], version.to_le_bytes(), "{coding:?}");
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
    let data = keys(Namespace::Sha1, 100, 5);
    let meta = write_segment_coded(&mut w, Namespace::Sha1, &data, GroupCoding::RiceGaps);
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
        patched("v4.seg", 4, shift, 0),
        Err(StoreError::UnsupportedVersion { found: 4, .. })
    ));
    for (name, version, shift, split) in [
        ("v2-nosplit.seg", 2, shift, 0),
        ("v2-both.seg", 2, 1, 1),
        ("v2-wide.seg", 2, 0, 9),
        ("v3-both.seg", 3, 1, 1),
        ("v3-wide.seg", 3, 0, 9),
    ] {
        assert!(
            matches!(
                patched(name, version, shift, split),
                Err(StoreError::Corrupt { .. })
            ),
            "{name}"
        );
    }
    // Version 3 has whole-range groups and split ones alike; a version-1 segment's groups
    // read as version 3 are refused when read, not misread.
    let v3 = write_segment(&mut w, Namespace::Sha1, &data);
    let v3 = Segment::open(&v3.file, dir.open_read(&v3.file).unwrap()).unwrap();
    assert_eq!(v3.group_layout().split(), 0);
    assert_eq!(v3.iter().count(), data.len());
    let mislabelled = patched("v1-as-v3.seg", 3, shift, 0).unwrap();
    assert!(mislabelled.iter().any(|r| r.is_err()));
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

/// The server's range text — rendered straight from a version-3 segment's stored parts for
/// SHA-1, from decoded keys otherwise — equals the reference rendering for every layout a
/// writer picks (groups spanning many ranges or a few, ranges split in two), in
/// ranges crowded and sparse (16 and 17 verbatim bytes a key), and for counts on both sides
/// of the renderer's table and past the general path's limit.
#[test]
fn range_text_equals_the_reference_in_every_layout_and_coding() {
    for coding in CODINGS {
        for ns in Namespace::PASSWORDS {
            for expected in [1u64, 20_000, 1 << 26] {
                let mut data = keys(ns, 1_500, 11);
                for (i, (k, c)) in keys(ns, 2_000, 12).into_iter().enumerate() {
                    let prefix = [0x00000u64, 0x5BAA6, 0x5BAA7, 0xFFFFF][i % 4];
                    let suffix_bits = ns.key_bits() - PREFIX_BITS;
                    let low = k
                        .shift_left(160 - suffix_bits)
                        .shift_right(160 - suffix_bits);
                    let key = Key::first_with_prefix(ns, prefix, PREFIX_BITS).or(low);
                    // Both sides of the renderer's table of counts (below 256), and the widest.
                    let count = [c, 255, 256, 99_999_999, 100_000_000, u64::MAX][i % 6];
                    data.insert(key, count);
                }
                let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
                let mut w = StoreWriter::open(dir.clone()).unwrap();
                let (name, mut sw) = w.create_segment_with(ns, expected, coding).unwrap();
                for (&k, &c) in &data {
                    sw.push(k, c).unwrap();
                }
                let meta = StoreWriter::segment_meta(name, ns, sw.finish().unwrap());
                publish(&mut w, meta);
                let snap = Snapshot::open(dir.as_ref()).unwrap();
                for p in prefixes_around(&data, ns) {
                    let want = reference_range(&data, ns, p);
                    let mut text = b"before".to_vec();
                    let n = snap.render_range(ns, p, &mut text).unwrap();
                    assert_eq!(n, want.len());
                    assert_eq!(
                        String::from_utf8(text).unwrap(),
                        format!("before{}", reference_text(ns, &want)),
                        "{coding:?} {ns} layout for {expected} prefix {p:05X}"
                    );
                }
            }
        }
    }
}

/// Groups encoded apart (an import's sorter threads) and appended in order make the same
/// file, byte for byte, as the same keys pushed one at a time, in every coding, also when the
/// two are mixed; a run that would split a group being filled is refused.
#[test]
fn groups_encoded_apart_make_the_same_segment_as_keys_pushed_in_order() {
    for coding in CODINGS {
        for ns in Namespace::ALL {
            let data: Vec<(Key, u64)> = keys(ns, 20_000, 13).into_iter().collect();
            let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
            let mut w = StoreWriter::open(dir.clone()).unwrap();
            let pushed = write_segment_coded(&mut w, ns, &data.iter().copied().collect(), coding);
            let (name, mut sw) = w
                .create_segment_with(ns, data.len() as u64, coding)
                .unwrap();
            let encoder = sw.group_encoder();
            // 20,000 keys make 256 groups: runs by the top 8 bits (as an import's partitions
            // are by 10 bits of bigger segments) are whole groups; every third is pushed.
            assert!(encoder.whole_groups_within(8) && !encoder.whole_groups_within(9));
            let part = |k: &Key| k.shift_right(ns.key_bits() - 8).low_u64();
            let mut rest = &data[..];
            let mut i = 0;
            while let Some((first, _)) = rest.first() {
                let n = rest.partition_point(|(k, _)| part(k) == part(first));
                if i % 3 == 1 {
                    for &(k, c) in &rest[..n] {
                        sw.push(k, c).unwrap();
                    }
                } else {
                    sw.append_encoded(encoder.encode(&rest[..n]).unwrap())
                        .unwrap();
                }
                rest = &rest[n..];
                i += 1;
            }
            let stats = sw.finish().unwrap();
            let appended = StoreWriter::segment_meta(name, ns, stats);
            assert_eq!(
                dir.open_read(&appended.file).unwrap().bytes(),
                dir.open_read(&pushed.file).unwrap().bytes(),
                "{coding:?} {ns}"
            );
        }
    }
    // A run inside the group being filled, or before written keys, is refused.
    let ns = Namespace::Sha1;
    let data: Vec<(Key, u64)> = keys(ns, 300, 14).into_iter().collect();
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut w = StoreWriter::open(dir).unwrap();
    let (_, mut sw) = w.create_segment(ns, 1 << 26).unwrap();
    let encoder = sw.group_encoder();
    sw.push(data[0].0, 1).unwrap();
    let same_group = data[0].0.checked_add(Key::from_u128(1)).unwrap();
    assert!(
        sw.append_encoded(encoder.encode(&[(same_group, 1)]).unwrap())
            .is_err()
    );
    assert!(
        sw.append_encoded(encoder.encode(&[(Key::ZERO, 1)]).unwrap())
            .is_err()
    );
    assert!(encoder.encode(&[(data[2].0, 1), (data[1].0, 1)]).is_err());
}
