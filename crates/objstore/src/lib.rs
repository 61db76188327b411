//! The store on S3-compatible object storage: [`ObjectStoreDirectory`], a
//! [`Directory`] whose files are objects under `s3://BUCKET/PREFIX/`, through the
//! `object_store` crate.
//!
//! - **Files** are uploaded whole when their writer finishes (one create-only PUT, or a
//!   multipart upload for large ones) and never modified. A file is read by downloading it
//!   whole into the local cache directory (`--cache-dir`), where it is memory-mapped as on a
//!   local store: segments are served at local speed, and the object store is asked only for
//!   files this machine has not seen.
//! - **Generations**: generation n's manifest is the object `PREFIX/manifest/{n:020}`, created
//!   only if absent (`If-None-Match: *`, measured to have exactly one winner among racing
//!   writers on SeaweedFS and moto, where `If-Match` compare-and-swap lost updates). The
//!   newest generation is found by asking for the one after the last known, so a replica
//!   learns of n+1 with one small GET.
//! - **Writers** on several machines work at once ([`Sharing::Shared`]); a file no manifest
//!   names is deleted only once older than the grace period.
//!
//! Credentials come from the environment or the standard provider chain (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, …), never from an argument.
//! The crate knows nothing of segments or manifests' contents: it moves bytes.

#[cfg(feature = "testing")]
pub mod testing;

use std::{
    fmt,
    future::Future,
    io::{self, Read, Write},
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use futures_util::StreamExt;
use leakwatch_store::{
    Directory, FileSlice, MmapDirectory, Result, Sharing, StoreError, WriteFile, WriterLock,
    check_name,
};
use object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart,
    aws::AmazonS3Builder, path::Path as ObjectPath,
};

/// Files up to this size are one PUT (create-only); larger ones a multipart upload.
const SINGLE_PUT_MAX: u64 = 32 << 20;
/// Part size of a multipart upload, and parts in flight at once.
const PART_SIZE: usize = 16 << 20;
const PARTS_IN_FLIGHT: usize = 4;
/// Where generation manifests live under the prefix.
const MANIFESTS: &str = "manifest";
/// Cached copies younger than this are never dropped (a writer's file between its local
/// finish and its upload).
const CACHE_KEEP_YOUNG: Duration = Duration::from_secs(300);
/// The default grace period before an unreferenced file is deleted.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);

/// Where a store lives in an object store: `s3://BUCKET/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl {
    /// The bucket.
    pub bucket: String,
    /// The key prefix of every object of the store (no leading or trailing `/`; may be
    /// empty).
    pub prefix: String,
}

impl StoreUrl {
    /// Parses `s3://BUCKET[/PREFIX]`; `None` for anything else (a local path, say).
    pub fn parse(url: &str) -> Option<StoreUrl> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's rules: 3 to 63 lower-case letters, digits, hyphens and dots.
        let ok_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b));
        ok_bucket.then(|| StoreUrl {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// Installs ring as the process's rustls provider (object_store's HTTPS client has none of
/// its own: the rest of leakwatch's TLS is on ring too). Harmless when one is installed.
fn install_ring_provider() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

/// A store directory in an S3-compatible object store, cached on local disk.
#[derive(Clone)]
pub struct ObjectStoreDirectory {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ObjectStore>,
    url: StoreUrl,
    prefix: ObjectPath,
    cache: MmapDirectory,
    grace: Duration,
    /// The newest generation seen and its manifest's bytes.
    newest: Mutex<Option<(u64, Vec<u8>)>>,
    /// Runs the object store's futures; the directory's callers are synchronous.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropped inside another runtime (the server's), a runtime must not block.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for ObjectStoreDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectStoreDirectory({})", self.inner.url)
    }
}

impl ObjectStoreDirectory {
    /// Opens the store at `url` (S3 through the environment's endpoint and credentials),
    /// caching files under `cache_dir`.
    pub fn open_s3(url: &StoreUrl, cache_dir: &Path, grace: Duration) -> Result<Self> {
        install_ring_provider();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&url.bucket);
        // The AWS SDKs' name for a custom endpoint (object_store reads AWS_ENDPOINT).
        let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .or_else(|_| std::env::var("AWS_ENDPOINT"))
            .ok();
        if let Some(endpoint) = endpoint {
            // Plain HTTP only where the operator named an http:// endpoint (a loopback test
            // server, a private network); AWS itself is always HTTPS.
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            builder = builder.with_region("us-east-1");
        }
        let store = builder.build().map_err(|e| backend("configure", url, e))?;
        Self::with_store(Arc::new(store), url.clone(), cache_dir, grace)
    }

    /// A directory on an `object_store` backend, its files cached under `cache_dir`.
    fn with_store(
        store: Arc<dyn ObjectStore>,
        url: StoreUrl,
        cache_dir: &Path,
        grace: Duration,
    ) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(RUNTIME_THREADS)
            .on_thread_start(block_sigpipe)
            .enable_all()
            .build()
            .map_err(|e| StoreError::io("object store runtime", e))?;
        let cache = MmapDirectory::open(cache_dir)?;
        // What a process that died mid-download or mid-upload left in the cache.
        cache.remove_partials()?;
        Ok(ObjectStoreDirectory {
            inner: Arc::new(Inner {
                store,
                prefix: ObjectPath::from(url.prefix.as_str()),
                url,
                cache,
                grace,
                newest: Mutex::new(None),
                runtime: Some(runtime),
            }),
        })
    }

    fn object(&self, name: &str) -> ObjectPath {
        self.inner.prefix.clone().join(name)
    }

    fn manifest_object(&self, generation: u64) -> ObjectPath {
        self.inner
            .prefix
            .clone()
            .join(MANIFESTS)
            .join(format!("{generation:020}"))
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.inner
            .runtime
            .as_ref()
            .expect("the runtime lives until the directory is dropped")
    }

    /// Runs `fut` on the directory's runtime and waits for it; callable from any thread,
    /// inside another runtime too.
    fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let runtime = self.runtime();
        runtime.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .expect("the object store task ended without an answer")
    }

    fn err(&self, operation: &str, name: &str, e: object_store::Error) -> StoreError {
        match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound(name.to_owned()),
            object_store::Error::AlreadyExists { .. } => StoreError::AlreadyExists(name.to_owned()),
            e => StoreError::Backend {
                operation: format!("{operation} {}/{name}", self.inner.url),
                reason: chain(&e),
            },
        }
    }

    /// Downloads `name` whole into the cache: streamed into a partial file of this download's
    /// own (a writer of the same name, or another download, may be at work beside it),
    /// synced, then renamed to the name; what a crash leaves is a `.partial` the next open
    /// removes.
    fn download(&self, name: &str) -> Result<()> {
        static DOWNLOADS: AtomicU64 = AtomicU64::new(0);
        let cache = self
            .inner
            .cache
            .local_path()
            .expect("the cache is on local disk");
        let n = DOWNLOADS.fetch_add(1, Ordering::Relaxed);
        let partial = cache.join(format!("{name}.{}-{n}.partial", std::process::id()));
        let file = std::fs::File::create(&partial).map_err(|e| StoreError::io(&partial, e))?;
        let mut out = PartialFile {
            out: io::BufWriter::with_capacity(1 << 20, file),
            path: partial,
        };
        let (store, object) = (self.inner.store.clone(), self.object(name));
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>, object_store::Error>>(8);
        let runtime = self.runtime();
        runtime.spawn(async move {
            let mut stream = match store.get(&object).await {
                Ok(got) => got.into_stream(),
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            while let Some(chunk) = stream.next().await {
                if tx.send(chunk.map(|b| b.to_vec())).is_err() {
                    return;
                }
            }
        });
        for chunk in rx {
            let chunk = chunk.map_err(|e| self.err("download", name, e))?;
            out.out
                .write_all(&chunk)
                .map_err(|e| StoreError::io(&out.path, e))?;
        }
        out.finish_as(&cache.join(name))
    }

    /// Uploads the finished local file `path` as `name`, create-only.
    fn upload(&self, name: &str, path: &Path) -> Result<()> {
        let len = std::fs::metadata(path)
            .map_err(|e| StoreError::io(path, e))?
            .len();
        let object = self.object(name);
        let store = self.inner.store.clone();
        if len <= SINGLE_PUT_MAX {
            let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
            let opts = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            return self
                .run(async move { store.put_opts(&object, PutPayload::from(bytes), opts).await })
                .map(drop)
                .map_err(|e| self.err("upload", name, e));
        }
        // A multipart upload cannot be create-only: the names of a writer's files carry its
        // own token, so only a name taken before this writer began is checked for.
        let head = {
            let (store, object) = (store.clone(), object.clone());
            self.run(async move { store.head(&object).await })
        };
        match head {
            Ok(_) => return Err(StoreError::AlreadyExists(name.to_owned())),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.err("upload", name, e)),
        }
        let mut file = std::fs::File::open(path).map_err(|e| StoreError::io(path, e))?;
        // Parts, then `None` for the end: a sender gone without it (a read failed) aborts
        // the upload rather than complete a truncated object, as does any failure upstream.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Option<Vec<u8>>>(1);
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let runtime = self.runtime();
        // Behind a mutex so the task's future is Send (a receiver is not Sync).
        let rx = Mutex::new(rx);
        runtime.spawn(async move {
            let result = async {
                let mut upload = WriteMultipart::new_with_chunk_size(
                    store.put_multipart(&object).await?,
                    PART_SIZE,
                );
                loop {
                    let part = tokio::task::block_in_place(|| {
                        rx.lock().unwrap_or_else(|p| p.into_inner()).recv()
                    });
                    match part {
                        Ok(Some(part)) => {
                            if let Err(e) = upload.wait_for_capacity(PARTS_IN_FLIGHT).await {
                                let _ = upload.abort().await;
                                return Err(e);
                            }
                            upload.write(&part);
                        }
                        Ok(None) => return upload.finish().await,
                        Err(_) => {
                            let _ = upload.abort().await;
                            return Err(object_store::Error::Generic {
                                store: "leakwatch",
                                source: "the file being uploaded could not be read to its end"
                                    .into(),
                            });
                        }
                    }
                }
            }
            .await;
            let _ = done_tx.send(result);
        });
        let mut buf = vec![0u8; PART_SIZE];
        let read_failed = loop {
            match read_full(&mut file, &mut buf) {
                // Without the end marker the task aborts the upload.
                Err(e) => break Some(e),
                Ok(0) => {
                    let _ = tx.send(None);
                    break None;
                }
                Ok(n) => {
                    if tx.send(Some(buf[..n].to_vec())).is_err() {
                        break None;
                    }
                }
            }
        };
        drop(tx);
        let uploaded = done_rx
            .recv()
            .expect("the upload task ended without an answer");
        if let Some(e) = read_failed {
            return Err(StoreError::io(path, e));
        }
        uploaded.map(drop).map_err(|e| self.err("upload", name, e))
    }

    /// Every published generation, by listing (first use; later ones are asked for).
    fn listed_generations(&self) -> Result<Vec<(u64, SystemTime)>> {
        let store = self.inner.store.clone();
        let prefix = self.inner.prefix.clone().join(MANIFESTS);
        let listed = self.run(async move {
            store
                .list(Some(&prefix))
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
        });
        let listed = listed.map_err(|e| self.err("list", MANIFESTS, e))?;
        let mut generations: Vec<(u64, SystemTime)> = listed
            .iter()
            .filter_map(|meta| {
                let generation = meta.location.filename()?.parse().ok()?;
                Some((generation, SystemTime::from(meta.last_modified)))
            })
            .collect();
        generations.sort_unstable();
        Ok(generations)
    }

    fn get_manifest(&self, generation: u64) -> Result<Option<Vec<u8>>> {
        let name = format!("{MANIFESTS}/{generation:020}");
        self.get_small(self.manifest_object(generation), &name)
    }

    /// A small object's bytes (a manifest, say), or `None` if there is none; `name` for
    /// errors.
    fn get_small(&self, object: ObjectPath, name: &str) -> Result<Option<Vec<u8>>> {
        let store = self.inner.store.clone();
        let got = self.run(async move {
            match store.get(&object).await {
                Ok(got) => got.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        got.map(|b| b.map(|b| b.to_vec()))
            .map_err(|e| self.err("read", name, e))
    }

    fn list_objects(&self) -> Result<Vec<(String, SystemTime)>> {
        let store = self.inner.store.clone();
        let prefix = self.inner.prefix.clone();
        let listed = self.run(async move { store.list_with_delimiter(Some(&prefix)).await });
        let listed = listed.map_err(|e| self.err("list", "", e))?;
        let mut names: Vec<(String, SystemTime)> = listed
            .objects
            .iter()
            .filter_map(|meta| {
                let name = meta.location.filename()?;
                check_name(name).ok()?;
                Some((name.to_owned(), SystemTime::from(meta.last_modified)))
            })
            .collect();
        names.sort();
        Ok(names)
    }
}

/// A download under way; removed if dropped unfinished.
struct PartialFile {
    out: io::BufWriter<std::fs::File>,
    path: std::path::PathBuf,
}

impl PartialFile {
    fn finish_as(mut self, dest: &Path) -> Result<()> {
        let done = self
            .out
            .flush()
            .and_then(|()| self.out.get_ref().sync_all())
            .and_then(|()| std::fs::rename(&self.path, dest));
        done.map_err(|e| StoreError::io(dest, e))
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        // After a successful rename the path is gone and this does nothing.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The name of the directory's runtime threads, where all of its network I/O happens.
pub const RUNTIME_THREADS: &str = "objstore";

/// Blocks SIGPIPE on the calling thread (run on each runtime thread as it starts). rustls
/// writes TLS records with `writev`, which, unlike `send`, takes no MSG_NOSIGNAL: a write to
/// a connection the object store has closed raises SIGPIPE, and the commands that print
/// (`stats`, `verify`, `check`, … also on an `s3://` store) set it to its default, which ends
/// the process without a word. Blocked on the threads that do the writing, the signal stays
/// pending and the write fails with EPIPE, an error the request's retry handles, whatever the
/// process's disposition.
fn block_sigpipe() {
    // SAFETY: an empty set filled with one valid signal number, passed by pointer to
    // pthread_sigmask, which changes only the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn backend(operation: &str, url: &StoreUrl, e: object_store::Error) -> StoreError {
    StoreError::Backend {
        operation: format!("{operation} {url}"),
        reason: chain(&e),
    }
}

/// A file being written: into the cache, uploaded when finished.
struct ObjectWriteFile {
    name: String,
    local: Option<Box<dyn WriteFile>>,
    dir: ObjectStoreDirectory,
}

impl Write for ObjectWriteFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.local
            .as_mut()
            .expect("written before finish")
            .write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.local
            .as_mut()
            .expect("written before finish")
            .write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.local.as_mut().expect("written before finish").flush()
    }
}

impl WriteFile for ObjectWriteFile {
    fn finish(mut self: Box<Self>) -> Result<()> {
        let local = self.local.take().expect("finished once");
        local.finish()?;
        let cache = &self.dir.inner.cache;
        let path = cache
            .local_path()
            .expect("the cache is on local disk")
            .join(&self.name);
        let uploaded = self.dir.upload(&self.name, &path);
        if uploaded.is_err() {
            // Not published: the cache must not pretend it is.
            let _ = cache.delete(&self.name);
        }
        uploaded
    }
}

impl Directory for ObjectStoreDirectory {
    fn open_read(&self, name: &str) -> Result<FileSlice> {
        check_name(name)?;
        match self.inner.cache.open_read(name) {
            Ok(slice) => return Ok(slice),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        self.download(name)?;
        self.inner.cache.open_read(name)
    }

    fn create(&self, name: &str) -> Result<Box<dyn WriteFile>> {
        check_name(name)?;
        let local = self.inner.cache.create(name)?;
        Ok(Box::new(ObjectWriteFile {
            name: name.to_owned(),
            local: Some(local),
            dir: self.clone(),
        }))
    }

    fn atomic_write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        check_name(name)?;
        let (store, object) = (self.inner.store.clone(), self.object(name));
        let payload = PutPayload::from(bytes.to_vec());
        self.run(async move { store.put(&object, payload).await })
            .map_err(|e| self.err("write", name, e))?;
        // A copy cached by `open_read` holds the old bytes.
        self.inner.cache.delete(name)
    }

    fn read_all(&self, name: &str) -> Result<Option<Vec<u8>>> {
        check_name(name)?;
        self.get_small(self.object(name), name)
    }

    fn delete(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let (store, object) = (self.inner.store.clone(), self.object(name));
        match self.run(async move { store.delete(&object).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.err("delete", name, e)),
        }
        self.inner.cache.delete(name)
    }

    fn list(&self) -> Result<Vec<String>> {
        Ok(self.list_objects()?.into_iter().map(|(n, _)| n).collect())
    }

    fn lock_writer(&self) -> Result<WriterLock> {
        // Writers share the bucket: the create-only manifest decides (see `publish_manifest`).
        Ok(WriterLock::new(Box::new(())))
    }

    fn sharing(&self) -> Sharing {
        Sharing::Shared {
            grace: self.inner.grace,
        }
    }

    fn publish_manifest(&self, generation: u64, bytes: &[u8]) -> Result<()> {
        let (store, object) = (self.inner.store.clone(), self.manifest_object(generation));
        let payload = PutPayload::from(bytes.to_vec());
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self.run(async move { store.put_opts(&object, payload, opts).await }) {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => {
                return Err(StoreError::GenerationTaken(generation));
            }
            Err(e) => return Err(self.err("publish", &format!("{MANIFESTS}/{generation:020}"), e)),
        }
        let mut newest = self.inner.newest.lock().unwrap_or_else(|p| p.into_inner());
        if newest.as_ref().is_none_or(|(g, _)| *g < generation) {
            *newest = Some((generation, bytes.to_vec()));
        }
        Ok(())
    }

    fn read_manifest_bytes(&self) -> Result<Option<Vec<u8>>> {
        let known = self
            .inner
            .newest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut newest = match known {
            Some(known) => Some(known),
            None => match self.listed_generations()?.last() {
                Some(&(generation, _)) => self.get_manifest(generation)?.map(|b| (generation, b)),
                None => None,
            },
        };
        // Ask for the generation after the newest known until there is none.
        loop {
            let next = newest.as_ref().map_or(1, |(g, _)| g + 1);
            match self.get_manifest(next)? {
                Some(bytes) => newest = Some((next, bytes)),
                None => break,
            }
        }
        let mut cached = self.inner.newest.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((generation, _)) = &newest
            && cached.as_ref().is_none_or(|(g, _)| g < generation)
        {
            *cached = newest.clone();
        }
        Ok(newest.map(|(_, bytes)| bytes))
    }

    fn read_manifests_since(&self, since: SystemTime) -> Result<Vec<Vec<u8>>> {
        let generations = self.listed_generations()?;
        let newest = generations.last().map(|&(g, _)| g);
        let mut manifests = Vec::new();
        for (generation, written) in generations {
            if (written >= since || Some(generation) == newest)
                && let Some(bytes) = self.get_manifest(generation)?
            {
                manifests.push(bytes);
            }
        }
        Ok(manifests)
    }

    fn remove_manifests_before(&self, before: SystemTime) -> Result<usize> {
        let generations = self.listed_generations()?;
        let Some(&(newest, _)) = generations.last() else {
            return Ok(0);
        };
        let mut removed = 0;
        for (generation, written) in generations {
            if generation != newest && written < before {
                let (store, object) = (self.inner.store.clone(), self.manifest_object(generation));
                match self.run(async move { store.delete(&object).await }) {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => removed += 1,
                    Err(e) => {
                        return Err(self.err(
                            "delete",
                            &format!("{MANIFESTS}/{generation:020}"),
                            e,
                        ));
                    }
                }
            }
        }
        Ok(removed)
    }

    fn drop_cached_except(&self, live: &[&str]) -> Result<usize> {
        let cache = self
            .inner
            .cache
            .local_path()
            .expect("the cache is on local disk");
        let young = SystemTime::now() - CACHE_KEEP_YOUNG;
        let mut dropped = 0;
        for name in self.inner.cache.list()? {
            let modified = std::fs::metadata(cache.join(&name))
                .and_then(|m| m.modified())
                .map_err(|e| StoreError::io(cache.join(&name), e))?;
            if !live.contains(&name.as_str()) && modified < young {
                self.inner.cache.delete(&name)?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    fn list_written_before(&self, before: SystemTime) -> Result<Vec<String>> {
        Ok(self
            .list_objects()?
            .into_iter()
            .filter(|(_, written)| *written < before)
            .map(|(n, _)| n)
            .collect())
    }
}
