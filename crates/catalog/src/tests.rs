//! Catalogue tests: the exact HIBP JSON shape, validation, import, edit and retire,
//! persistence across reopening, schema upgrades, and the outbox's states.

use super::*;

const HIBP_SAMPLE: &str = r#"[{"Name":"Fictobank","Title":"Fictobank","Domain":"fictobank.example","BreachDate":"2019-03-01","AddedDate":"2019-04-02T10:11:12Z","ModifiedDate":"2020-01-01T00:00:00Z","PwnCount":123456,"Description":"A <a href=\"https://fictobank.example\">fictional</a> bank.","LogoPath":"https://logos.example/Fictobank.png","DataClasses":["Email addresses","Passwords"],"IsVerified":true,"IsFabricated":false,"IsSensitive":false,"IsRetired":false,"IsSpamList":false,"IsMalware":false,"IsSubscriptionFree":false,"IsStealerLog":false}]"#;

#[test]
fn serialises_exactly_like_hibp() {
    let mut c = Catalog::open_in_memory().unwrap();
    assert_eq!(c.import_hibp_json(HIBP_SAMPLE).unwrap(), 1);
    let got = serde_json::to_string(&vec![c.get("fictobank").unwrap().unwrap()]).unwrap();
    assert_eq!(
        got, HIBP_SAMPLE,
        "field names, order, date formats and values round-trip byte for byte"
    );
}

#[test]
fn vendor_appears_only_when_known() {
    let mut c = Catalog::open_in_memory().unwrap();
    let b = c
        .add(
            Breach::from_manifest(
                r#"{"Name":"Acme","BreachDate":"2024-01-31","Vendor":"TrackCo"}"#,
                false,
            )
            .unwrap(),
        )
        .unwrap();
    assert!(
        serde_json::to_string(&b)
            .unwrap()
            .ends_with(r#""IsStealerLog":false,"Vendor":"TrackCo"}"#)
    );
    let b = c
        .add(Breach::from_manifest(r#"{"Name":"Plain","BreachDate":"2024-01-31"}"#, false).unwrap())
        .unwrap();
    assert!(!serde_json::to_string(&b).unwrap().contains("Vendor"));
}

#[test]
fn manifests_fill_defaults_and_toml_works() {
    let mut c = Catalog::open_in_memory().unwrap();
    let toml = "Name = \"Shopfake\"\nBreachDate = \"2021-07-04\"\nDomain = \"Shop.Example.\"\nDataClasses = [\"Passwords\", \" Email addresses \", \"passwords\"]\nIsSensitive = true\n";
    let b = c.add(Breach::from_manifest(toml, true).unwrap()).unwrap();
    assert_eq!(b.title, "Shopfake");
    assert_eq!(b.domain, "shop.example");
    assert_eq!(b.data_classes, ["Passwords", "Email addresses"]);
    assert!(b.is_verified && b.is_sensitive);
    assert!(parse_date_time(&b.added_date).is_some() && b.added_date == b.modified_date);
}

#[test]
fn invalid_breaches_are_refused_with_a_reason() {
    let mut c = Catalog::open_in_memory().unwrap();
    for (json, why) in [
        (r#"{"Name":"","BreachDate":"2024-01-01"}"#, "Name"),
        (r#"{"Name":"a b","BreachDate":"2024-01-01"}"#, "Name"),
        (r#"{"Name":"x","BreachDate":"2024-02-30"}"#, "BreachDate"),
        (
            r#"{"Name":"x","BreachDate":"2024-02-01","AddedDate":"yesterday"}"#,
            "AddedDate",
        ),
        (
            r#"{"Name":"x","BreachDate":"2024-02-01","Domain":"a@b"}"#,
            "Domain",
        ),
    ] {
        let err = c
            .add(Breach::from_manifest(json, false).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains(why), "{json}: {err}");
    }
    assert!(Breach::from_manifest(r#"{"Title":"no name"}"#, false).is_err());
    // One bad entry in an import imports nothing.
    let mixed = HIBP_SAMPLE.replace("]", r#",{"Name":"Bad","BreachDate":"nope"}]"#);
    assert!(c.import_hibp_json(&mixed).is_err());
    assert!(c.all().unwrap().is_empty());
}

#[test]
fn names_are_unique_case_insensitively_and_edits_and_retirement_persist() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("catalog.db");
    {
        let mut c = Catalog::open(&path).unwrap();
        c.import_hibp_json(HIBP_SAMPLE).unwrap();
        let dup = Breach::from_manifest(r#"{"Name":"FICTOBANK","BreachDate":"2024-01-01"}"#, false)
            .unwrap();
        assert!(matches!(c.add(dup), Err(CatalogError::Exists(_))));
        let b = c.edit("Fictobank", |b| b.pwn_count = 99).unwrap();
        assert_eq!(b.pwn_count, 99);
        assert_ne!(b.modified_date, "2020-01-01T00:00:00Z");
        assert_eq!(b.added_date, "2019-04-02T10:11:12Z");
        c.retire("fictobank").unwrap();
        assert!(matches!(c.retire("nope"), Err(CatalogError::NotFound(_))));
    }
    let c = Catalog::open(&path).unwrap();
    let b = c.get("Fictobank").unwrap().unwrap();
    assert!(b.is_retired);
    assert_eq!(b.pwn_count, 99);
}

#[test]
fn a_newer_schema_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("catalog.db");
    drop(Catalog::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    assert!(matches!(
        Catalog::open(&path),
        Err(CatalogError::UnsupportedVersion { found: 99, .. })
    ));
}

#[test]
fn list_is_sorted_by_title() {
    let mut c = Catalog::open_in_memory().unwrap();
    for (name, title) in [("b", "Zeta"), ("a", "alpha"), ("c", "Beta")] {
        c.add(
            Breach::from_manifest(
                &format!(r#"{{"Name":"{name}","Title":"{title}","BreachDate":"2024-01-01"}}"#),
                false,
            )
            .unwrap(),
        )
        .unwrap();
    }
    let titles: Vec<String> = c.all().unwrap().into_iter().map(|b| b.title).collect();
    assert_eq!(titles, ["alpha", "Beta", "Zeta"]);
}

#[test]
fn outbox_dedupes_leases_retries_and_erases_delivered_payloads() {
    let mut c = Catalog::open_in_memory().unwrap();
    let t = 1_000;
    let a = c
        .enqueue(Some(b"alert:1:Adobe"), b"sealed-a", t)
        .unwrap()
        .unwrap();
    assert_eq!(
        c.enqueue(Some(b"alert:1:Adobe"), b"again", t).unwrap(),
        None,
        "deduplicated"
    );
    let b = c.enqueue(None, b"sealed-b", t + 1).unwrap().unwrap();
    assert_eq!(c.next_due().unwrap(), Some(t));

    // Claimed rows are leased: not due again until the lease runs out.
    let claimed = c.claim_due(t + 1, 60, 10).unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|p| (p.id, p.attempts))
            .collect::<Vec<_>>(),
        [(a, 1), (b, 1)]
    );
    assert_eq!(claimed[0].payload, b"sealed-a");
    assert!(c.claim_due(t + 30, 60, 10).unwrap().is_empty());
    let again = c.claim_due(t + 61, 60, 10).unwrap();
    assert_eq!(
        again.iter().map(|p| (p.id, p.attempts)).collect::<Vec<_>>(),
        [(a, 2), (b, 2)]
    );

    c.mark_delivered(a, t + 62).unwrap();
    c.reschedule(b, t + 500, "temporary: connection refused")
        .unwrap();
    assert!(c.claim_due(t + 499, 60, 10).unwrap().is_empty());
    assert_eq!(c.next_due().unwrap(), Some(t + 500));
    let counts = c.outbox_counts().unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.failed), (1, 1, 0));
    let third = c.claim_due(t + 500, 60, 10).unwrap();
    assert_eq!(
        third.iter().map(|p| (p.id, p.attempts)).collect::<Vec<_>>(),
        [(b, 3)]
    );
    c.mark_failed(b, t + 501, "permanent: 550 no such user")
        .unwrap();
    assert_eq!(c.next_due().unwrap(), None);
    let counts = c.outbox_counts().unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.failed), (0, 1, 1));
    // Delivered and failed rows keep no payload, and their dedupe key still holds.
    let payloads: Vec<Vec<u8>> = c
        .raw()
        .prepare("SELECT payload FROM outbox")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(payloads.iter().all(Vec::is_empty), "{payloads:?}");
    assert_eq!(
        c.enqueue(Some(b"alert:1:Adobe"), b"x", t + 600).unwrap(),
        None
    );
}

#[test]
fn a_version_1_catalogue_is_refused_until_migrated_then_has_the_outbox_and_its_breaches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    {
        let mut c = Catalog::open(&path).unwrap();
        c.import_hibp_json(HIBP_SAMPLE).unwrap();
        // What version 1 had: no outbox.
        c.raw()
            .execute_batch(
                "DROP TABLE outbox; DROP TABLE subscriber; DROP TABLE alerted_breach;
                 DROP TABLE vendor; DROP TABLE impact_alerted; PRAGMA user_version = 1;",
            )
            .unwrap();
    }
    assert!(matches!(
        Catalog::open(&path),
        Err(CatalogError::NeedsMigration { found: 1, .. })
    ));
    assert_eq!(Catalog::migrate(&path).unwrap(), Some(1));
    assert_eq!(Catalog::migrate(&path).unwrap(), None, "once is enough");
    let mut c = Catalog::open(&path).unwrap();
    assert_eq!(c.get("fictobank").unwrap().unwrap().pwn_count, 123456);
    assert!(c.enqueue(None, b"p", 1).unwrap().is_some());
    let v: i64 = c
        .raw()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
}

#[test]
fn subscribers_are_found_by_digest_renewed_in_place_and_never_reuse_ids() {
    let mut c = Catalog::open_in_memory().unwrap();
    let a = c
        .put_subscriber(b"digest-a", b"sealed-a", None, None, Some(5), 1)
        .unwrap();
    let b = c
        .put_subscriber(b"digest-b", b"sealed-b", Some(7), Some("acme"), None, 2)
        .unwrap();
    assert_ne!(a, b);
    assert!(c.subscriber(a).unwrap().unwrap().is_active());
    assert!(
        !c.subscriber(b).unwrap().unwrap().is_active(),
        "not verified yet"
    );
    assert!(c.verify_subscriber(b, 3).unwrap());
    assert!(c.unsubscribe(a, 4).unwrap());
    assert!(!c.unsubscribe(a, 4).unwrap(), "already unsubscribed");
    assert!(!c.subscriber(a).unwrap().unwrap().is_active());
    // Subscribing again renews the same row, keeping its verification.
    let again = c
        .put_subscriber(b"digest-a", b"sealed-a2", None, None, None, 5)
        .unwrap();
    assert_eq!(again, a);
    let renewed = c.subscriber_by_digest(b"digest-a").unwrap().unwrap();
    assert_eq!(
        (renewed.sealed.as_slice(), renewed.verified),
        (&b"sealed-a2"[..], Some(5))
    );
    assert!(renewed.is_active());
    // A removed subscriber's id is not given to the next one (alerts are deduplicated by it).
    assert!(c.remove_subscriber(b).unwrap());
    let next = c
        .put_subscriber(b"digest-c", b"sealed-c", None, None, Some(6), 6)
        .unwrap();
    assert!(next > b);
    assert_eq!(c.subscribers().unwrap().len(), 2);

    assert!(c.alerted_breaches().unwrap().is_empty());
    c.mark_alerted("Fictobank", 7).unwrap();
    c.mark_alerted("fictobank", 8).unwrap();
    assert_eq!(
        c.alerted_breaches()
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        ["Fictobank"]
    );
}

#[test]
fn a_dead_workers_claims_are_released_at_once() {
    let mut c = Catalog::open_in_memory().unwrap();
    let a = c.enqueue(None, b"a", 10).unwrap().unwrap();
    let b = c.enqueue(None, b"b", 10).unwrap().unwrap();
    assert_eq!(c.claim_due(10, 120, 10).unwrap().len(), 2);
    c.reschedule(b, 500, "temporary").unwrap();
    // The worker dies; the next one starts at t=20.
    assert_eq!(c.release_claims(20).unwrap(), 1);
    let due = c.claim_due(20, 120, 10).unwrap();
    assert_eq!(
        due.iter().map(|p| p.id).collect::<Vec<_>>(),
        [a],
        "backoff kept for b"
    );
}

#[test]
fn vendors_are_validated_matched_and_round_trip_through_csv() {
    use crate::vendors::Vendor;
    let mut c = Catalog::open_in_memory().unwrap();
    let v = Vendor {
        name: " Trackly ".into(),
        domains: vec![
            "Trackly.example.".into(),
            "trackly.example".into(),
            "cdn.trackly.net".into(),
        ],
        data_classes: vec!["Email addresses".into(), " Names".into(), "".into()],
        criticality: 4,
        owner: "cto@acme.example".into(),
        notes: "analytics; \"EU\" region".into(),
    };
    let stored = c.put_vendor("acme", v, false).unwrap();
    assert_eq!(stored.name, "Trackly");
    assert_eq!(stored.domains, ["trackly.example", "cdn.trackly.net"]);
    assert_eq!(stored.data_classes, ["Email addresses", "Names"]);
    assert_eq!(c.vendors("acme").unwrap(), std::slice::from_ref(&stored));
    assert_eq!(stored.matches("trackly.example", None), Some("domain"));
    assert_eq!(stored.matches("eu.cdn.trackly.net", None), Some("domain"));
    assert_eq!(stored.matches("notrackly.example", None), None);
    assert_eq!(
        stored.matches("shop.example", Some("TRACKLY")),
        Some("vendor")
    );
    assert_eq!(
        stored.matches("shop.example", Some("trackly.example")),
        Some("vendor")
    );
    assert_eq!(stored.matches("", None), None);
    let record = stored.to_csv_record();
    let back =
        Vendor::from_csv_record(&record.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
    assert_eq!(back, stored);
    for bad in [
        Vendor {
            criticality: 0,
            ..stored.clone()
        },
        Vendor {
            criticality: 6,
            ..stored.clone()
        },
        Vendor {
            name: " ".into(),
            ..stored.clone()
        },
        Vendor {
            domains: vec!["not a domain".into()],
            ..stored.clone()
        },
    ] {
        assert!(c.put_vendor("acme", bad, false).is_err());
    }
    // Replacing the inventory is all or nothing.
    let other = Vendor {
        name: "Mailer".into(),
        domains: vec!["mailer.example".into()],
        ..stored.clone()
    };
    assert!(
        c.replace_vendors(
            "acme",
            vec![
                other.clone(),
                Vendor {
                    criticality: 9,
                    ..other.clone()
                }
            ],
            false
        )
        .is_err()
    );
    assert_eq!(c.vendors("acme").unwrap().len(), 1);
    assert_eq!(
        c.replace_vendors("acme", vec![other.clone()], false)
            .unwrap(),
        1
    );
    assert_eq!(c.vendors("acme").unwrap()[0].name, "Mailer");
    assert!(c.remove_vendor("acme", "mailer").unwrap());
    assert!(c.vendors("acme").unwrap().is_empty());
}

/// Everything a catalogue answers, for comparing a damaged copy with the original.
fn everything(c: &Catalog) -> Result<String> {
    Ok(format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        c.all()?,
        c.keys()?,
        c.all_vendors()?,
        c.subscribers()?,
        c.outbox_counts()?,
        c.alerted_breaches()?,
        c.impact_alerted()?,
    ))
}

/// A catalogue file with rows in every table and index, spread over many pages.
fn filled_catalogue(path: &std::path::Path) {
    fill(&mut Catalog::open(path).unwrap());
}

fn fill(c: &mut Catalog) {
    for i in 0..80 {
        let mut b = Breach::from_manifest(
            &format!(
                r#"{{"Name":"Breach{i}","Domain":"site{i}.example","BreachDate":"2020-01-{:02}",
                    "PwnCount":{},"DataClasses":["Email addresses","Passwords"]}}"#,
                i % 28 + 1,
                i * 1000 + 7
            ),
            false,
        )
        .unwrap();
        b.description = format!("Breach number {i}. ").repeat(20);
        c.add(b).unwrap();
        c.enqueue(Some(&[i as u8; 32]), &[i as u8; 200], 1_700_000_000)
            .unwrap();
        c.put_subscriber(
            &[i as u8; 32],
            &[7; 120],
            None,
            None,
            Some(1),
            1_700_000_000,
        )
        .unwrap();
    }
    for i in 0..10 {
        c.create_key(
            &format!("key {i}"),
            10,
            None,
            &crate::keys::Scopes::All,
            None,
            &crate::keys::Quotas::none(),
        )
        .unwrap();
        c.put_vendor(
            "default",
            crate::vendors::Vendor {
                name: format!("Vendor{i}"),
                domains: vec![format!("vendor{i}.example")],
                data_classes: vec!["Email addresses".into()],
                criticality: 3,
                owner: "it@acme.example".into(),
                notes: String::new(),
            },
            i % 2 == 0,
        )
        .unwrap();
        c.mark_alerted(&format!("Breach{i}"), 1_700_000_000)
            .unwrap();
        c.mark_impact_alerted(&format!("Breach{i}"), 1_700_000_000)
            .unwrap();
    }
}

/// Flipping a byte anywhere in the catalogue file (each page's start, middle and end, its
/// checksum bytes, and every header field) is found by `verify_file` at that page's offset,
/// and a catalogue opened on the damaged file either refuses or answers exactly as before:
/// never a wrong answer.
#[test]
fn every_flipped_byte_of_the_catalogue_is_detected_or_harmless() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("catalog.db");
    filled_catalogue(&path);
    assert!(!tmp.path().join("catalog.db-journal").exists());
    let original = std::fs::read(&path).unwrap();
    let check = checksums::verify_file(&path).unwrap();
    let page = check.page_size as usize;
    assert!(check.pages >= 20, "{check:?}");
    let expected = everything(&Catalog::open(&path).unwrap()).unwrap();

    let damaged_path = tmp.path().join("damaged").join("catalog.db");
    std::fs::create_dir_all(damaged_path.parent().unwrap()).unwrap();
    let (mut refused, mut harmless) = (0, 0);
    for p in 0..check.pages as usize {
        let mut offsets = vec![0, 1, page / 3, page / 2, page - 9, page - 8, page - 1];
        if p == 0 {
            offsets.extend([5, 16, 17, 18, 20, 28, 40, 56, 60, 63, 99]);
        }
        for (k, within) in offsets.into_iter().enumerate() {
            let at = p * page + within;
            let mut bytes = original.clone();
            bytes[at] ^= 1 << (k % 8);
            std::fs::write(&damaged_path, &bytes).unwrap();

            match checksums::verify_file(&damaged_path) {
                Err(CatalogError::CorruptFile { file, offset, .. }) => {
                    assert_eq!(file, "catalog.db");
                    let header_field = p == 0 && [0, 16, 20].contains(&offset);
                    assert!(
                        offset == (p * page) as u64 || header_field,
                        "byte {at} flipped, reported at {offset}"
                    );
                }
                other => panic!("byte {at} flipped: verify_file said {other:?}"),
            }
            match Catalog::open(&damaged_path).and_then(|c| everything(&c)) {
                Err(_) => refused += 1,
                Ok(got) => {
                    assert_eq!(got, expected, "byte {at} flipped: a different answer");
                    harmless += 1;
                }
            }
        }
    }
    assert!(refused > 0, "{refused} refused, {harmless} harmless");
}

/// A catalogue written before page checksums (schema version 2) is refused until migrated;
/// the migration rewrites it once, it keeps its rows and then verifies.
#[test]
fn a_catalogue_without_checksums_is_refused_until_migrated_then_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("catalog.db");
    // Written as an older leakwatch wrote it: through SQLite's plain unix VFS (no reserved
    // bytes, no checksums), schema version 2.
    {
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags_and_vfs(&path, flags, c"unix").unwrap();
        let mut c = Catalog::init(conn).unwrap();
        fill(&mut c);
        c.raw().execute_batch("PRAGMA user_version = 2").unwrap();
    }
    assert!(matches!(
        checksums::verify_file(&path),
        Err(CatalogError::CorruptFile { offset: 20, .. })
    ));
    assert!(matches!(
        Catalog::open(&path),
        Err(CatalogError::NeedsMigration { found: 2, .. })
    ));
    assert_eq!(Catalog::migrate(&path).unwrap(), Some(2));
    let c = Catalog::open(&path).unwrap();
    let version: i64 = c
        .raw()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let upgraded = everything(&c).unwrap();
    drop(c);
    checksums::verify_file(&path).unwrap();
    // The rows are those written before (compared through the plain VFS, which reads the
    // checksummed file too: the reserved bytes are just unused space to it).
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE;
    let plain = Catalog {
        conn: sql::Conn::Sqlite(
            Connection::open_with_flags_and_vfs(&path, flags, c"unix").unwrap(),
        ),
    };
    assert_eq!(everything(&plain).unwrap(), upgraded);
    assert!(upgraded.contains("Breach79") && upgraded.contains("Vendor9"));
}

#[test]
fn pastes_are_unique_by_source_and_id_answered_in_hibp_shape_and_forgotten_per_address() {
    use crate::pastes::Paste;
    let mut c = Catalog::open_in_memory().unwrap();
    let paste = |source: &str, id: &str, date: Option<&str>, n: u64| Paste {
        source: source.into(),
        id: id.into(),
        title: None,
        date: date.map(Into::into),
        email_count: n,
    };
    let (alice, bob) = ([1u8; 32], [2u8; 32]);
    assert!(
        !c.put_paste(
            &paste("Pastebin", "abc", None, 2),
            &[alice, bob],
            &[([8; 32], 2)],
            1
        )
        .unwrap()
    );
    let dated = paste("Pastie", "9", Some("2014-03-04T19:14:54Z"), 1);
    assert!(!c.put_paste(&dated, &[alice], &[([9; 32], 1)], 2).unwrap());
    // Both wait for their alerts, in the order they came; each counts its domains.
    let new = c.unalerted_pastes().unwrap();
    assert_eq!(
        new.iter()
            .map(|u| (u.paste.id.as_str(), u.added))
            .collect::<Vec<_>>(),
        [("abc", 1), ("9", 2)]
    );
    let (first, second) = (new[0].row, new[1].row);
    assert_eq!(c.paste_domain_accounts(first, &[8; 32]).unwrap(), 2);
    assert_eq!(c.paste_domain_accounts(first, &[9; 32]).unwrap(), 0);
    assert!(c.paste_holds(second, &alice).unwrap() && !c.paste_holds(second, &bob).unwrap());
    c.mark_paste_alerted(first, 5).unwrap();
    assert_eq!(c.unalerted_pastes().unwrap().len(), 1);
    // Undated pastes come last; HIBP's field names, `Title` and `Date` null when unknown.
    let found = c.pastes_of(&alice).unwrap();
    assert_eq!(
        serde_json::to_value(&found).unwrap(),
        serde_json::json!([
            {"Source": "Pastie", "Id": "9", "Title": null, "Date": "2014-03-04T19:14:54Z", "EmailCount": 1},
            {"Source": "Pastebin", "Id": "abc", "Title": null, "Date": null, "EmailCount": 2},
        ])
    );
    // The same paste again (source in another case) replaces its addresses.
    assert!(
        c.put_paste(
            &paste("PASTEBIN", "abc", None, 1),
            &[bob],
            &[([8; 32], 1)],
            3
        )
        .unwrap()
    );
    assert_eq!(c.pastes_of(&alice).unwrap(), vec![dated.clone()]);
    // ... with its new counts, and still alerted: replacing a paste alerts nobody again.
    assert_eq!(c.paste_domain_accounts(first, &[8; 32]).unwrap(), 1);
    assert_eq!(c.unalerted_pastes().unwrap()[0].row, second);
    assert_eq!(c.pastes().unwrap().len(), 2);
    assert_eq!(c.paste("PASTIE", "9").unwrap(), Some(dated.clone()));
    assert_eq!(c.paste("Pastie", "10").unwrap(), None);
    assert_eq!(c.forget_paste_accounts(&[bob, [7; 32]]).unwrap(), 1);
    assert!(c.pastes_of(&bob).unwrap().is_empty());
    assert!(c.put_paste(&paste(" ", "x", None, 0), &[], &[], 4).is_err());
}

#[test]
fn sessions_are_kept_by_digest_swept_when_expired_and_end_with_their_key() {
    use crate::keys::{Quotas, Scopes};
    use crate::sessions::StoredSession;
    let mut c = Catalog::open_in_memory().unwrap();
    let (key, _) = c
        .create_key("soc", 10, None, &Scopes::All, Some("acme"), &Quotas::none())
        .unwrap();
    let (other, _) = c
        .create_key("ops", 10, None, &Scopes::All, Some("acme"), &Quotas::none())
        .unwrap();
    let old = StoredSession {
        key_id: key.id,
        created: 100,
        expires: 200,
        owes_passkey: false,
    };
    c.create_session(&[1; 32], old).unwrap();
    assert_eq!(c.session(&[1; 32]).unwrap(), Some(old));
    assert_eq!(c.session(&[9; 32]).unwrap(), None);
    // The next session made after the first expired sweeps it.
    let later = StoredSession {
        created: 300,
        expires: 500,
        ..old
    };
    c.create_session(&[2; 32], later).unwrap();
    assert_eq!(c.session(&[1; 32]).unwrap(), None);
    c.create_session(
        &[3; 32],
        StoredSession {
            key_id: other.id,
            ..later
        },
    )
    .unwrap();
    // Revoking a key ends its sessions and no other key's.
    c.revoke_key(&key.id.to_string()).unwrap();
    assert_eq!(c.session(&[2; 32]).unwrap(), None);
    assert!(c.session(&[3; 32]).unwrap().is_some());
    // Revoking the tenant ends the rest.
    c.revoke_tenant("acme").unwrap();
    assert_eq!(c.session(&[3; 32]).unwrap(), None);
    assert!(!c.delete_session(&[3; 32]).unwrap());
}

#[test]
fn a_session_owes_its_passkey_until_paid_and_a_ceremony_is_taken_once() {
    use crate::keys::{Quotas, Scopes};
    use crate::passkeys::{CeremonyKind, StoredPasskey};
    use crate::sessions::StoredSession;
    let mut c = Catalog::open_in_memory().unwrap();
    let (key, _) = c
        .create_key("soc", 10, None, &Scopes::All, Some("acme"), &Quotas::none())
        .unwrap();
    let passkey = StoredPasskey {
        credential_id: vec![7; 16],
        tenant: "acme".into(),
        name: "laptop".into(),
        credential: "{}".into(),
        created: 10,
        created_by: key.id,
        last_used: None,
    };
    assert!(c.add_passkey(&passkey).unwrap());
    // A credential id belongs to one tenant only.
    let stolen = StoredPasskey {
        tenant: "evil".into(),
        ..passkey.clone()
    };
    assert!(!c.add_passkey(&stolen).unwrap());
    assert_eq!(c.passkeys("acme").unwrap(), vec![passkey.clone()]);
    assert!(c.passkeys("evil").unwrap().is_empty());
    c.passkey_used(&[7; 16], "{\"n\":1}", 50).unwrap();
    let used = &c.passkeys("acme").unwrap()[0];
    assert_eq!(
        (used.credential.as_str(), used.last_used),
        ("{\"n\":1}", Some(50))
    );

    let owing = StoredSession {
        key_id: key.id,
        created: 100,
        expires: 200,
        owes_passkey: true,
    };
    c.create_session(&[1; 32], owing).unwrap();
    assert!(c.session(&[1; 32]).unwrap().unwrap().owes_passkey);
    assert!(c.session_owes_passkey(&[1; 32]).unwrap());

    // A ceremony is taken once, only as the kind it was begun as, and not once expired.
    c.begin_ceremony(&[1; 32], CeremonyKind::Authenticate, "a", 150)
        .unwrap();
    assert_eq!(
        c.take_ceremony(&[1; 32], CeremonyKind::Register, 120)
            .unwrap(),
        None
    );
    c.begin_ceremony(&[1; 32], CeremonyKind::Authenticate, "a", 150)
        .unwrap();
    assert_eq!(
        c.take_ceremony(&[1; 32], CeremonyKind::Authenticate, 150)
            .unwrap(),
        None
    );
    c.begin_ceremony(&[1; 32], CeremonyKind::Authenticate, "b", 150)
        .unwrap();
    assert_eq!(
        c.take_ceremony(&[1; 32], CeremonyKind::Authenticate, 120)
            .unwrap(),
        Some("b".to_owned())
    );
    assert_eq!(
        c.take_ceremony(&[1; 32], CeremonyKind::Authenticate, 120)
            .unwrap(),
        None
    );

    c.passkey_paid(&[1; 32]).unwrap();
    assert!(!c.session(&[1; 32]).unwrap().unwrap().owes_passkey);

    // Revoking the key ends the session with whatever hangs on it.
    c.create_session(
        &[2; 32],
        StoredSession {
            created: 110,
            ..owing
        },
    )
    .unwrap();
    c.begin_ceremony(&[2; 32], CeremonyKind::Authenticate, "c", 190)
        .unwrap();
    c.revoke_key(&key.id.to_string()).unwrap();
    assert_eq!(c.session(&[2; 32]).unwrap(), None);
    assert!(!c.session_owes_passkey(&[2; 32]).unwrap());
    assert_eq!(
        c.take_ceremony(&[2; 32], CeremonyKind::Authenticate, 120)
            .unwrap(),
        None
    );

    assert!(!c.remove_passkey("evil", &[7; 16]).unwrap());
    assert!(c.remove_passkey("acme", &[7; 16]).unwrap());
    assert!(c.passkeys("acme").unwrap().is_empty());
}
