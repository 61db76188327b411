//! Mirroring a range API into a data directory's store (`leakwatch sync`): the journals, the
//! rejects sample and the status file go where the data directory's layout says.

use leakwatch_datadir::DataDir;

pub use leakwatch_mirror::{MirrorError, NamespaceReport, Source, SyncOptions};

/// Mirrors `options.source` into the store of `data`.
pub fn sync(data: &DataDir, options: &SyncOptions) -> Result<Vec<NamespaceReport>, MirrorError> {
    let store = crate::open_store_dir(data)?;
    let work = leakwatch_mirror::WorkFiles {
        dir: data.sync(),
        status_file: data.sync_status(),
    };
    leakwatch_mirror::sync(store, options, &work)
}
