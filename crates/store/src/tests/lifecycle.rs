//! Publishing, compaction and mirrors keep every answer; a writer that crashed or was
//! dropped leaves nothing unpublished behind.

use super::*;

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
            publish(&mut w, meta);
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
            publish(&mut w, meta);
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
        publish(&mut w, meta);
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
        publish(&mut w, meta);
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
