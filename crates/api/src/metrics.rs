//! Prometheus metrics: request counts by route template and status, latency histograms,
//! and store gauges. Routes are recorded by their template (`/range/{prefix}`), never by the
//! path, so no queried value reaches the metrics. Hand-rolled to keep dependencies lean.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use leakwatch_store::Namespace;

use crate::AppState;

const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    n: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

pub(crate) async fn track(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let start = Instant::now();
    let resp = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let m = &state.metrics;
    *m.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry((route.clone(), resp.status().as_u16()))
        .or_default() += 1;
    let mut lat = m.latency.lock().unwrap_or_else(|e| e.into_inner());
    let h = lat.entry(route).or_default();
    for (i, b) in BUCKETS.iter().enumerate() {
        if secs <= *b {
            h.counts[i] += 1;
        }
    }
    h.sum += secs;
    h.n += 1;
    resp
}

pub(crate) async fn render(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let mut out = String::new();
    let m = &state.metrics;
    out.push_str("# HELP leakwatch_http_requests_total HTTP requests by route template and status.\n# TYPE leakwatch_http_requests_total counter\n");
    for ((route, status), n) in m.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = writeln!(
            out,
            "leakwatch_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
        );
    }
    out.push_str("# HELP leakwatch_http_request_duration_seconds Request latency by route template.\n# TYPE leakwatch_http_request_duration_seconds histogram\n");
    for (route, h) in m.latency.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "leakwatch_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                h.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "leakwatch_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
            h.n
        );
        let _ = writeln!(
            out,
            "leakwatch_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
            h.sum
        );
        let _ = writeln!(
            out,
            "leakwatch_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
            h.n
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
