//! Pipeline-level tests of ingest failure behaviour.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, mpsc},
    time::Duration,
};

use leakwatch_store::{Directory, Namespace, RamDirectory, Snapshot, StoreWriter};

use crate::{IngestError, IngestOptions, Source};

struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_small_tmpfs(dir: &Path) -> Option<Mounted> {
    std::fs::create_dir_all(dir).ok()?;
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| Mounted(dir.to_path_buf()))
}

/// Regression: a worker that failed to write spill files stopped reading the channel, and the
/// reader then blocked forever on it. Now the import fails with the I/O error, promptly, and
/// publishes nothing.
#[test]
fn a_full_spill_disk_fails_the_import_instead_of_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small");
    let Some(_mounted) = mount_small_tmpfs(&small) else {
        assert!(
            std::env::var_os("LEAKWATCH_REQUIRE_TMPFS").is_none(),
            "a tmpfs could be mounted before the tests but not now"
        );
        eprintln!(
            "\n*** SKIPPED disk-full ingest test: cannot mount a tmpfs here (needs root) ***\n"
        );
        return;
    };
    let input = tmp.path().join("hashes.txt");
    let mut text = String::new();
    // More 4 MiB blocks (about 16) than the channel holds (2 per worker), so a reader that
    // is not told to stop must block.
    for i in 0..1_500_000u32 {
        text.push_str(&leakwatch_store::Key::sha1_of(&i.to_le_bytes()).to_hex(Namespace::Sha1));
        text.push_str(":1\n");
    }
    std::fs::write(&input, text).unwrap();

    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut opts = IngestOptions::new(tmp.path());
    opts.tmp_dir = small.join("tmp");
    opts.memory = 64 << 10; // spill almost at once
    opts.progress = false;
    let (done_tx, done_rx) = mpsc::channel();
    let store = dir.clone();
    std::thread::spawn(move || {
        let mut writer = StoreWriter::open(store).unwrap();
        let _ = done_tx.send(crate::ingest(&mut writer, &Source::File(input), &opts));
    });
    let result = done_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("ingest hung on a full disk");
    match result {
        Err(IngestError::Io { source, .. }) => {
            assert_eq!(
                source.raw_os_error(),
                Some(28),
                "ENOSPC expected, got {source}"
            )
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert_eq!(
        Snapshot::open(dir.as_ref()).unwrap().generation(),
        0,
        "nothing published"
    );
}

/// An import big enough for its partitions to hold whole groups (sorter threads encode them,
/// the main thread appends): the store holds exactly the input's summed counts, and the
/// summary counts distinct and new keys, also when older segments make it walk beside them.
#[test]
fn partitions_encoded_by_sorter_threads_store_exactly_the_input() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: Arc<dyn Directory> = Arc::new(RamDirectory::new());
    let mut model = std::collections::BTreeMap::new();
    let mut opts = IngestOptions::new(tmp.path());
    opts.progress = false;
    for (round, keys) in [(0u32, 0..120_000u32), (1, 60_000..200_000)] {
        let mut text = String::new();
        let mut new = 0;
        for i in keys {
            let key = leakwatch_store::Key::sha1_of(&i.to_le_bytes());
            // Some keys twice in the file: their counts are summed.
            let repeats = 1 + u64::from(i % 7 == 0);
            for _ in 0..repeats {
                text.push_str(&format!("{}:{}\n", key.to_hex(Namespace::Sha1), 1 + i % 5));
            }
            let count = model.entry(key).or_insert(0u64);
            new += u64::from(*count == 0);
            *count += repeats * u64::from(1 + i % 5);
        }
        let input = tmp.path().join(format!("hashes-{round}.txt"));
        std::fs::write(&input, text).unwrap();
        let mut writer = StoreWriter::open(dir.clone()).unwrap();
        let summary = crate::ingest(&mut writer, &Source::File(input), &opts).unwrap();
        assert_eq!(summary.sha1.new, new, "round {round}");
        let snap = Snapshot::open(dir.as_ref()).unwrap();
        let seg = &snap.segments(Namespace::Sha1)[round as usize];
        assert!(seg.group_layout().groups() >= 1 << crate::spill::PART_BITS);
        for (&key, &count) in model.iter().step_by(97) {
            assert_eq!(snap.count(Namespace::Sha1, key).unwrap(), count);
        }
        let mut stored = std::collections::BTreeMap::new();
        for seg in snap.segments(Namespace::Sha1) {
            for item in seg.iter() {
                let (key, count) = item.unwrap();
                *stored.entry(key).or_insert(0u64) += count;
            }
        }
        assert_eq!(stored, model, "round {round}");
    }
}
