//! Account segments: breach sets united across imports and kept through compaction; a
//! manifest naming a missing postings file is refused.

use super::*;

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
