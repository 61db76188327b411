//! Mirroring a range API into a data directory's store (`leakwatch sync`): the journals, the
//! rejects sample and the status file go where the data directory's layout says.

use std::{path::PathBuf, sync::Arc, time::Duration};

use leakwatch_datadir::DataDir;
use leakwatch_store::{MmapDirectory, Namespace};

pub use leakwatch_mirror::{MirrorError, NamespaceReport, Source};

/// What to mirror, and how.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// Where to fetch ranges from.
    pub source: Source,
    /// Password namespaces to mirror, one after the other.
    pub namespaces: Vec<Namespace>,
    /// Requests in flight at once.
    pub parallel: usize,
    /// Per request, from sending to the last body byte.
    pub timeout: Duration,
    /// Attempts after the first for one range before the sync stops (resumably).
    pub retries: u32,
    /// A PEM file of extra root certificates.
    pub ca_cert: Option<PathBuf>,
    /// A bar on a terminal, a line every few seconds otherwise; nothing when false.
    pub progress: bool,
}

/// Mirrors `request.source` into the store of `data`.
pub fn sync(data: &DataDir, request: SyncRequest) -> Result<Vec<NamespaceReport>, MirrorError> {
    let store = MmapDirectory::open(data.store())?;
    let options = leakwatch_mirror::SyncOptions {
        source: request.source,
        namespaces: request.namespaces,
        parallel: request.parallel,
        timeout: request.timeout,
        retries: request.retries,
        ca_cert: request.ca_cert,
        progress: request.progress,
        work_dir: data.sync(),
        status_file: data.sync_status(),
    };
    leakwatch_mirror::sync(Arc::new(store), &options)
}
