//! leakwatch's service layer, between the edges (the HTTP API in `leakwatch-api`, the CLI in
//! `leakwatch`) and the engines (store, ingest, catalog, notify, identity, …). Every action a
//! person or program takes is a function here, and each names its [`Principal`], so that
//! scope checks, tenancy and the audit trail are made in one place. The edges speak HTTP and
//! flags and call this; they do not reach into the engines for domain logic.
//!
//! Being built (issue #17): what lives here so far is marked in ARCHITECTURE.md.

pub mod accounts;
pub mod audit;
pub mod auditlog;
pub mod backup;
mod backup_seal;
pub mod breaches;
pub mod bulk;
pub mod credentials;
pub mod dashboard;
pub mod dns;
pub mod domain_search;
pub mod domains;
pub mod egress;
mod error;
mod handles;
pub mod impact;
pub mod imports;
pub mod key_files;
pub mod keys;
pub mod limits;
pub mod lookalike;
pub mod mail;
mod mail_texts;
pub mod maintenance;
pub mod mirror;
pub mod outbox;
pub mod passkeys;
pub mod pastes;
mod principal;
pub mod stats;
pub mod stealer_logs;
pub mod store_location;
pub mod subscriptions;
pub mod vendors;

pub use error::ServiceError;
pub use handles::{CatalogHandle, Forgot, StoreHandle};
pub use leakwatch_catalog::pg::Heard;
pub use leakwatch_catalog::{
    Breach, Catalog, CatalogError, format_date_time, now_unix, parse_date, parse_date_time,
    tenants::DEFAULT_TENANT,
};
pub use leakwatch_datadir::DataDir;
pub use leakwatch_identity::OperatorKey;
pub use principal::Principal;

use std::sync::Arc;

use leakwatch_store::{Directory, MmapDirectory, StoreError};

/// Opens the catalogue of data directory `data`: its `catalog.db` (created when it is not
/// there), or the PostgreSQL catalogue it is bound to ([`store_location::bind_catalog`]).
pub fn open_catalog(data: &DataDir) -> Result<Catalog, CatalogError> {
    match shared_catalog_url(data)? {
        Some(url) => Catalog::open_postgres(&url),
        None => Catalog::open(&data.catalog()),
    }
}

/// Listens for the changes to keys and breaches that other machines make in the shared
/// catalogue data directory `data` is bound to, and for the generations of the store they
/// publish, calling `changed` at each
/// (`leakwatch_catalog::pg::listen`); none for a catalogue of its own, which is polled.
pub fn listen_for_catalog_changes(
    data: &DataDir,
    changed: impl Fn(leakwatch_catalog::pg::Heard) + Send + 'static,
) -> Result<Option<leakwatch_catalog::pg::Listener>, CatalogError> {
    match shared_catalog_url(data)? {
        Some(url) => leakwatch_catalog::pg::listen(&url, changed).map(Some),
        None => Ok(None),
    }
}

/// Tells the machines that share data directory `data`'s catalogue that `generation` of
/// their store was published, so listening replicas take it at once (nothing for a catalogue
/// of its own). A failure to tell is logged, not returned: the publication stands, and
/// replicas find it at their next poll.
pub(crate) fn announce_publication(data: &DataDir, generation: u64) {
    if !matches!(shared_catalog_url(data), Ok(Some(_))) {
        return;
    }
    if let Err(e) = open_catalog(data).and_then(|c| c.announce_publication(generation)) {
        tracing::warn!("could not announce generation {generation} to the replicas: {e}");
    }
}

/// The URL of the shared catalogue data directory `data` is bound to, if it is bound.
pub(crate) fn shared_catalog_url(data: &DataDir) -> Result<Option<String>, CatalogError> {
    data.catalog_url()
        .map_err(|e| CatalogError::Location(format!("{}: {e}", data.catalog_url_file().display())))
}

/// The directory of the store of data directory `data`: its `store/` folder, or the
/// object-storage store it is bound to ([`store_location`]), cached in its `store-cache/`.
pub fn open_store_dir(data: &DataDir) -> Result<Arc<dyn Directory>, StoreError> {
    let url = data
        .store_url()
        .map_err(|e| StoreError::io(data.store_url_file(), e))?;
    match url {
        None => Ok(Arc::new(MmapDirectory::open(data.store())?)),
        Some(url) => {
            let parsed = store_location::StoreUrl::parse(&url).ok_or_else(|| {
                StoreError::InvalidArgument(format!(
                    "{} names {url:?}, not an s3://BUCKET/PREFIX",
                    data.store_url_file().display()
                ))
            })?;
            Ok(Arc::new(leakwatch_objstore::ObjectStoreDirectory::open_s3(
                &parsed,
                &data.store_cache(),
                store_location::grace(),
            )?))
        }
    }
}
