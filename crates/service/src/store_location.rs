//! Where a data directory's store lives: its own `store/` folder, or an S3-compatible
//! object store (`--data s3://BUCKET/PREFIX --cache-dir DIR`), to which the local directory
//! `DIR` is then bound by its `store-url` file ([`bind_cache_dir`]). Bound, `DIR` holds this
//! machine's side of the store (catalogue, audit trail, spill space, downloaded files), and
//! every command that takes a data directory works on the remote store through it.
//!
//! One cache directory serves one store: files are cached by name, and names are only unique
//! within a store, so a directory bound to one URL refuses another.
//!
//! The catalogue is bound the same way (`--catalog postgres://USER@HOST:PORT/DB`, its
//! `catalog-url` file, [`bind_catalog`]): a directory bound to a shared catalogue never
//! opens a `catalog.db` of its own, and one that has a `catalog.db` already is not bound
//! (its keys and breaches would silently disappear from view).

use std::{path::Path, time::Duration};

use leakwatch_datadir::{DataDir, Durability, replace_file};
pub use leakwatch_objstore::StoreUrl;

/// Why a store location was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocationError {
    /// Not `s3://BUCKET[/PREFIX]` with a valid bucket name.
    #[error("{0:?} is not an object-store location: use s3://BUCKET/PREFIX")]
    BadUrl(String),
    /// The cache directory is bound to another store.
    #[error("{dir} is the cache of {bound}, not of {wanted}: give each store its own directory")]
    BoundElsewhere {
        /// The cache directory.
        dir: String,
        /// The URL it is bound to.
        bound: String,
        /// The URL asked for.
        wanted: String,
    },
    /// Not a PostgreSQL URL, or one holding a password.
    #[error("{0}")]
    BadCatalogUrl(String),
    /// The directory has a catalogue of its own.
    #[error(
        "{0} has a catalogue of its own (catalog.db): a directory bound to a shared catalogue \
         must not; use a new directory"
    )]
    HasOwnCatalogue(String),
    /// The cache directory could not be made or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Whether a `--data` value names an object store rather than a local directory.
pub fn is_remote(data: &str) -> bool {
    data.starts_with("s3://")
}

/// Binds the local directory `cache` to the store at `url` (creating `cache` and its
/// `store-url` file the first time), or checks that it already is bound to it.
pub fn bind_cache_dir(cache: &Path, url: &str) -> Result<(), LocationError> {
    let parsed = StoreUrl::parse(url).ok_or_else(|| LocationError::BadUrl(url.to_owned()))?;
    let data = DataDir::new(cache);
    bind(
        cache,
        &data.store_url_file(),
        || data.store_url(),
        parsed.to_string(),
        || Ok(()),
    )
}

/// Binds the local directory `dir` to the PostgreSQL catalogue at `url` (creating `dir` and
/// its `catalog-url` file the first time), or checks that it already is bound to it. The URL
/// is checked (a password in it is refused) but not connected to.
pub fn bind_catalog(dir: &Path, url: &str) -> Result<(), LocationError> {
    let wanted = url.trim();
    leakwatch_catalog::pg::config(wanted)
        .map_err(|e| LocationError::BadCatalogUrl(format!("--catalog: {e}")))?;
    let data = DataDir::new(dir);
    bind(
        dir,
        &data.catalog_url_file(),
        || data.catalog_url(),
        wanted.to_owned(),
        || match data.catalog().exists() {
            true => Err(LocationError::HasOwnCatalogue(dir.display().to_string())),
            false => Ok(()),
        },
    )
}

/// Binds `dir` to `wanted` through its binding `file`: `bound` reads what the file names (once
/// `dir` exists); `first` decides whether an unbound `dir` may be bound at all.
fn bind(
    dir: &Path,
    file: &Path,
    bound: impl FnOnce() -> std::io::Result<Option<String>>,
    wanted: String,
    first: impl FnOnce() -> Result<(), LocationError>,
) -> Result<(), LocationError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| LocationError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    match bound().map_err(io(file))? {
        Some(bound) if bound == wanted => Ok(()),
        Some(bound) => Err(LocationError::BoundElsewhere {
            dir: dir.display().to_string(),
            bound,
            wanted,
        }),
        None => {
            first()?;
            replace_file(file, format!("{wanted}\n").as_bytes(), Durability::Synced)
                .map_err(io(file))
        }
    }
}

/// How long a file no manifest names is kept in an object store before a writer deletes it
/// (`LEAKWATCH_STORE_GRACE`, in seconds; a day unless set): longer than any import takes from
/// uploading a file to publishing it and than any replica keeps an older generation.
pub fn grace() -> Duration {
    std::env::var("LEAKWATCH_STORE_GRACE")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(leakwatch_objstore::DEFAULT_GRACE, Duration::from_secs)
}
