//! Prometheus metrics: request counts by route template and status, latency histograms,
//! and store gauges. Routes are recorded by their template (`/range/{prefix}`), never by the
//! path, so no queried value reaches the metrics. Hand-rolled to keep dependencies lean.
//!
//! Recording is a [`Track`] layer put on each route by `app`: it knows its route when the
//! router is built, so a request costs two clock reads and three relaxed atomic adds (the
//! earlier `from_fn` middleware boxed a future, allocated the route name and took two
//! mutexes per request: a sixth of the range API's throughput). It does not measure the
//! time spent reading the request or writing the response to the socket.

use std::{
    fmt::Write,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    task::{Context, Poll},
    time::Instant,
};

use axum::{extract::State, response::Response};
use leakwatch_datadir::{
    DataDir,
    status::{ImportStatus, SyncStatus, read_running},
};
use leakwatch_store::Namespace;

use crate::{
    AppState,
    compress::{Accepts, respond},
};

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];
/// Statuses are counted per code from 100 to 599.
const STATUS_CODES: std::ops::Range<u16> = 100..600;

/// One route's counters.
#[derive(Debug)]
pub(crate) struct RouteStats {
    by_status: Box<[AtomicU64]>,
    /// Requests per bucket, not cumulative; the last slot is above every bound.
    by_bucket: [AtomicU64; BUCKETS.len() + 1],
    nanos: AtomicU64,
}

impl RouteStats {
    fn new() -> Self {
        RouteStats {
            by_status: STATUS_CODES.map(|_| AtomicU64::new(0)).collect(),
            by_bucket: Default::default(),
            nanos: AtomicU64::new(0),
        }
    }

    fn record(&self, status: u16, started: Instant) {
        let elapsed = started.elapsed();
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.by_bucket[bucket].fetch_add(1, Relaxed);
        self.nanos
            .fetch_add(elapsed.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
        let code = status.clamp(STATUS_CODES.start, STATUS_CODES.end - 1);
        self.by_status[usize::from(code - STATUS_CODES.start)].fetch_add(1, Relaxed);
    }
}

/// One access-log event: method, route template, status and latency as fields (never the
/// path itself, which holds the prefix or account asked for).
fn access_log_line(
    method: &axum::http::Method,
    route: &str,
    status: u16,
    took: std::time::Duration,
) {
    tracing::info!(
        target: "leakwatch::access",
        method = %method,
        route = %route,
        status,
        latency_us = took.as_micros() as u64,
    );
}

/// Every route's counters, registered while the router is built.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    routes: Mutex<Vec<(&'static str, Arc<RouteStats>)>>,
    /// Bulk-extraction anomalies by (key prefix, kind).
    anomalies: Mutex<std::collections::BTreeMap<(String, &'static str), u64>>,
}

impl Metrics {
    /// Counts an anomaly of the key with `prefix` (`leakwatch_key_anomalies_total`).
    pub(crate) fn anomaly(&self, prefix: &str, kind: &'static str) {
        *self
            .anomalies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((prefix.to_owned(), kind))
            .or_default() += 1;
    }

    /// The layer recording requests to `route` (a template); the same route always gets the
    /// same counters, however often the router is built.
    pub(crate) fn track(&self, route: &'static str, access_log: bool) -> Track {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let stats = match routes.iter().find(|(r, _)| *r == route) {
            Some((_, s)) => s.clone(),
            None => {
                let s = Arc::new(RouteStats::new());
                routes.push((route, s.clone()));
                s
            }
        };
        Track {
            stats,
            log: access_log.then_some(route),
        }
    }
}

/// A tower layer counting a route's requests by status and timing them, and with an access
/// log, writing one line per request: time, method, route template (never the values in
/// the path or query), status, latency.
#[derive(Debug, Clone)]
pub(crate) struct Track {
    stats: Arc<RouteStats>,
    /// The route template to log, when the access log is on.
    log: Option<&'static str>,
}

impl<S> tower::Layer<S> for Track {
    type Service = Tracked<S>;
    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked {
            inner,
            stats: self.stats.clone(),
            log: self.log,
        }
    }
}

/// The service [`Track`] wraps around a route.
#[derive(Debug, Clone)]
pub(crate) struct Tracked<S> {
    inner: S,
    stats: Arc<RouteStats>,
    log: Option<&'static str>,
}

impl<S, B> tower::Service<axum::http::Request<B>> for Tracked<S>
where
    S: tower::Service<axum::http::Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        TrackedFuture {
            started: Instant::now(),
            stats: self.stats.clone(),
            log: self.log.map(|route| (req.method().clone(), route)),
            inner: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// A route's response future, timed.
    pub(crate) struct TrackedFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        stats: Arc<RouteStats>,
        log: Option<(axum::http::Method, &'static str)>,
    }
}

impl<F, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let out = std::task::ready!(this.inner.poll(cx));
        if let Ok(resp) = &out {
            let status = resp.status().as_u16();
            this.stats.record(status, *this.started);
            if let Some((method, route)) = this.log.take() {
                access_log_line(&method, route, status, this.started.elapsed());
            }
        }
        Poll::Ready(out)
    }
}

pub(crate) async fn render(State(state): State<Arc<AppState>>, accepts: Accepts) -> Response {
    let mut out = String::new();
    let mut routes = state
        .metrics
        .routes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    routes.sort_by_key(|(r, _)| *r);
    out.push_str("# HELP leakwatch_http_requests_total HTTP requests by route template and status.\n# TYPE leakwatch_http_requests_total counter\n");
    for (route, stats) in &routes {
        for (code, n) in STATUS_CODES.zip(stats.by_status.iter()) {
            let n = n.load(Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "leakwatch_http_requests_total{{route=\"{route}\",status=\"{code}\"}} {n}"
                );
            }
        }
    }
    out.push_str("# HELP leakwatch_http_request_duration_seconds Request latency by route template.\n# TYPE leakwatch_http_request_duration_seconds histogram\n");
    for (route, stats) in &routes {
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += stats.by_bucket[i].load(Relaxed);
            let _ = writeln!(
                out,
                "leakwatch_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {cumulative}"
            );
        }
        cumulative += stats.by_bucket[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(
            out,
            "leakwatch_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "leakwatch_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
            stats.nanos.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "leakwatch_http_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}"
        );
    }
    let snap = state.store.snapshot();
    out.push_str("# HELP leakwatch_store_generation Published store generation being served.\n# TYPE leakwatch_store_generation gauge\n");
    let _ = writeln!(out, "leakwatch_store_generation {}", snap.generation());
    out.push_str("# HELP leakwatch_store_segments Live segments by namespace.\n# TYPE leakwatch_store_segments gauge\n");
    for ns in Namespace::ALL {
        let _ = writeln!(
            out,
            "leakwatch_store_segments{{namespace=\"{ns}\"}} {}",
            snap.segments(ns).len()
        );
    }
    out.push_str("# HELP leakwatch_store_hashes Stored hashes by namespace (summed over segments).\n# TYPE leakwatch_store_hashes gauge\n");
    for ns in Namespace::ALL {
        let n: u64 = snap.segments(ns).iter().map(|s| s.hashes()).sum();
        let _ = writeln!(out, "leakwatch_store_hashes{{namespace=\"{ns}\"}} {n}");
    }
    out.push_str("# HELP leakwatch_store_bytes Segment bytes by namespace.\n# TYPE leakwatch_store_bytes gauge\n");
    for ns in Namespace::ALL {
        let n: u64 = snap.segments(ns).iter().map(|s| s.bytes()).sum();
        let _ = writeln!(out, "leakwatch_store_bytes{{namespace=\"{ns}\"}} {n}");
    }
    out.push_str("# HELP leakwatch_key_anomalies_total API keys that read more distinct prefixes, accounts or domains in an hour than allowed, by key prefix and kind.\n# TYPE leakwatch_key_anomalies_total counter\n");
    for ((key, kind), n) in state
        .metrics
        .anomalies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        let _ = writeln!(
            out,
            "leakwatch_key_anomalies_total{{key=\"{key}\",kind=\"{kind}\"}} {n}"
        );
    }
    render_range_answers(&mut out, &state);
    render_import(&mut out, state.store.data_dir());
    render_sync(&mut out, state.store.data_dir(), &state.store.snapshot());
    // The outbox: a short read of the catalogue (a blocking one, but one indexed count).
    if state.mail.is_some()
        && let Ok(counts) = state.catalog.write(|c| c.outbox_counts())
    {
        out.push_str("# HELP leakwatch_outbox_notifications Notifications in the outbox by state (pending: waiting or being delivered; failed: given up).\n# TYPE leakwatch_outbox_notifications gauge\n");
        for (name, n) in [
            ("pending", counts.pending),
            ("delivered", counts.delivered),
            ("failed", counts.failed),
        ] {
            let _ = writeln!(
                out,
                "leakwatch_outbox_notifications{{state=\"{name}\"}} {n}"
            );
        }
    }
    respond("text/plain; version=0.0.4", out.into_bytes(), accepts)
}

/// The range cache's and the answer tier's counters.
fn render_range_answers(out: &mut String, state: &AppState) {
    if let Some(tier) = &state.answer_tier {
        let (sent, failed, built) = tier.counters();
        for (name, help, n) in [
            (
                "leakwatch_answer_tier_sent_total",
                "Range answers sent from the answer tier's files (--answer-dir).",
                sent,
            ),
            (
                "leakwatch_answer_tier_failed_total",
                "Answers whose checksum failed in an answer file (the file is then not used).",
                failed,
            ),
            (
                "leakwatch_answer_tier_files_built_total",
                "Answer files written by this server.",
                built,
            ),
            (
                "leakwatch_answer_tier_build_failures_total",
                "Answer file builds that failed (retried after 2 s, doubling up to 5 minutes).",
                tier.build_failures(),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {n}"
            );
        }
        let name = "leakwatch_answer_tier_generation";
        let _ = writeln!(
            out,
            "# HELP {name} The store generation each namespace's ranges are answered from by the answer tier.\n# TYPE {name} gauge"
        );
        for (ns, generation) in tier.serving() {
            let _ = writeln!(out, "{name}{{namespace=\"{}\"}} {generation}", ns.name());
        }
    }
    let (hits, misses) = state.range_cache.hits_and_misses();
    let (held, entries) = state.range_cache.held();
    for (name, kind, help, n) in [
        (
            "leakwatch_range_cache_hits_total",
            "counter",
            "Range answers sent from the range cache.",
            hits,
        ),
        (
            "leakwatch_range_cache_misses_total",
            "counter",
            "Range answers rendered (and compressed) because the cache did not hold them.",
            misses,
        ),
        (
            "leakwatch_range_cache_bytes",
            "gauge",
            "Bytes the range cache's answers weigh against its budget: their length, the heap's slack around them and bookkeeping.",
            held,
        ),
        (
            "leakwatch_range_cache_entries",
            "gauge",
            "Answers the range cache holds.",
            entries as u64,
        ),
        (
            "leakwatch_range_cache_budget_bytes",
            "gauge",
            "The range cache's memory budget (--range-cache).",
            state.range_cache.budget(),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {n}"
        );
    }
}

/// The import running on this data directory, from the status file `leakwatch ingest` keeps
/// there (`ImportStatus`: pid, phase, counts). A file whose process is gone (a killed
/// import) counts as no import.
fn render_import(out: &mut String, data: Option<&DataDir>) {
    let status: Option<ImportStatus> = data.and_then(|d| read_running(&d.import_status()));
    out.push_str(
        "# HELP leakwatch_import_running 1 while an import into this data directory runs.
# TYPE leakwatch_import_running gauge
",
    );
    let _ = writeln!(
        out,
        "leakwatch_import_running {}",
        u8::from(status.is_some())
    );
    let Some(v) = status else {
        return;
    };
    let phase: String = v
        .phase
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .collect();
    out.push_str("# HELP leakwatch_import_phase The running import's phase (reading, then sorting each namespace).
# TYPE leakwatch_import_phase gauge
");
    let _ = writeln!(out, "leakwatch_import_phase{{phase=\"{phase}\"}} 1");
    for (name, value, help) in [
        (
            "leakwatch_import_lines_read",
            Some(v.lines),
            "Lines the running import has read.",
        ),
        (
            "leakwatch_import_bytes_read",
            Some(v.bytes_read),
            "Input bytes the running import has read.",
        ),
        (
            "leakwatch_import_bytes_total",
            v.bytes_total,
            "The running import's input size, when known.",
        ),
        (
            "leakwatch_import_started_seconds",
            Some(v.started_unix),
            "When the running import started (Unix time).",
        ),
    ] {
        if let Some(n) = value {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {n}");
        }
    }
}

/// The sync running on this data directory (from `<data>/sync/status.json`, which
/// `leakwatch sync` keeps: a file whose process is gone counts as no sync), and when each
/// mirrored namespace last changed by a sync (from the manifest).
fn render_sync(out: &mut String, data: Option<&DataDir>, snap: &leakwatch_store::Snapshot) {
    let status: Option<SyncStatus> = data.and_then(|d| read_running(&d.sync_status()));
    let _ = writeln!(
        out,
        "# HELP leakwatch_sync_running 1 while `leakwatch sync` runs on this data directory.\n# TYPE leakwatch_sync_running gauge\nleakwatch_sync_running {}",
        u8::from(status.is_some())
    );
    if let Some(v) = status {
        let ns = match v.namespace.as_str() {
            "ntlm" => "ntlm",
            _ => "sha1",
        };
        for (name, n, help) in [
            (
                "leakwatch_sync_ranges_done",
                v.ranges_done,
                "Ranges the running sync has answers for.",
            ),
            (
                "leakwatch_sync_ranges_total",
                v.ranges_total,
                "Ranges a sync asks for.",
            ),
            (
                "leakwatch_sync_bytes_received",
                v.bytes_received,
                "Body bytes the running sync has received.",
            ),
            (
                "leakwatch_sync_started_seconds",
                v.started_unix,
                "When the running sync started (Unix time).",
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{namespace=\"{ns}\"}} {n}"
            );
        }
    }
    let mirrors = &snap.manifest().mirrors;
    if !mirrors.is_empty() {
        out.push_str("# HELP leakwatch_mirror_changed_seconds When a sync last published a change to a mirrored namespace (Unix time).\n# TYPE leakwatch_mirror_changed_seconds gauge\n");
        for m in mirrors {
            let _ = writeln!(
                out,
                "leakwatch_mirror_changed_seconds{{namespace=\"{}\"}} {}",
                m.namespace.name(),
                m.synced_unix
            );
        }
    }
}
