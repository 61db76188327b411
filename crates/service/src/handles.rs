//! Handles on a data directory's published state that every action reads: the store's
//! current snapshot (swapped when another process publishes a generation; erasures that wait
//! for the writer lock hidden meanwhile) and an in-memory copy of the breach catalogue and
//! API key digests (reloaded when another connection commits), so a revoked key stops
//! working within a reload.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use leakwatch_catalog::{Breach, Catalog, CatalogError, keys::ApiKey};
use leakwatch_datadir::{DataDir, Durability, replace_file};
use leakwatch_store::{Directory, Key, Snapshot, StoreError, read_manifest};

/// The published store, reloaded when its manifest's generation changes.
#[derive(Debug)]
pub struct StoreHandle {
    dir: Arc<dyn Directory>,
    current: RwLock<Arc<Snapshot>>,
    /// Erasures accepted while another writer held the store (an import): hidden from every
    /// answer at once, kept in the data directory's pending-forget file until published.
    pending: Mutex<Vec<Key>>,
    /// The data directory the store lives in, when it is on disk in one.
    data: Option<DataDir>,
    /// False only for a replica of a remote store that has no generation local yet.
    ready: AtomicBool,
    /// A replica of a remote store: where it keeps the manifest of the generation it serves.
    served_manifest: Option<std::path::PathBuf>,
}

/// What [`StoreHandle::forget`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgot {
    /// Published: a new generation forgets the keys.
    Published,
    /// Another writer holds the store: the keys are hidden now and published when it is done.
    Queued,
}

impl StoreHandle {
    /// The data directory the store lives in, when it was opened in one.
    pub fn data_dir(&self) -> Option<&DataDir> {
        self.data.as_ref()
    }

    fn pending_path(&self) -> Option<std::path::PathBuf> {
        Some(self.data.as_ref()?.pending_forget())
    }

    /// Opens the published generation of a store on its own, outside a data directory (a
    /// store in memory, say): erasures that wait for the writer lock are not kept on disk.
    pub fn open(dir: Arc<dyn Directory>) -> Result<StoreHandle, StoreError> {
        StoreHandle::open_with(dir, None)
    }

    /// Opens the published generation of the store of data directory `data`, hiding the
    /// erasures a previous server accepted and could not publish.
    pub fn open_in(data: &DataDir) -> Result<StoreHandle, StoreError> {
        StoreHandle::open_with(crate::open_store_dir(data)?, Some(data.clone()))
    }

    /// Starts serving the store of data directory `data` without waiting for an object
    /// store: a local store opens as with [`StoreHandle::open_in`]; a replica of a remote one
    /// serves the generation it served last from its cache (its manifest kept beside it),
    /// even while the object store cannot be reached, or else starts with nothing and not
    /// [`ready`](StoreHandle::is_ready) until a [`StoreHandle::reload_if_changed`] has the
    /// newest generation local. So a server listens (and says it is not ready) at once.
    pub fn start_in(data: &DataDir) -> Result<StoreHandle, StoreError> {
        let remote = data
            .store_url()
            .map_err(|e| StoreError::io(data.store_url_file(), e))?
            .is_some();
        if !remote {
            return Self::open_in(data);
        }
        let dir = crate::open_store_dir(data)?;
        let path = data.served_manifest();
        let served = match std::fs::read(&path) {
            Ok(bytes) => match leakwatch_store::Manifest::decode(&bytes)
                .and_then(|m| Snapshot::open_manifest(dir.as_ref(), m))
            {
                Ok(snap) => Some(snap),
                Err(e) => {
                    tracing::warn!("the generation served last does not open from the cache: {e}");
                    None
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(StoreError::io(path, e)),
        };
        let ready = served.is_some();
        let empty = || Snapshot::open_manifest(dir.as_ref(), leakwatch_store::Manifest::default());
        let snap = match served {
            Some(snap) => snap,
            None => empty()?,
        };
        let handle = Self::with_snapshot(dir, Some(data.clone()), snap, ready)?;
        Ok(StoreHandle {
            served_manifest: Some(path),
            ..handle
        })
    }

    /// Whether answers come from a generation of the store: false while a replica of a
    /// remote store that had none local downloads its first.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn open_with(
        dir: Arc<dyn Directory>,
        data: Option<DataDir>,
    ) -> Result<StoreHandle, StoreError> {
        let snap = Snapshot::open(dir.as_ref())?;
        Self::with_snapshot(dir, data, snap, true)
    }

    fn with_snapshot(
        dir: Arc<dyn Directory>,
        data: Option<DataDir>,
        snap: Snapshot,
        ready: bool,
    ) -> Result<StoreHandle, StoreError> {
        let handle = StoreHandle {
            dir,
            current: RwLock::new(Arc::new(snap)),
            pending: Mutex::new(Vec::new()),
            data,
            ready: AtomicBool::new(ready),
            served_manifest: None,
        };
        if let Some(path) = handle.pending_path()
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            let keys: Vec<Key> = text
                .lines()
                .map(|l| {
                    Key::from_hex(l.trim().as_bytes()).ok_or_else(|| {
                        StoreError::corrupt("pending-forget.txt", 0, "a line is not 40 hex digits")
                    })
                })
                .collect::<Result<_, _>>()?;
            *handle.pending.lock().unwrap_or_else(|e| e.into_inner()) = keys;
            handle.swap_in(handle.snapshot().as_ref().clone());
        }
        Ok(handle)
    }

    /// The snapshot requests read from.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serves `snap`, with the pending erasures hidden.
    fn swap_in(&self, snap: Snapshot) {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let snap = if pending.is_empty() {
            snap
        } else {
            snap.with_forgotten(&pending)
        };
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snap);
    }

    /// Forgets account keys as `leakwatch forget` does (one publication, taking the store's
    /// writer lock), then serves the new generation. While another writer (an import) holds
    /// the lock, the keys are hidden from every answer at once and written to
    /// the pending-forget file; [`StoreHandle::publish_pending`] publishes them later.
    pub fn forget(&self, keys: &[Key]) -> Result<Forgot, StoreError> {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.extend_from_slice(keys);
            pending.sort_unstable();
            pending.dedup();
        }
        if self.publish_pending()? {
            return Ok(Forgot::Published);
        }
        self.write_pending()?;
        self.swap_in(self.snapshot().as_ref().clone());
        Ok(Forgot::Queued)
    }

    /// Publishes the pending erasures if the writer lock is free; true if it did (or there
    /// were none), false while another writer holds the store.
    pub fn publish_pending(&self) -> Result<bool, StoreError> {
        let keys = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if keys.is_empty() {
            return Ok(true);
        }
        let mut writer = match leakwatch_store::StoreWriter::open(self.dir.clone()) {
            Err(StoreError::Locked(_)) => return Ok(false),
            other => other?,
        };
        writer.forget(keys.clone())?;
        drop(writer);
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k| !keys.contains(k));
        self.write_pending()?;
        self.reload_if_changed()?;
        Ok(true)
    }

    /// Replaces (or removes) the pending file: temporary file, fsync, rename.
    fn write_pending(&self) -> Result<(), StoreError> {
        let Some(path) = self.pending_path() else {
            return Ok(());
        };
        let keys = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let io = |e| StoreError::Io {
            path: path.clone(),
            source: e,
        };
        if keys.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
                _ => Ok(()),
            };
        }
        let text: String = keys
            .iter()
            .map(|k| {
                k.to_hex(leakwatch_store::Namespace::Account)
                    .to_ascii_lowercase()
                    + "\n"
            })
            .collect();
        replace_file(&path, text.as_bytes(), Durability::Synced).map_err(io)?;
        Ok(())
    }

    /// Swaps in the published generation if it changed; returns whether it did.
    pub fn reload_if_changed(&self) -> Result<bool, StoreError> {
        let published = read_manifest(self.dir.as_ref())?.generation;
        if published == self.snapshot().generation() {
            self.ready.store(true, Ordering::Release);
            return Ok(false);
        }
        let snap = Snapshot::open(self.dir.as_ref())?;
        if let Some(path) = &self.served_manifest {
            replace_file(path, &snap.manifest().encode(), Durability::Synced)
                .map_err(|e| StoreError::io(path.clone(), e))?;
        }
        let live: Vec<&str> = snap.manifest().live_files().collect();
        // A replica of a remote store keeps local copies of the generation it serves only
        // (the older one's stay mapped, and readable, until its last reader lets go).
        match self.dir.drop_cached_except(&live) {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "dropped cached files of older generations"),
            Err(e) => tracing::warn!("could not drop cached files of older generations: {e}"),
        }
        self.swap_in(snap);
        self.ready.store(true, Ordering::Release);
        Ok(true)
    }
}

/// The breach catalogue as requests see it: an in-memory copy, reloaded when another
/// connection (the CLI) commits a change. It is small (HIBP lists about a thousand breaches).
#[derive(Debug)]
pub struct CatalogHandle {
    db: Mutex<Catalog>,
    version: Mutex<i64>,
    current: RwLock<Arc<Vec<Breach>>>,
    keys: RwLock<Arc<HashMap<[u8; 32], ApiKey>>>,
    /// The day each key's use was last recorded by this server (`YYYY-MM-DD`).
    used: Mutex<HashMap<i64, String>>,
    /// The catalogue is shared (PostgreSQL), so keys may be revoked elsewhere.
    shared: bool,
    /// When the keys were last known to be current (a successful check of the catalogue).
    checked: Mutex<std::time::Instant>,
}

/// How long a replica of a shared catalogue trusts the keys it holds without reaching the
/// catalogue: past it, a key revoked elsewhere might still be accepted, so keyed requests are
/// refused (503) until the catalogue answers again. Two reload ticks and a slow answer.
pub const KEYS_TRUSTED_FOR: std::time::Duration = std::time::Duration::from_secs(3);

impl CatalogHandle {
    /// Serves `catalog`.
    pub fn new(catalog: Catalog) -> Result<CatalogHandle, CatalogError> {
        let all = catalog.all()?;
        let keys = catalog.keys_by_digest()?.into_iter().collect();
        let version = catalog.data_version()?;
        Ok(CatalogHandle {
            shared: catalog.dialect() == leakwatch_catalog::Dialect::Postgres,
            db: Mutex::new(catalog),
            version: Mutex::new(version),
            current: RwLock::new(Arc::new(all)),
            keys: RwLock::new(Arc::new(keys)),
            used: Mutex::new(HashMap::new()),
            checked: Mutex::new(std::time::Instant::now()),
        })
    }

    /// Whether the keys held are current enough to admit a request: always for a catalogue
    /// of this machine's own (nobody else changes it unseen), and for a shared one only
    /// while it answered within [`KEYS_TRUSTED_FOR`]: a replica cut off from it fails
    /// closed rather than accept a key revoked meanwhile.
    pub fn keys_are_current(&self) -> bool {
        !self.shared
            || self
                .checked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .elapsed()
                < KEYS_TRUSTED_FOR
    }

    /// Whether `key`'s use at `now` is not on record yet (the first request of its day):
    /// then [`CatalogHandle::record_use`] writes it. Cheap: no database access.
    pub fn use_is_news(&self, key: &ApiKey, now: u64) -> bool {
        let day = &crate::format_date_time(now)[..10];
        if key.last_used.as_deref() >= Some(day) {
            return false;
        }
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if used.get(&key.id).map(String::as_str) >= Some(day) {
            return false;
        }
        used.insert(key.id, day.to_owned());
        true
    }

    /// Records that `key` was used on the day of `now` (`keys list` shows it): one write per
    /// key and day, the first request's (after [`CatalogHandle::use_is_news`]).
    pub fn record_use(&self, key: &ApiKey, now: u64) -> Result<(), CatalogError> {
        let day = &crate::format_date_time(now)[..10];
        self.write(|c| c.touch_key(key.id, day))
    }

    /// The key a request presents, if it exists (revoked and expired keys included).
    pub fn key(&self, presented: &str) -> Option<ApiKey> {
        let digest = leakwatch_catalog::keys::key_digest(presented);
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
            .cloned()
    }

    /// Queues a sealed notification in the outbox (see `leakwatch_catalog::outbox`).
    pub fn enqueue(
        &self,
        dedupe: Option<&[u8]>,
        sealed: &[u8],
    ) -> Result<Option<i64>, CatalogError> {
        self.write(|db| db.enqueue(dedupe, sealed, leakwatch_catalog::now_unix()))
    }

    /// Runs `change` on the database connection (blocking: call from a blocking task).
    pub fn write<T, E>(&self, change: impl FnOnce(&mut Catalog) -> Result<T, E>) -> Result<T, E> {
        change(&mut self.db.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Every breach, retired ones included, sorted by Title.
    pub fn breaches(&self) -> Arc<Vec<Breach>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads the catalogue if another connection changed it; returns whether it did.
    pub fn reload_if_changed(&self) -> Result<bool, CatalogError> {
        self.reload_when(false)
    }

    /// Re-reads the breaches and keys now: after this handle's own change to them (which
    /// SQLite's data version, counting other connections' commits, does not show).
    pub fn reload(&self) -> Result<(), CatalogError> {
        self.reload_when(true).map(|_| ())
    }

    fn reload_when(&self, always: bool) -> Result<bool, CatalogError> {
        let db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        let asked = std::time::Instant::now();
        let now = db.data_version()?;
        let mut seen = self.version.lock().unwrap_or_else(|e| e.into_inner());
        if now == *seen && !always {
            *self.checked.lock().unwrap_or_else(|e| e.into_inner()) = asked;
            return Ok(false);
        }
        let all = db.all()?;
        let keys = db.keys_by_digest()?.into_iter().collect();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(all);
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        *seen = now;
        *self.checked.lock().unwrap_or_else(|e| e.into_inner()) = asked;
        Ok(true)
    }
}
