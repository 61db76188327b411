//! Damage is caught, never answered: flipped bytes, garbage with matching checksums, or a
//! damaged manifest.

use super::*;

/// `n` reference keys of `ns` and the bytes of the one segment file written from them.
fn segment_file(
    ns: Namespace,
    n: usize,
    seed: u64,
    coding: GroupCoding,
) -> (BTreeMap<Key, u64>, Vec<u8>) {
    let data = keys(ns, n, seed);
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut w = StoreWriter::open(dir.clone()).unwrap();
    let meta = write_segment_coded(&mut w, ns, &data, coding);
    let bytes = dir.open_read(&meta.file).unwrap().bytes().to_vec();
    (data, bytes)
}

/// Flipping any byte of a segment is either caught (at open or when the group is read) or
/// lands in padding that no answer depends on; it never changes an answer.
#[test]
fn every_single_byte_flip_in_a_segment_is_detected_or_harmless() {
    for coding in CODINGS {
        byte_flips_are_detected_or_harmless(coding);
    }
}

fn byte_flips_are_detected_or_harmless(coding: GroupCoding) {
    let ns = Namespace::Sha1;
    let (data, good) = segment_file(ns, 700, 30, coding);
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
    for coding in CODINGS {
        garbage_groups_are_refused(coding);
    }
}

fn garbage_groups_are_refused(coding: GroupCoding) {
    let ns = Namespace::Sha1;
    let (data, good) = segment_file(ns, 700, 31, coding);
    let seg = Segment::open("s", FileSlice::from_vec(good.clone())).unwrap();
    let groups = seg.group_count() as usize;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut refused = 0;
    let (mut rendered, mut render_refused) = (0, 0);
    for g in 0..groups {
        for pattern in 0..4 {
            let mut bad = good.clone();
            let (start, end) = group_span(&bad, g);
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
            reseal(&mut bad, g);
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
                let p = k.prefix(ns);
                let mut decoded = Vec::new();
                let walked = seg.for_each_in_range(p, |k, c| decoded.push((k, c)));
                // The server's path, straight from a version-3 group's parts, has checks of
                // its own: it refuses what the decoder refuses, and answers what it answers.
                let mut text = Vec::new();
                match seg.render_sha1_range(p, &mut text) {
                    Err(e) => {
                        assert!(e.is_corruption(), "group {g} pattern {pattern}: {e}");
                        assert!(walked.is_err(), "group {g} pattern {pattern}: {p:05X}");
                        assert!(text.is_empty(), "a refused range leaves no text");
                        render_refused += 1;
                    }
                    Ok(Some(n)) => {
                        assert!(
                            walked.is_ok(),
                            "group {g} pattern {pattern}: {p:05X} rendered"
                        );
                        assert_eq!(n, decoded.len());
                        assert_eq!(text, reference_text(ns, &decoded).as_bytes());
                        rendered += 1;
                    }
                    Ok(None) => assert_ne!(coding, GroupCoding::LowBytes, "version 3 renders"),
                }
            }
        }
    }
    // Zeros are one unary run past the end of every group: always refused.
    assert_eq!(refused, groups, "groups of zeros refused");
    if coding == GroupCoding::LowBytes {
        assert!(
            rendered > 0 && render_refused > 0,
            "{rendered} rendered, {render_refused} refused"
        );
    }
}

/// Where group `g`'s bytes are in segment file `b`: from its table entry's offset to the
/// next group's (the last group ends at the table).
fn group_span(b: &[u8], g: usize) -> (usize, usize) {
    let foot = b.len() - FOOTER_LEN;
    let table = u64::from_le_bytes(b[foot + 32..foot + 40].try_into().unwrap()) as usize;
    let offset = |at: usize| {
        let mut off = [0u8; 8];
        off[..6].copy_from_slice(&b[at..at + 6]);
        u64::from_le_bytes(off) as usize
    };
    let at = table + g * 16;
    let end = if at + 16 < foot {
        offset(at + 16)
    } else {
        table
    };
    (offset(at), end)
}

/// Makes every checksum of segment file `b` agree after group `g`'s bytes changed: the
/// group's, the table's, the footer's (a hostile or buggy writer, not a flipped bit).
fn reseal(b: &mut [u8], g: usize) {
    let foot = b.len() - FOOTER_LEN;
    let table = u64::from_le_bytes(b[foot + 32..foot + 40].try_into().unwrap()) as usize;
    let (start, end) = group_span(b, g);
    let crc = crc32c::crc32c(&b[start..end]);
    b[table + g * 16 + 12..table + g * 16 + 16].copy_from_slice(&crc.to_le_bytes());
    let table_crc = crc32c::crc32c(&b[table..foot]);
    b[foot + 40..foot + 44].copy_from_slice(&table_crc.to_le_bytes());
    let footer_crc = crc32c::crc32c(&b[foot..foot + FOOTER_LEN - 12]);
    b[foot + FOOTER_LEN - 12..foot + FOOTER_LEN - 8].copy_from_slice(&footer_crc.to_le_bytes());
}

/// The server's range text comes from a loop with checks of its own (`segment/text.rs`),
/// not from the decoder: for every byte of every version-3 group changed under matching
/// checksums, each range of that group is refused by both or answered by both alike.
#[test]
fn range_text_refuses_what_decoding_refuses_byte_by_byte() {
    let ns = Namespace::Sha1;
    let (data, good) = segment_file(ns, 700, 32, GroupCoding::LowBytes);
    let seg = Segment::open("s", FileSlice::from_vec(good.clone())).unwrap();
    let layout = seg.group_layout();
    let mut prefixes: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for k in data.keys() {
        let list = prefixes.entry(layout.group_of(ns, *k)).or_default();
        if list.last() != Some(&k.prefix(ns)) {
            list.push(k.prefix(ns));
        }
    }
    let (mut both_refused, mut both_answered) = (0, 0);
    for (&g, group_prefixes) in &prefixes {
        let (start, end) = group_span(&good, g as usize);
        for i in start..end {
            let mut bad = good.clone();
            bad[i] ^= 0x5A;
            reseal(&mut bad, g as usize);
            let seg = Segment::open("s", FileSlice::from_vec(bad)).unwrap();
            for &p in group_prefixes {
                let mut decoded = Vec::new();
                let walked = seg.for_each_in_range(p, |k, c| decoded.push((k, c)));
                let mut text = Vec::new();
                match (seg.render_sha1_range(p, &mut text), walked) {
                    (Err(_), Err(_)) => both_refused += 1,
                    (Ok(Some(n)), Ok(())) => {
                        assert_eq!(n, decoded.len(), "byte {i} prefix {p:05X}");
                        assert_eq!(text, reference_text(ns, &decoded).as_bytes(), "byte {i}");
                        both_answered += 1;
                    }
                    (rendered, walked) => {
                        panic!("byte {i} prefix {p:05X}: rendered {rendered:?}, decoded {walked:?}")
                    }
                }
            }
        }
    }
    assert!(
        both_refused > 100 && both_answered > 100,
        "{both_refused} / {both_answered}"
    );
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
            credential_key: None,
        }],
        breaches: vec!["Alpha".into()],
        aliases: vec![AliasMeta {
            file: "0000000003-000-aliases.alias".into(),
            records: 5,
            bytes: 300,
            created_unix: 1,
            key_id: "k1".into(),
            kind: SealedKind::Aliases,
        }],
        forgotten: vec![],
        mirrors: vec![],
    };
    // Without forgotten keys a manifest is version 1, byte for byte what version-1 readers
    // know; with them, version 2; with a mirror, version 3; with a sealed file of another
    // kind than aliases (stealer logs), version 4, which older readers refuse rather than
    // take it for an alias file.
    let forgetful = Manifest {
        format_version: 2,
        forgotten: vec!["00ff".repeat(10)],
        ..m.clone()
    };
    let mirrored = Manifest {
        format_version: 3,
        mirrors: vec![MirrorMeta {
            namespace: Namespace::Sha1,
            source: "https://api.pwnedpasswords.com".into(),
            segment: "0000000003-000-sha1.seg".into(),
            etags: "0000000003-001-sha1.etags".into(),
            synced_unix: 5,
        }],
        ..m.clone()
    };
    let mut stealer = mirrored.clone();
    stealer.format_version = 4;
    stealer.aliases.push(AliasMeta {
        file: "0000000004-000-stealer-email.alias".into(),
        records: 9,
        bytes: 400,
        created_unix: 2,
        key_id: "k1".into(),
        kind: SealedKind::StealerEmail,
    });
    assert!(!String::from_utf8_lossy(&m.encode()).contains("kind"));
    assert!(String::from_utf8_lossy(&stealer.encode()).contains("\"kind\": \"stealer-email\""));
    // A live credential segment (with its OPRF key's fingerprint): version 5.
    let mut credential = stealer.clone();
    credential.format_version = MANIFEST_VERSION;
    credential.segments.push(SegmentMeta {
        file: "0000000005-000-credential.seg".into(),
        namespace: Namespace::Credential,
        hashes: 7,
        total_count: 7,
        bytes: 100,
        created_unix: 3,
        postings: None,
        oprf_key: Some("0123456789abcdef".into()),
    });
    assert!(!String::from_utf8_lossy(&stealer.encode()).contains("oprf_key"));
    assert!(
        String::from_utf8_lossy(&credential.encode())
            .contains("\"oprf_key\": \"0123456789abcdef\"")
    );
    for (m, version) in [
        (m, 1u32),
        (forgetful, 2),
        (mirrored, 3),
        (stealer, 4),
        (credential, 5),
    ] {
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
