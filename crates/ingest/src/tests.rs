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
