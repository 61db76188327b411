//! The catalogue on PostgreSQL shared by replicas (issue #21) through the real binary: three
//! `leakwatch serve` replicas, each with a cache directory of its own, over one store on a
//! real SeaweedFS and one catalogue on a real PostgreSQL, started by the tests on loopback.
//! Their outbox workers deliver each alert once, and across a replica's SIGKILL at most the
//! mail in flight twice, with one Message-ID (real SMTP sink); a key revoked on one machine is
//! refused by every replica within a second; the database password comes from the password
//! file, never from the URL.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use leakwatch_catalog::testing::{Postgres, postgres};

use crate::harness::{Need, Test};
use crate::mail::keyed;
use crate::objstore::{Bucket, Switch};
use crate::support::{OPERATOR_KEY, Server, SmtpSink, bin, write};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(three_replicas_on_one_postgresql_catalogue_alert_each_subscriber_once_across_a_kill)
            .needs(&[Need::Postgres, Need::Weed, Need::Aiosmtpd]),
        test!(a_key_revoked_on_one_machine_is_refused_by_every_replica_within_a_second)
            .needs(&[Need::Postgres, Need::Weed]),
        test!(the_catalogue_password_comes_from_the_password_file_never_from_the_url)
            .needs(&[Need::Postgres]),
        test!(two_importers_racing_each_with_a_new_breach_get_distinct_ids_and_both_are_searchable)
            .needs(&[Need::Postgres, Need::Weed]),
        test!(keyed_routes_fail_closed_while_the_shared_catalogue_is_unreachable_and_ranges_keep_serving)
            .needs(&[Need::Postgres, Need::Weed]),
        test!(a_daily_quota_holds_for_the_sum_of_three_replicas_not_for_each)
            .needs(&[Need::Postgres, Need::Weed]),
        test!(while_a_replica_waits_on_the_object_store_its_keys_stay_current_and_a_revocation_lands)
            .needs(&[Need::Postgres, Need::Weed]),
        test!(two_importers_racing_into_one_new_breach_both_publish_under_its_one_id)
            .needs(&[Need::Postgres, Need::Weed]),
        test!(a_replica_that_seldom_polls_the_store_serves_an_announced_generation_at_once)
            .needs(&[Need::Postgres, Need::Weed]),
        test!(replicas_and_machines_on_one_catalogue_write_one_audit_trail_that_refuses_edits)
            .needs(&[Need::Postgres, Need::Weed]),
    ]
}

/// Regression: the store's reload (which, for a new generation, downloads its files) ran in
/// the same loop as the catalogue's, so while it waited on the object store no key was
/// checked: after 3 s every keyed request failed closed (503), and a revocation waited for
/// the download.
fn while_a_replica_waits_on_the_object_store_its_keys_stay_current_and_a_revocation_lands() {
    let d = Deployment::new("stalled");
    d.load_breach("importer", "Firstbank", &["ann@example.test".to_owned()]);
    let switch = Switch::new(
        leakwatch_objstore::testing::seaweedfs()
            .unwrap()
            .strip_prefix("http://")
            .unwrap(),
    );
    switch.set(true);
    let replica = d.replica_through(0, &[], Some(&switch));
    let secret = d.create_key("importer", &[]);
    let path = "/api/v3/breachedaccount/ann@example.test";
    let account = || keyed(&replica.addr, "GET", path, &secret, "").0;
    assert_eq!(
        poll_until(200, account),
        200,
        "{}",
        replica.log.lock().unwrap()
    );

    // The object store hangs while a new generation is published: the replica's reload
    // waits on it.
    switch.stall();
    d.load_breach("importer", "Secondbank", &["bob@example.test".to_owned()]);
    let stalled = Instant::now();
    while stalled.elapsed() < Duration::from_secs(5) {
        assert_eq!(account(), 200, "{}", replica.log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(250));
    }
    d.cli("importer", &["keys", "revoke", &secret[..6]]);
    let revoked = Instant::now();
    assert_eq!(poll_until(401, account), 401);
    assert!(
        revoked.elapsed() < Duration::from_secs(1),
        "{:?}",
        revoked.elapsed()
    );

    // The store answers again: the new generation is served.
    switch.set(true);
    let key = d.create_key("importer", &[]);
    let bob = || {
        keyed(
            &replica.addr,
            "GET",
            "/api/v3/breachedaccount/bob@example.test",
            &key,
            "",
        )
        .0
    };
    assert_eq!(poll_until(200, bob), 200, "{}", replica.log.lock().unwrap());
}

/// One deployment: a bucket, a PostgreSQL database, and the machines (cache directories)
/// that use them.
struct Deployment {
    bucket: Bucket,
    /// The database's name and URL.
    db: String,
    catalog: String,
    tmp: tempfile::TempDir,
}

impl Deployment {
    fn new(name: &str) -> Deployment {
        let server = postgres().expect("Need::Postgres");
        let db = format!("{name}_{}", std::process::id());
        Deployment {
            bucket: Bucket::new(name),
            catalog: server.new_database(&db, "leakwatch"),
            db,
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    /// The cache directory of machine `name`.
    fn machine(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `leakwatch ARGS` on machine `name` (`--data s3://… --cache-dir … --catalog …`, the
    /// bucket's environment, the operator key); its stdout, which it must succeed to give.
    fn cli(&self, machine: &str, args: &[&str]) -> String {
        let mut args = args.to_vec();
        args.extend(["--catalog", &self.catalog]);
        self.bucket.run(&self.machine(machine), &args)
    }

    /// `leakwatch ARGS` on machine `name`, as [`Deployment::cli`], whatever its outcome.
    fn cli_output(&self, machine: &str, args: &[&str]) -> std::process::Output {
        let mut args = args.to_vec();
        args.extend(["--catalog", &self.catalog]);
        Command::new(bin())
            .args(&args)
            .args(["--data", &self.bucket.url, "--cache-dir"])
            .arg(self.machine(machine))
            .envs(self.bucket.env())
            .env("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)
            .output()
            .unwrap()
    }

    /// Adds breach `name` to the catalogue from machine `machine`.
    fn add_breach(&self, machine: &str, name: &str) {
        let args = [
            "breach",
            "add",
            "--name",
            name,
            "--breach-date",
            "2024-03-04",
        ];
        self.cli(machine, &args);
    }

    /// Adds breach `name` and imports `addresses` (and a bystander) into it from machine
    /// `importer`.
    fn load_breach(&self, importer: &str, name: &str, addresses: &[String]) {
        self.add_breach(importer, name);
        let mut dump: String = addresses
            .iter()
            .map(|a| format!("{a}:pw-{name}\n"))
            .collect();
        dump.push_str("bystander@elsewhere.test:pw\n");
        let file = write(
            &self.tmp.path().join(format!("{name}.txt")),
            dump.as_bytes(),
        );
        self.cli(
            importer,
            &["ingest", "-q", "--breach", name, file.to_str().unwrap()],
        );
    }

    /// Creates a key that may do everything on machine `machine`, with `extra` arguments of
    /// `keys create`; returns its secret.
    fn create_key(&self, machine: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "keys",
            "create",
            "--name",
            "soc",
            "--rpm",
            "100000",
            "--max-rpm",
            "4000000000",
            "--scope",
            "all",
        ];
        args.extend_from_slice(extra);
        self.cli(machine, &args).trim().to_owned()
    }

    /// Lets the database take connections or not; when not, ends the ones it has (the
    /// server, as the replicas see it, is gone).
    fn database_reachable(&self, reachable: bool) {
        let mut c = postgres().unwrap().superuser().unwrap();
        c.batch_execute(&format!(
            "ALTER DATABASE \"{}\" ALLOW_CONNECTIONS {reachable}",
            self.db
        ))
        .unwrap();
        if !reachable {
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&self.db],
            )
            .unwrap();
        }
    }

    /// Replica `i`: `leakwatch serve` on machine `replica-i` with `extra` arguments.
    fn replica(&self, i: usize, extra: &[&str]) -> Server {
        self.replica_through(i, extra, None)
    }

    /// Replica `i`, reaching the object store through `switch` when one is given.
    fn replica_through(&self, i: usize, extra: &[&str], switch: Option<&Switch>) -> Server {
        let cache = self.machine(&format!("replica-{i}"));
        let cache = cache.to_str().unwrap();
        let mut args = vec![
            "--data",
            &self.bucket.url,
            "--cache-dir",
            cache,
            "--catalog",
            &self.catalog,
        ];
        args.extend_from_slice(extra);
        let endpoint = switch.map(|s| format!("http://{}", s.addr));
        let mut env = match (switch, &endpoint) {
            (Some(switch), Some(endpoint)) => switch.env(&self.bucket, endpoint),
            _ => self.bucket.env(),
        };
        env.push(("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY));
        let server = Server::start_with(Path::new(cache), &args, &env);
        server.wait_ready();
        server
    }
}

/// Each recipient's alerts for `breach`, as the Message-IDs of the copies it got.
fn alerts_by_recipient(mails: &[serde_json::Value], breach: &str) -> BTreeMap<String, Vec<String>> {
    let mut by = BTreeMap::<String, Vec<String>>::new();
    for m in mails {
        if m["subject"] == format!("leakwatch alert: {breach}") {
            by.entry(m["rcpt_tos"][0].as_str().unwrap().to_owned())
                .or_default()
                .push(m["message_id"].as_str().unwrap().to_owned());
        }
    }
    by
}

/// Waits until each of `want` has an alert for `breach`; returns every mail then.
fn wait_for_alerts(smtp: &SmtpSink, breach: &str, want: &[String]) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mails = smtp.messages();
        let got = alerts_by_recipient(&mails, breach);
        if want.iter().all(|w| got.contains_key(w)) || Instant::now() > deadline {
            // Let a late duplicate, if any were coming, arrive before counting.
            std::thread::sleep(Duration::from_millis(1500));
            return smtp.messages();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn three_replicas_on_one_postgresql_catalogue_alert_each_subscriber_once_across_a_kill() {
    let d = Deployment::new("alerts");
    // 50 ms per recipient: 50 alerts take seconds, so the kill lands mid-delivery.
    let smtp = SmtpSink::start_slow(d.tmp.path(), 0, 0.05);
    let subscribers: Vec<String> = (0..50).map(|i| format!("sub{i:02}@example.test")).collect();
    d.load_breach("importer", "Seedbank", &[]);
    for who in &subscribers {
        d.cli("importer", &["subscribe", "add", who]);
    }
    let mail = [
        "--smtp-url",
        &smtp.url(),
        "--mail-retry-after",
        "1",
        // A dead replica's mail in flight waits this long for another replica.
        "--mail-lease",
        "3",
    ];
    let mut replicas: Vec<Server> = (0..3).map(|i| d.replica(i, &mail)).collect();
    for r in &replicas {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = r.log.lock().unwrap().clone();
            if log.contains("delivers alongside the others") {
                break;
            }
            assert!(Instant::now() < deadline, "no shared outbox worker: {log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // Three workers at once on one outbox: each subscriber gets exactly one alert.
    d.load_breach("importer", "Firstbank", &subscribers);
    let mails = wait_for_alerts(&smtp, "Firstbank", &subscribers);
    let first = alerts_by_recipient(&mails, "Firstbank");
    let want: BTreeSet<&String> = subscribers.iter().collect();
    assert_eq!(first.keys().collect::<BTreeSet<_>>(), want);
    assert!(
        first.values().all(|ids| ids.len() == 1),
        "an alert went out twice: {first:#?}"
    );

    // SIGKILL one replica while alerts are going out: every subscriber still gets the
    // alert, and a repeat (only the mail that replica had in flight) has the same
    // Message-ID.
    let before = smtp.rcpts();
    d.load_breach("importer", "Secondbank", &subscribers);
    smtp.wait_for_rcpts(before + 8, 60);
    replicas[0].child.kill().unwrap();
    replicas[0].child.wait().unwrap();
    let at_kill = smtp.rcpts() - before;
    let mails = wait_for_alerts(&smtp, "Secondbank", &subscribers);
    let second = alerts_by_recipient(&mails, "Secondbank");
    assert_eq!(
        second.keys().collect::<BTreeSet<_>>(),
        want,
        "killed after {at_kill} deliveries; the others:\n{}\n{}",
        replicas[1].log.lock().unwrap(),
        replicas[2].log.lock().unwrap()
    );
    let copies: usize = second.values().map(|ids| ids.len() - 1).sum();
    assert!(copies <= 1, "{copies} repeats for one kill: {second:#?}");
    assert!(
        second
            .values()
            .all(|ids| ids.iter().collect::<BTreeSet<_>>().len() == 1),
        "a repeat with another Message-ID: {second:#?}"
    );
    eprintln!("killed after {at_kill} of 50 deliveries; {copies} repeat(s)");
}

fn a_key_revoked_on_one_machine_is_refused_by_every_replica_within_a_second() {
    let d = Deployment::new("revoke");
    d.load_breach("importer", "Keybank", &["ann@example.test".to_owned()]);
    let replicas: Vec<Server> = (0..3).map(|i| d.replica(i, &[])).collect();
    let secret = d.create_key("importer", &[]);
    let path = "/api/v3/breachedaccount/ann@example.test";
    // A key made on one machine is accepted by every replica.
    for r in &replicas {
        let deadline = Instant::now() + Duration::from_secs(10);
        while keyed(&r.addr, "GET", path, &secret, "").0 != 200 {
            assert!(Instant::now() < deadline, "{}", r.log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // Revoked on replica 0's machine: each replica, polled on its own thread, refuses it.
    d.cli("replica-0", &["keys", "revoke", &secret[..6]]);
    let revoked = Instant::now();
    let took: Vec<Duration> = std::thread::scope(|s| {
        let polls: Vec<_> = replicas
            .iter()
            .map(|r| {
                let secret = &secret;
                s.spawn(move || {
                    while keyed(&r.addr, "GET", path, secret, "").0 != 401 {
                        assert!(revoked.elapsed() < Duration::from_secs(30));
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    revoked.elapsed()
                })
            })
            .collect();
        polls.into_iter().map(|p| p.join().unwrap()).collect()
    });
    eprintln!("revocation refused by the three replicas after {took:?}");
    assert!(
        took.iter().all(|t| *t < Duration::from_secs(1)),
        "refused only after {took:?}"
    );
}

fn the_catalogue_password_comes_from_the_password_file_never_from_the_url() {
    let server = postgres().expect("Need::Postgres");
    let db = format!("password_{}", std::process::id());
    let url = server.new_database(&db, "leakwatch_pw");
    let tmp = tempfile::tempdir().unwrap();
    let pgpass = tmp.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!(
            "127.0.0.1:{}:{db}:leakwatch_pw:{}\n",
            server.port(),
            Postgres::PASSWORD
        ),
    )
    .unwrap();
    let run = |data: &str, url: &str, pgpass: Option<&Path>| {
        let mut cmd = Command::new(bin());
        cmd.args(["keys", "list", "--data", data, "--catalog", url])
            .env_remove("PGPASSWORD")
            .env_remove("PGPASSFILE")
            .env("HOME", tmp.path());
        if let Some(p) = pgpass {
            cmd.env("PGPASSFILE", p);
        }
        cmd.output().unwrap()
    };
    let data = |name: &str| tmp.path().join(name).to_str().unwrap().to_owned();
    use std::os::unix::fs::PermissionsExt;

    // The URL carries no password; the file others may read is refused, as libpq does.
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&data("a"), &url, Some(&pgpass));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("chmod 0600"), "{err}");
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&data("a"), &url, Some(&pgpass));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without the file the server refuses the role.
    let out = run(&data("b"), &url, None);
    assert!(!out.status.success());
    // A password in the URL is refused before anything connects, and not echoed.
    let with_password = url.replace("leakwatch_pw@", "leakwatch_pw:hunter2@");
    let out = run(&data("c"), &with_password, Some(&pgpass));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("PGPASSFILE") && !err.contains("hunter2"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("error")).count(),
        1,
        "{err}"
    );
    // The directory was bound by the first success and needs no --catalog after.
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("a/catalog-url"))
            .unwrap()
            .trim(),
        url
    );
    assert!(!tmp.path().join("a/catalog.db").exists());
}

/// Polls `probe` until it gives `want` (or 20 s pass); returns what it gave last.
fn poll_until(want: u16, probe: impl Fn() -> u16) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = probe();
        if got == want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn keyed_routes_fail_closed_while_the_shared_catalogue_is_unreachable_and_ranges_keep_serving() {
    let d = Deployment::new("outage");
    d.load_breach("importer", "Outagebank", &["ann@example.test".to_owned()]);
    let replica = d.replica(0, &[]);
    let secret = d.create_key("importer", &[]);
    let path = "/api/v3/breachedaccount/ann@example.test";
    let account = || keyed(&replica.addr, "GET", path, &secret, "").0;
    let range = || crate::support::http_get(&replica.addr, "/range/00000", &[]).0;
    assert_eq!(
        poll_until(200, account),
        200,
        "{}",
        replica.log.lock().unwrap()
    );

    // Cut off: the replica cannot know whether the key was revoked meanwhile, so keyed
    // routes answer 503 (not the key it last saw, not 401); ranges need no catalogue.
    d.database_reachable(false);
    assert_eq!(
        poll_until(503, account),
        503,
        "{}",
        replica.log.lock().unwrap()
    );
    // Whichever the replica finds first: the keys it cannot check, or the audit trail (in
    // the same catalogue) it cannot write.
    let (status, _, body) = keyed(&replica.addr, "GET", path, &secret, "");
    assert_eq!(status, 503);
    let body = body.to_string();
    assert!(
        body.contains("cannot be reached") || body.contains("audit log cannot be written"),
        "{body}"
    );
    assert_eq!(range(), 200);

    // Back: the replica reconnects by itself (its keys and its audit trail) and admits the
    // key again.
    d.database_reachable(true);
    assert_eq!(
        poll_until(200, account),
        200,
        "{}",
        replica.log.lock().unwrap()
    );
    assert_eq!(range(), 200);
    // A request after the outage is recorded in the catalogue's trail, over the audit log's
    // own connection made again.
    let after = "/api/v3/breachedaccount/carol@example.test";
    assert_eq!(keyed(&replica.addr, "GET", after, &secret, "").0, 404);
    std::thread::sleep(Duration::from_millis(300));
    let verified = d.cli("auditor", &["audit-log", "verify"]);
    assert!(verified.starts_with("the audit log verifies"), "{verified}");
    let recorded = audit_events(&d, "auditor", &["--target", "carol@example.test"]);
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["status"], 404);
}

fn two_importers_racing_each_with_a_new_breach_get_distinct_ids_and_both_are_searchable() {
    let d = Deployment::new("racing");
    d.load_breach("importer-a", "Seedbank", &["seed@example.test".to_owned()]);
    // Two machines add a breach each and import into it at once.
    let dump = |name: &str, who: &str| {
        d.add_breach("importer-a", name);
        let mut text = format!("{who}:pw\n");
        for i in 0..3000 {
            text.push_str(&format!("{name}-bystander{i}@elsewhere.test:pw{i}\n"));
        }
        write(&d.tmp.path().join(format!("{name}.txt")), text.as_bytes())
    };
    let alpha = dump("Alphabank", "ann@example.test");
    let beta = dump("Betabank", "bob@example.test");
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            d.cli(
                "importer-a",
                &[
                    "ingest",
                    "-q",
                    "--breach",
                    "Alphabank",
                    alpha.to_str().unwrap(),
                ],
            )
        });
        let b = s.spawn(|| {
            d.cli(
                "importer-b",
                &[
                    "ingest",
                    "-q",
                    "--breach",
                    "Betabank",
                    beta.to_str().unwrap(),
                ],
            )
        });
        a.join().unwrap();
        b.join().unwrap();
    });
    // Both published, at distinct ids: each address is found in its own breach, and only in
    // it (one id for both would name one breach for both addresses).
    let replica = d.replica(0, &[]);
    let secret = d.create_key("importer-a", &[]);
    // The replica learns of the new key on its next catalogue poll.
    let probe = || {
        keyed(
            &replica.addr,
            "GET",
            "/api/v3/breachedaccount/seed@example.test",
            &secret,
            "",
        )
        .0
    };
    assert_eq!(
        poll_until(200, probe),
        200,
        "{}",
        replica.log.lock().unwrap()
    );
    for (who, breach) in [
        ("ann", "Alphabank"),
        ("bob", "Betabank"),
        ("seed", "Seedbank"),
    ] {
        let path = format!("/api/v3/breachedaccount/{who}@example.test");
        let (status, _, body) = keyed(&replica.addr, "GET", &path, &secret, "");
        assert_eq!(status, 200, "{who}: {body}");
        assert_eq!(body, serde_json::json!([{ "Name": breach }]), "{who}");
    }
}

fn a_replica_that_seldom_polls_the_store_serves_an_announced_generation_at_once() {
    let d = Deployment::new("announced");
    d.load_breach("importer", "Firstbank", &["ann@example.test".to_owned()]);
    // Polls the store every ten minutes: only the importer's announcement can tell it.
    let replica = d.replica(0, &["--store-poll-ms", "600000"]);
    let secret = d.create_key("importer", &[]);
    let ask = |who: &str| {
        let path = format!("/api/v3/breachedaccount/{who}@example.test");
        keyed(&replica.addr, "GET", &path, &secret, "").0
    };
    assert_eq!(
        poll_until(200, || ask("ann")),
        200,
        "{}",
        replica.log.lock().unwrap()
    );
    assert_eq!(ask("bob"), 404);
    d.load_breach("importer", "Secondbank", &["bob@example.test".to_owned()]);
    let published = Instant::now();
    assert_eq!(
        poll_until(200, || ask("bob")),
        200,
        "{}",
        replica.log.lock().unwrap()
    );
    let took = published.elapsed();
    eprintln!("an announced generation was served after {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

fn two_importers_racing_into_one_new_breach_both_publish_under_its_one_id() {
    let d = Deployment::new("samename");
    d.load_breach("importer-a", "Seedbank", &["seed@example.test".to_owned()]);
    d.add_breach("importer-a", "Jointbank");
    // Two machines import a dump each into the same breach, new to the store, at once.
    let dump = |who: &str| {
        let mut text = format!("{who}@example.test:pw\n");
        for i in 0..3000 {
            text.push_str(&format!("{who}-bystander{i}@elsewhere.test:pw{i}\n"));
        }
        write(&d.tmp.path().join(format!("{who}.txt")), text.as_bytes())
    };
    let (ann, bob) = (dump("ann"), dump("bob"));
    let d = &d;
    std::thread::scope(|s| {
        for (machine, file) in [("importer-a", &ann), ("importer-b", &bob)] {
            s.spawn(move || {
                let f = file.to_str().unwrap();
                d.cli(machine, &["ingest", "-q", "--breach", "Jointbank", f])
            });
        }
    });
    let replica = d.replica(0, &[]);
    let secret = d.create_key("importer-a", &[]);
    let seed = || {
        let path = "/api/v3/breachedaccount/seed@example.test";
        keyed(&replica.addr, "GET", path, &secret, "").0
    };
    assert_eq!(
        poll_until(200, seed),
        200,
        "{}",
        replica.log.lock().unwrap()
    );
    for who in ["ann", "bob"] {
        let path = format!("/api/v3/breachedaccount/{who}@example.test");
        let (status, _, body) = keyed(&replica.addr, "GET", &path, &secret, "");
        assert_eq!(status, 200, "{who}: {body}");
        assert_eq!(body, serde_json::json!([{ "Name": "Jointbank" }]), "{who}");
    }
    let stats = d.cli("importer-a", &["stats"]);
    assert!(stats.contains("account: 3 segments"), "{stats}");
}

fn a_daily_quota_holds_for_the_sum_of_three_replicas_not_for_each() {
    let d = Deployment::new("quota");
    d.load_breach("importer", "Quotabank", &["ann@example.test".to_owned()]);
    let replicas: Vec<Server> = (0..3).map(|i| d.replica(i, &[])).collect();
    let secret = d.create_key("importer", &["--quota", "account=9"]);
    // Every replica knows the key (asked on a route of no scope, which no quota counts).
    for r in &replicas {
        let status = || keyed(&r.addr, "GET", "/api/v3/subscription/status", &secret, "").0;
        assert_eq!(poll_until(200, status), 200, "{}", r.log.lock().unwrap());
    }
    // Three account searches through each replica in turn, each replica's use added to the
    // catalogue (every reload tick, 500 ms) before the next one is asked: nine in all.
    let path = "/api/v3/breachedaccount/ann@example.test";
    for r in &replicas {
        for _ in 0..3 {
            let (status, _, body) = keyed(&r.addr, "GET", path, &secret, "");
            assert_eq!(status, 200, "{body}");
        }
        std::thread::sleep(Duration::from_millis(1500));
    }
    // The key's nine are used up on every replica, though each admitted only three itself.
    for r in &replicas {
        let (status, _, body) = keyed(&r.addr, "GET", path, &secret, "");
        assert_eq!(status, 429, "{body}");
        assert!(body.to_string().contains("account"), "{body}");
    }
}

/// The events of `audit-log show --json ARGS` on machine `machine`.
fn audit_events(d: &Deployment, machine: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["audit-log", "show", "--json"];
    all.extend_from_slice(args);
    d.cli(machine, &all)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Two replicas answering at once and commands on three machines write one chain in the
/// shared catalogue, which any machine verifies and reads; the catalogue refuses to change
/// or remove what was written, and an edit forced past that (by the database's superuser)
/// is named by `audit-log verify`.
fn replicas_and_machines_on_one_catalogue_write_one_audit_trail_that_refuses_edits() {
    let d = Deployment::new("trail");
    let (ann, bob) = ("ann@example.test", "bob@example.test");
    d.load_breach("importer", "Trailbank", &[ann.to_owned(), bob.to_owned()]);
    let secret = d.create_key("admin", &[]);
    let replicas: Vec<Server> = (0..2).map(|i| d.replica(i, &[])).collect();
    // Each replica looks one address up 25 times while the other does the same: the two
    // servers' flushes interleave in the one chain.
    std::thread::scope(|s| {
        // And a command on a third machine meanwhile.
        s.spawn(|| d.create_key("admin", &[]));
        for (r, who) in replicas.iter().zip([ann, bob]) {
            let secret = &secret;
            s.spawn(move || {
                let path = format!("/api/v3/breachedaccount/{who}");
                let status = || keyed(&r.addr, "GET", &path, secret, "").0;
                assert_eq!(poll_until(200, status), 200, "{}", r.log.lock().unwrap());
                for _ in 0..24 {
                    assert_eq!(status(), 200);
                }
            });
        }
    });
    // The replicas' queues written (every 100 ms).
    std::thread::sleep(Duration::from_millis(600));

    // A machine that took part in nothing reads everything, after a full verify.
    let verified = d.cli("auditor", &["audit-log", "verify"]);
    assert!(verified.starts_with("the audit log verifies"), "{verified}");
    let lookups = |who: &str| {
        audit_events(
            &d,
            "auditor",
            &["--target", who, "--action", "breachedaccount.get"],
        )
    };
    for who in [ann, bob] {
        let got = lookups(who);
        // At least the 25 answered 200 (the replica may have refused the key before it knew it).
        let answered = got.iter().filter(|e| e["status"] == 200).count();
        assert_eq!(answered, 25, "{who}: {got:?}");
        assert!(got.iter().all(|e| e["principal"]["kind"] == "api-key"));
    }
    for (action, times) in [("breach.add", 1), ("keys.create", 2)] {
        let got = audit_events(&d, "auditor", &["--action", action]);
        assert_eq!(got.len(), times, "{action}: {got:?}");
        assert!(
            got.iter().all(|e| e["principal"]["kind"] == "operator"),
            "{got:?}"
        );
    }
    // No machine kept a trail of its own.
    for machine in ["importer", "admin", "auditor", "replica-0", "replica-1"] {
        let own = d.machine(machine).join("audit");
        let files = std::fs::read_dir(&own).map(|r| r.count()).unwrap_or(0);
        assert_eq!(files, 0, "{} holds trail files", own.display());
    }

    // The catalogue refuses edits, also from the database's owner.
    let mut owner = postgres().unwrap().connect_as("leakwatch", &d.db).unwrap();
    for edit in [
        "UPDATE leakwatch_audit_chunk SET bytes = bytes",
        "DELETE FROM leakwatch_audit_chunk WHERE off > 0",
        "TRUNCATE leakwatch_audit_chunk",
    ] {
        let refused = owner.batch_execute(edit).unwrap_err();
        let db = refused.as_db_error().map(|e| e.message().to_owned());
        assert!(
            db.as_deref().is_some_and(|m| m.contains("append-only")),
            "{edit}: {refused:?}"
        );
    }
    // Past the triggers (as the superuser), a flipped byte in the middle of the first file
    // is named; flipped back, and a chunk removed, the gap is named by its offset.
    const FLIP: &str = "UPDATE leakwatch_audit_chunk SET bytes = set_byte(bytes,
            length(bytes) / 2, get_byte(bytes, length(bytes) / 2) # 16)
        WHERE (seq, off) = (SELECT seq, off FROM leakwatch_audit_chunk
                            WHERE seq = 1 AND off > 0 ORDER BY off LIMIT 1 OFFSET 2);";
    let mut su = postgres().unwrap().connect_as("postgres", &d.db).unwrap();
    let verify_fails = |why: &str, want: &str| {
        let out = d.cli_output("auditor", &["audit-log", "verify"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{why} verified");
        assert!(stderr.contains(want), "{why}: {stderr}");
    };
    su.batch_execute(&format!(
        "ALTER TABLE leakwatch_audit_chunk DISABLE TRIGGER USER; {FLIP}"
    ))
    .unwrap();
    verify_fails("a flipped byte", "does not verify: trail-00000001.log");
    su.batch_execute(&format!(
        "{FLIP} DELETE FROM leakwatch_audit_chunk
         WHERE (seq, off) = (SELECT seq, off FROM leakwatch_audit_chunk
                             WHERE seq = 1 AND off > 0 ORDER BY off LIMIT 1 OFFSET 1)"
    ))
    .unwrap();
    verify_fails("a removed chunk", "trail-00000001.log: the record at byte");
    drop(replicas);
}
