//! The catalogue on a real PostgreSQL server (started by `leakwatch_catalog::testing`): every
//! operation answers as it does on SQLite, the reference, including case-insensitive names
//! and upserts; outbox claims from many connections at once never overlap; a change to keys
//! or breaches by one connection shows in every other's data version; the password comes
//! from the password file, never the URL.

// Long scenario functions read best whole (the workspace's limit is for non-test code).
#![allow(clippy::too_many_lines)]

use std::collections::BTreeSet;
use std::sync::Barrier;

use leakwatch_catalog::{
    Breach, Catalog, CatalogError, Dialect,
    keys::{BucketUse, Quotas, Scope, Scopes},
    passkeys::{CeremonyKind, StoredPasskey},
    pastes::Paste,
    pg::Heard,
    sessions::StoredSession,
    testing,
    vendors::Vendor,
    watch::SavedWatch,
};

/// A fresh database on the test server, or `None` (skipped) where there is no server.
fn database(name: &str) -> Option<String> {
    testing::postgres().map(|s| s.new_database(name, "leakwatch"))
}

/// Runs `work(catalogue, thread)` on `threads` connections of their own to `url`, all
/// started at once (a barrier after connecting); what each returned, in thread order.
fn at_once<T: Send>(
    url: &str,
    threads: usize,
    work: impl Fn(&mut Catalog, usize) -> T + Sync,
) -> Vec<T> {
    let start = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (start, work) = (&start, &work);
                s.spawn(move || {
                    let mut c = Catalog::open_postgres(url).unwrap();
                    start.wait();
                    work(&mut c, t)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn breach(name: &str, title: &str, classes: &[&str]) -> Breach {
    let json = serde_json::json!({
        "Name": name, "Title": title, "Domain": format!("{}.example", name.to_lowercase()),
        "BreachDate": "2021-03-04", "AddedDate": "2021-05-06T07:08:09Z",
        "ModifiedDate": "2021-05-06T07:08:09Z", "PwnCount": 1234,
        "DataClasses": classes, "IsSensitive": name.starts_with('S'),
    });
    Breach::from_manifest(&json.to_string(), false).unwrap()
}

fn vendor(name: &str, owner: &str) -> Vendor {
    Vendor {
        name: name.into(),
        domains: vec![format!("{}.example", name.to_lowercase())],
        data_classes: vec!["Email addresses".into()],
        criticality: 3,
        owner: owner.into(),
        notes: "fictional".into(),
    }
}

/// Runs every kind of catalogue operation and writes down what each answered, leaving out
/// what differs by design between two runs (random key secrets and prefixes, the clock).
fn exercise(c: &mut Catalog) -> Vec<String> {
    let mut seen = Vec::new();
    let mut note = |what: &str, v: String| seen.push(format!("{what}: {v}"));
    const NOW: u64 = 1_800_000_000;

    // Breaches: names unique whatever their case, ordered by title then name without case.
    for (name, title) in [
        ("Zeta", "beta"),
        ("Alpha", "Beta"),
        ("Sigma", "alpha"),
        ("b2", ""),
    ] {
        c.add(breach(name, title, &["Passwords", "Email addresses"]))
            .unwrap();
    }
    note(
        "dup",
        format!("{:?}", c.add(breach("ALPHA", "x", &[])).map(|b| b.name)),
    );
    note(
        "get",
        format!("{:?}", c.get("zeta").unwrap().map(|b| b.name)),
    );
    c.edit("alpha", |b| b.pwn_count = 99).unwrap();
    c.retire("Sigma").unwrap();
    c.upsert(breach("Zeta", "Gamma", &["Usernames"])).unwrap();
    let all = |c: &Catalog| {
        c.all()
            .unwrap()
            .into_iter()
            .map(|mut b| {
                b.modified_date.clear();
                format!("{b:?}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    note("all", all(c));
    let imported = c
        .import_hibp_json(
            &serde_json::to_string(&[breach("Omega", "Omega", &["IP addresses"])]).unwrap(),
        )
        .unwrap();
    note("imported", format!("{imported} {}", all(c)));
    note(
        "bad import",
        format!("{:?}", c.import_hibp_json("[{\"Name\": \"\"}]").is_err()),
    );

    // Keys: tenants, scopes, quotas, rotation, use, revocation.
    let scopes = Scopes::parse("account,domain").unwrap();
    let quotas = Quotas::parse("domain=50").unwrap();
    let (a, _) = c
        .create_key("alice", 10, None, &scopes, Some("acme"), &quotas)
        .unwrap();
    let (b, _) = c
        .create_key(
            "bob",
            20,
            Some("2099-01-01"),
            &Scopes::All,
            None,
            &Quotas::none(),
        )
        .unwrap();
    let (old, new, _) = c.rotate_key(a.id, "2030-01-01").unwrap();
    c.touch_key(new.id, "2031-02-03").unwrap();
    c.touch_key(new.id, "2031-01-01").unwrap();
    c.expire_key_by(b.id, "2050-01-01").unwrap();
    c.suspend_key(b.id, "read in bulk").unwrap();
    let key = |k: &leakwatch_catalog::keys::ApiKey| {
        format!(
            "{} {} rpm={} exp={:?} rev={} {} {} used={:?} {:?} susp={:?}",
            k.id,
            k.name,
            k.rpm,
            k.expires,
            k.revoked.is_some(),
            k.scopes,
            k.tenant,
            k.last_used,
            k.quotas.of(Scope::Domain),
            k.suspended
        )
    };
    note("rotated", format!("{} / {}", key(&old), key(&new)));
    note(
        "keys",
        c.keys()
            .unwrap()
            .iter()
            .map(key)
            .collect::<Vec<_>>()
            .join("; "),
    );
    note(
        "tenant",
        format!(
            "{} {}",
            c.tenant_exists("acme").unwrap(),
            c.tenant_exists("nope").unwrap()
        ),
    );
    note(
        "tenant keys",
        c.tenant_keys("acme")
            .unwrap()
            .iter()
            .map(key)
            .collect::<Vec<_>>()
            .join("; "),
    );
    note(
        "by digest",
        format!("{}", c.keys_by_digest().unwrap().len()),
    );
    c.resume_key(b.id).unwrap();
    note("revoked", key(&c.revoke_key(&b.id.to_string()).unwrap()));
    note(
        "revoked tenant",
        c.revoke_tenant("acme")
            .unwrap()
            .iter()
            .map(key)
            .collect::<Vec<_>>()
            .join("; "),
    );

    // Subscribers.
    let s1 = c
        .put_subscriber(b"d1", b"sealed1", Some(a.id), Some("acme"), None, NOW)
        .unwrap();
    let again = c
        .put_subscriber(b"d1", b"sealed1b", None, None, Some(NOW), NOW)
        .unwrap();
    let s2 = c
        .put_subscriber(b"d2", b"sealed2", None, None, Some(NOW), NOW)
        .unwrap();
    note("subscriber ids", format!("{} {}", s1 == again, s1 != s2));
    c.update_subscriber(s2, b"sealed2b", Some(7)).unwrap();
    c.verify_subscriber(s1, NOW + 1).unwrap();
    note(
        "unsub",
        format!(
            "{} {}",
            c.unsubscribe(s2, NOW).unwrap(),
            c.unsubscribe(s2, NOW).unwrap()
        ),
    );
    note("subs", format!("{:?}", c.subscribers().unwrap()));
    note(
        "tenant subs",
        format!("{:?}", c.tenant_subscribers("acme").unwrap()),
    );
    note(
        "by digest",
        format!("{:?}", c.subscriber_by_digest(b"d2").unwrap()),
    );
    note(
        "removed",
        format!(
            "{} {}",
            c.remove_subscriber(s2).unwrap(),
            c.remove_subscriber(s2).unwrap()
        ),
    );
    note("by id", format!("{:?}", c.subscriber(s2).unwrap()));
    c.mark_alerted("Alpha", NOW).unwrap();
    c.mark_alerted("alpha", NOW).unwrap();
    note("alerted", format!("{:?}", c.alerted_breaches().unwrap()));

    // Vendors: by tenant, name without case; a kept owner stays confirmed.
    c.put_vendor("acme", vendor("Zed", "z@acme.example"), false)
        .unwrap();
    c.put_vendor("acme", vendor("alpha", "a@acme.example"), true)
        .unwrap();
    c.put_vendor("acme", vendor("ALPHA", "a@acme.example"), false)
        .unwrap();
    c.put_vendor("other", vendor("Beta", "b@o.example"), false)
        .unwrap();
    note(
        "confirm",
        format!(
            "{}",
            c.confirm_vendor_owner("acme", "Zed", "z@acme.example")
                .unwrap()
        ),
    );
    note(
        "vendors",
        format!("{:?}", c.tenant_vendors("acme").unwrap()),
    );
    c.replace_vendors(
        "acme",
        vec![
            vendor("Alpha", "a@acme.example"),
            vendor("Mu", "m@x.example"),
        ],
        false,
    )
    .unwrap();
    note("replaced", format!("{:?}", c.all_vendors().unwrap()));
    note(
        "removed vendor",
        format!("{}", c.remove_vendor("acme", "mu").unwrap()),
    );
    c.mark_impact_alerted("Omega", NOW).unwrap();
    c.mark_impact_alerted("omega", NOW).unwrap();
    note("impact", format!("{:?}", c.impact_alerted().unwrap()));

    // Outbox.
    let first = c.enqueue(Some(b"k1"), b"p1", NOW).unwrap();
    note(
        "dedupe",
        format!(
            "{} {:?}",
            first.is_some(),
            c.enqueue(Some(b"k1"), b"p1", NOW).unwrap()
        ),
    );
    for i in 0..4u8 {
        c.enqueue(None, &[i], NOW + u64::from(i)).unwrap();
    }
    let claimed = c.claim_due(NOW + 2, 60, 10).unwrap();
    note(
        "claimed",
        format!(
            "{:?}",
            claimed
                .iter()
                .map(|p| (&p.payload, p.attempts, p.created))
                .collect::<Vec<_>>()
        ),
    );
    c.mark_delivered(claimed[0].id, NOW + 3).unwrap();
    c.reschedule(claimed[1].id, NOW + 100, "421 try later")
        .unwrap();
    c.mark_failed(claimed[2].id, NOW + 3, "550 no such user")
        .unwrap();
    note(
        "released",
        format!("{}", c.release_claims(NOW + 5).unwrap()),
    );
    note(
        "counts",
        format!(
            "{:?} {:?}",
            c.outbox_counts().unwrap(),
            c.next_due().unwrap()
        ),
    );
    note(
        "claimed again",
        format!(
            "{:?}",
            c.claim_due(NOW + 200, 60, 10)
                .unwrap()
                .iter()
                .map(|p| (&p.payload, p.attempts))
                .collect::<Vec<_>>()
        ),
    );

    // Limiter and watch state.
    let took = |taken: f64, at_ms: u64| BucketUse {
        key_id: 1,
        rpm: 6,
        taken,
        at_ms,
    };
    c.add_limits(
        &[took(2.5, 17)],
        &[(1, Scope::Domain, 5), (1, Scope::Account, 9)],
        100,
    )
    .unwrap();
    c.add_limits(&[took(1.0, 10_017)], &[(1, Scope::Domain, 3)], 100)
        .unwrap();
    note("buckets", format!("{:?}", c.saved_buckets().unwrap()));
    note("usage", format!("{:?}", c.saved_usage(100).unwrap()));
    let watch = SavedWatch {
        key_id: 1,
        kind: "accounts".into(),
        hour: 5,
        seen: vec![1, u64::MAX],
        crossed: true,
    };
    c.add_watch(std::slice::from_ref(&watch), 5).unwrap();
    c.add_watch(std::slice::from_ref(&watch), 5).unwrap();
    note("watch", format!("{:?}", c.saved_watch(5).unwrap()));

    // Pastes: unique by source (any case) and id; adding again replaces the addresses.
    let paste = |source: &str, id: &str, date: Option<&str>, n: u64| Paste {
        source: source.into(),
        id: id.into(),
        title: date.map(|_| format!("{id} title")),
        date: date.map(Into::into),
        email_count: n,
    };
    let (x, y, z) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    note(
        "paste",
        format!(
            "{:?} {:?} {:?}",
            c.put_paste(&paste("Pastebin", "a1", None, 2), &[x, y], &[(z, 2)], 1),
            c.put_paste(
                &paste("Pastie", "b2", Some("2020-01-02T03:04:05Z"), 1),
                &[x],
                &[(x, 1)],
                2
            ),
            c.put_paste(
                &paste("pastebin", "a1", Some("2019-05-06T00:00:00Z"), 2),
                &[y, z],
                &[(z, 1), (y, 1)],
                3
            ),
        ),
    );
    note(
        "pastes of",
        format!(
            "{:?} / {:?} / {:?}",
            c.pastes_of(&x).unwrap(),
            c.pastes_of(&y).unwrap(),
            c.pastes_of(&[9; 32]).unwrap()
        ),
    );
    note(
        "paste forget",
        format!("{:?}", c.forget_paste_accounts(&[y, x])),
    );
    note(
        "pastes",
        format!("{:?} {:?}", c.pastes().unwrap(), c.pastes_of(&z).unwrap()),
    );

    // Dashboard sessions: stored by digest, expired ones swept by the next, ended by the
    // key's revocation.
    let (session_key, _) = c
        .create_key(
            "dash",
            10,
            None,
            &Scopes::All,
            Some("dashco"),
            &Quotas::none(),
        )
        .unwrap();
    let s1 = StoredSession {
        key_id: session_key.id,
        created: 100,
        expires: 200,
        owes_passkey: false,
    };
    let s2 = StoredSession {
        created: 250,
        expires: 400,
        ..s1
    };
    note(
        "sessions",
        format!(
            "{:?} {:?} {:?} {:?}",
            c.create_session(&[1; 32], s1),
            c.session(&[1; 32]),
            c.create_session(&[2; 32], s2),
            (
                c.session(&[1; 32]),
                c.session(&[2; 32]),
                c.session(&[3; 32])
            )
        ),
    );
    note(
        "session end",
        format!(
            "{:?} {:?} {:?}",
            c.delete_session(&[2; 32]),
            c.create_session(&[4; 32], s2),
            c.revoke_key(&session_key.id.to_string()).map(|k| k.id),
        ),
    );
    note("session after revoke", format!("{:?}", c.session(&[4; 32])));

    // Passkeys: enrolled once per credential id, listed per tenant, a session owing one
    // until paid, a ceremony taken once and only as its kind.
    let pk = |id: u8, tenant: &str| StoredPasskey {
        credential_id: vec![id; 16],
        tenant: tenant.to_owned(),
        name: format!("key {id}"),
        credential: format!("{{\"cred\":{id}}}"),
        created: 300 + i64::from(id),
        created_by: session_key.id,
        last_used: None,
    };
    let owing = StoredSession {
        created: 300,
        expires: 900,
        owes_passkey: true,
        ..s1
    };
    note(
        "passkeys",
        format!(
            "{:?} {:?} {:?} {:?} {:?}",
            c.add_passkey(&pk(1, "dashco")),
            c.add_passkey(&pk(2, "dashco")),
            c.add_passkey(&pk(1, "other")),
            c.passkey_used(&[1; 16], "{\"cred\":11}", 777),
            c.passkeys("dashco"),
        ),
    );
    note(
        "passkey owed",
        format!(
            "{:?} {:?} {:?} {:?} {:?}",
            c.create_session(&[5; 32], owing),
            c.session(&[5; 32]),
            c.passkey_paid(&[5; 32]),
            c.session(&[5; 32]),
            c.remove_passkey("other", &[2; 16]),
        ),
    );
    note(
        "ceremony",
        format!(
            "{:?} {:?} {:?} {:?} {:?}",
            c.begin_ceremony(&[5; 32], CeremonyKind::Register, "state-r", 1000),
            c.take_ceremony(&[5; 32], CeremonyKind::Authenticate, 500),
            c.begin_ceremony(&[5; 32], CeremonyKind::Authenticate, "state-a", 1000),
            c.take_ceremony(&[5; 32], CeremonyKind::Authenticate, 500),
            c.take_ceremony(&[5; 32], CeremonyKind::Authenticate, 500),
        ),
    );
    note(
        "passkey removed",
        format!(
            "{:?} {:?}",
            c.remove_passkey("dashco", &[2; 16]),
            c.passkeys("dashco").map(|p| p.len()),
        ),
    );
    seen
}

#[test]
fn every_operation_answers_on_postgresql_as_on_sqlite() {
    let Some(url) = database("same_answers") else {
        return;
    };
    let mut pg = Catalog::open_postgres(&url).unwrap();
    assert_eq!(pg.dialect(), Dialect::Postgres);
    let mut sqlite = Catalog::open_in_memory().unwrap();
    let want = exercise(&mut sqlite);
    let got = exercise(&mut pg);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    // Opening again finds the schema made, and the data.
    drop(pg);
    let again = Catalog::open_postgres(&url).unwrap();
    assert_eq!(again.all().unwrap().len(), 5);
}

#[test]
fn outbox_workers_on_many_connections_never_claim_the_same_notification() {
    let Some(url) = database("claims") else {
        return;
    };
    let mut c = Catalog::open_postgres(&url).unwrap();
    for i in 0..400u32 {
        c.enqueue(Some(&i.to_le_bytes()), &i.to_le_bytes(), 1)
            .unwrap();
    }
    let per_worker: Vec<Vec<i64>> = at_once(&url, 6, |c, _| {
        let mut mine = Vec::new();
        loop {
            let batch = c.claim_due(10, 3600, 7).unwrap();
            if batch.is_empty() {
                return mine;
            }
            mine.extend(batch.into_iter().map(|p| p.id));
        }
    });
    let all: Vec<i64> = per_worker.iter().flatten().copied().collect();
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 400, "every notification claimed once: {all:?}");
    assert_eq!(distinct.len(), 400);
    assert!(
        per_worker.iter().filter(|w| !w.is_empty()).count() > 1,
        "the claims were not concurrent: {per_worker:?}"
    );
}

#[test]
fn a_change_to_keys_or_breaches_shows_in_every_connections_data_version_and_nothing_else_does() {
    let Some(url) = database("versions") else {
        return;
    };
    let mut writer = Catalog::open_postgres(&url).unwrap();
    let reader = Catalog::open_postgres(&url).unwrap();
    let (key, _) = writer
        .create_key("k", 10, None, &Scopes::All, None, &Quotas::none())
        .unwrap();
    let v0 = reader.data_version().unwrap();
    writer.enqueue(None, b"x", 1).unwrap();
    writer
        .add_limits(&[], &[(key.id, Scope::Account, 1)], 3)
        .unwrap();
    assert_eq!(
        reader.data_version().unwrap(),
        v0,
        "an outbox or limiter write reloads nothing"
    );
    writer.revoke_key(&key.id.to_string()).unwrap();
    let v1 = reader.data_version().unwrap();
    assert_ne!(v1, v0);
    writer.add(breach("New", "New", &[])).unwrap();
    assert_ne!(reader.data_version().unwrap(), v1);
}

#[test]
fn the_password_comes_from_the_password_file_and_never_from_the_url() {
    let Some(server) = testing::postgres() else {
        return;
    };
    let url = server.new_database("password", "leakwatch_pw");
    // No password: the server refuses (scram-sha-256 for this role).
    let err = Catalog::open_postgres(&url).unwrap_err();
    assert!(matches!(err, CatalogError::Postgres(_)), "{err}");
    let with_password = url.replace("leakwatch_pw@", "leakwatch_pw:secret@");
    let err = Catalog::open_postgres(&with_password)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("PGPASSFILE") && !err.contains("secret"),
        "{err}"
    );
}

#[test]
fn store_breach_ids_are_allocated_once_per_name_and_never_twice_across_connections() {
    let Some(url) = database("store_ids") else {
        return;
    };
    // SQLite allocates nothing: its store's one writer takes the manifest's next id.
    let sqlite = Catalog::open_in_memory().unwrap();
    assert_eq!(sqlite.store_breach_id("Any", 3).unwrap(), None);

    // Every thread asks for the same eight names, in its own order.
    let asked = at_once(&url, 4, |c, t| {
        (0..8)
            .map(|i| {
                let name = format!("Breach{}", (i + t * 3) % 8);
                (name.clone(), c.store_breach_id(&name, 5).unwrap().unwrap())
            })
            .collect::<Vec<_>>()
    });
    let mut by_name = std::collections::BTreeMap::<String, BTreeSet<u32>>::new();
    for (name, id) in asked.into_iter().flatten() {
        by_name.entry(name).or_default().insert(id);
    }
    assert!(by_name.values().all(|ids| ids.len() == 1), "{by_name:?}");
    let ids: BTreeSet<u32> = by_name.values().flatten().copied().collect();
    assert_eq!(
        ids,
        (5..13).collect(),
        "distinct, from the floor up: {by_name:?}"
    );
    // Case does not make another breach; a higher floor is honoured for a new name.
    let c = Catalog::open_postgres(&url).unwrap();
    assert_eq!(
        c.store_breach_id("BREACH0", 0).unwrap(),
        Some(*by_name["Breach0"].first().unwrap())
    );
    assert_eq!(c.store_breach_id("Later", 40).unwrap(), Some(40));
    assert_eq!(c.store_breach_id("Next", 0).unwrap(), Some(41));
}

/// Regression: `edit` read the breach outside its transaction and wrote it back as DELETE +
/// INSERT; under READ COMMITTED two importers editing one breach at once both deleted the
/// old row and the second INSERT failed with a duplicate name (23505), and an edit made
/// between another's read and write was lost.
#[test]
fn edits_of_one_breach_from_many_connections_at_once_all_land_and_none_fails() {
    let Some(url) = database("edits") else {
        return;
    };
    Catalog::open_postgres(&url)
        .unwrap()
        .add(breach("Jointbank", "Jointbank", &[]))
        .unwrap();
    let (threads, edits) = (4, 25);
    at_once(&url, threads, |c, t| {
        for i in 0..edits {
            c.edit("jointbank", |b| {
                b.data_classes.push(format!("Class {t}-{i}"));
                b.pwn_count += 1;
            })
            .unwrap();
        }
    });
    let b = Catalog::open_postgres(&url)
        .unwrap()
        .get("Jointbank")
        .unwrap()
        .unwrap();
    assert_eq!(b.pwn_count, 1234 + (threads * edits) as u64, "no edit lost");
    let want: BTreeSet<String> = (0..threads)
        .flat_map(|t| (0..edits).map(move |i| format!("Class {t}-{i}")))
        .collect();
    assert_eq!(
        b.data_classes.iter().cloned().collect::<BTreeSet<_>>(),
        want
    );
}

#[test]
fn limiter_use_added_by_many_connections_at_once_is_summed_and_none_is_lost() {
    let Some(url) = database("limits") else {
        return;
    };
    at_once(&url, 6, |c, _| {
        for _ in 0..50 {
            let took = BucketUse {
                key_id: 1,
                rpm: 1000,
                taken: 1.0,
                at_ms: 1_000,
            };
            c.add_limits(&[took], &[(1, Scope::Account, 1)], 9).unwrap();
        }
    });
    let c = Catalog::open_postgres(&url).unwrap();
    assert_eq!(c.saved_usage(9).unwrap(), [(1, Scope::Account, 300)]);
    let buckets = c.saved_buckets().unwrap();
    assert_eq!(
        (buckets.len(), buckets[0].tokens),
        (1, 700.0),
        "a full bucket of 1000, no refill at one instant, 300 taken"
    );
}

#[test]
fn a_listener_hears_changes_to_keys_breaches_and_published_generations_and_nothing_else() {
    use std::time::{Duration, Instant};
    let Some(url) = database("listen") else {
        return;
    };
    let mut c = Catalog::open_postgres(&url).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let listener = leakwatch_catalog::pg::listen(&url, move |heard| {
        let _ = tx.send((heard, Instant::now()));
    })
    .unwrap();
    let heard = |what: &str, asked: Instant, want: Heard| {
        let (got, at) = rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("no notification for {what}"));
        assert_eq!(got, want, "{what}");
        // The notifications one change made (one per statement) all arrive together.
        while rx.recv_timeout(Duration::from_millis(200)).is_ok() {}
        eprintln!(
            "{what}: heard after {:?}",
            at.saturating_duration_since(asked)
        );
    };
    let asked = Instant::now();
    let (key, _) = c
        .create_key("soc", 5, None, &Scopes::All, None, &Quotas::none())
        .unwrap();
    heard("a new key", asked, Heard::Catalog);
    let asked = Instant::now();
    c.revoke_key(&key.id.to_string()).unwrap();
    heard("a revocation", asked, Heard::Catalog);
    let asked = Instant::now();
    c.add(breach("Listenbank", "Listen Bank", &["Passwords"]))
        .unwrap();
    heard("a new breach", asked, Heard::Catalog);
    let asked = Instant::now();
    c.announce_publication(7).unwrap();
    heard("a published generation", asked, Heard::Store);
    // A vendor is not a key or a breach: nothing to reload.
    c.put_vendor("", vendor("Quietco", "soc@quietco.example"), false)
        .unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(800)).is_err());
    // Dropped, it stops listening.
    drop(listener);
    std::thread::sleep(Duration::from_millis(800));
    c.create_key("later", 5, None, &Scopes::All, None, &Quotas::none())
        .unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(800)).is_err());
}

#[test]
fn over_tls_the_server_is_verified_against_the_given_ca_and_the_session_is_encrypted() {
    let Some(server) = testing::postgres() else {
        return;
    };
    let ca = server
        .ca()
        .expect("the test server has TLS where openssl runs");
    // A role the server admits over TLS only.
    let url = server.new_database("tls", "leakwatch_tls");
    let refused = |url: &str| match Catalog::open_postgres(url) {
        Ok(_) => panic!("{url} connected"),
        Err(e) => e.to_string(),
    };
    let plain = refused(&url);
    assert!(plain.contains("no encryption"), "{plain}");
    // TLS, but the server's certificate is from a CA that is not trusted (the public roots).
    let untrusted = refused(&format!("{url}?sslmode=require"));
    assert!(
        untrusted.to_lowercase().contains("certificate"),
        "{untrusted}"
    );
    // TLS with the private CA named: connected, and the session is encrypted.
    let mut c = Catalog::open_postgres(&format!(
        "{url}?sslmode=require&sslrootcert={}",
        ca.display()
    ))
    .unwrap();
    c.create_key("tls", 5, None, &Scopes::All, None, &Quotas::none())
        .unwrap();
    let encrypted: Vec<bool> = server
        .superuser()
        .unwrap()
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.usename = 'leakwatch_tls'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        !encrypted.is_empty() && encrypted.iter().all(|&e| e),
        "{encrypted:?}"
    );
    // A CA file that holds no certificate is a clear error, not a silent plain connection.
    let empty = tempfile::NamedTempFile::new().unwrap();
    let bad = refused(&format!(
        "{url}?sslmode=require&sslrootcert={}",
        empty.path().display()
    ));
    assert!(bad.contains("no PEM certificate"), "{bad}");
}

#[test]
fn a_version_6_7_or_8_schema_gains_the_paste_session_and_passkey_tables_on_first_connect() {
    let Some(url) = database("from_version_6") else {
        return;
    };
    drop(Catalog::open_postgres(&url).unwrap());
    let server = testing::postgres().unwrap();
    let mut admin = server.connect_as("leakwatch", "from_version_6").unwrap();
    admin
        .batch_execute(
            "DROP TABLE paste_account; DROP TABLE paste_domain; DROP TABLE paste; \
             DROP TABLE dashboard_session; DROP TABLE passkey; DROP TABLE dashboard_owed; \
             DROP TABLE webauthn_ceremony; UPDATE leakwatch_schema SET version = 6;",
        )
        .unwrap();
    let mut c = Catalog::open_postgres(&url).unwrap();
    let version: i64 = admin
        .query_one("SELECT version FROM leakwatch_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, leakwatch_catalog::SCHEMA_VERSION);
    let paste = Paste {
        source: "Pastebin".into(),
        id: "x".into(),
        title: None,
        date: None,
        email_count: 1,
    };
    c.put_paste(&paste, &[[5; 32]], &[], 1).unwrap();
    assert_eq!(c.pastes_of(&[5; 32]).unwrap(), vec![paste]);
    let session = StoredSession {
        key_id: 1,
        created: 1,
        expires: 2,
        owes_passkey: true,
    };
    c.create_session(&[6; 32], session).unwrap();
    assert_eq!(c.session(&[6; 32]).unwrap(), Some(session));
    // From version 7, only the sessions are added.
    admin
        .batch_execute(
            "DROP TABLE dashboard_session; DROP TABLE passkey; DROP TABLE dashboard_owed; \
             DROP TABLE webauthn_ceremony; UPDATE leakwatch_schema SET version = 7;",
        )
        .unwrap();
    let mut c = Catalog::open_postgres(&url).unwrap();
    c.create_session(&[7; 32], session).unwrap();
    assert_eq!(c.session(&[7; 32]).unwrap(), Some(session));
    assert_eq!(
        c.pastes_of(&[5; 32]).unwrap().len(),
        1,
        "the pastes are kept"
    );
    // From version 8, only the passkey tables are added; the sessions are kept.
    admin
        .batch_execute(
            "DROP TABLE passkey; DROP TABLE dashboard_owed; DROP TABLE webauthn_ceremony; \
             UPDATE leakwatch_schema SET version = 8;",
        )
        .unwrap();
    let mut c = Catalog::open_postgres(&url).unwrap();
    assert_eq!(
        c.session(&[7; 32]).unwrap().map(|s| s.key_id),
        Some(1),
        "the sessions are kept"
    );
    c.create_session(&[8; 32], session).unwrap();
    assert_eq!(c.session(&[8; 32]).unwrap(), Some(session));
    assert!(c.passkeys("anyone").unwrap().is_empty());
    // A newer schema than this build's is refused, not written past.
    admin
        .batch_execute("UPDATE leakwatch_schema SET version = 99")
        .unwrap();
    assert!(matches!(
        Catalog::open_postgres(&url),
        Err(CatalogError::UnsupportedVersion { found: 99, .. })
    ));
}
