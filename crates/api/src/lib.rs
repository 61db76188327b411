//! leakwatch's HTTP server: the HIBP-compatible Pwned Passwords range API, the HIBP v3
//! breach catalogue endpoints, health and metrics.
//!
//! [`app`] builds the whole router from an [`AppState`], so tests drive it in-process and
//! `leakwatch serve` binds it to a socket. One route table; every layer (compression,
//! timeout, concurrency limit, metrics) is applied in `app`. Errors are [`ApiError`]s, which
//! map to a status and a one-line plain-text reason and never reveal internals.
//! Query values (prefixes) are never logged.

mod error;
mod metrics;
mod range;
mod state;
mod v3;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    http::{StatusCode, header},
    middleware,
    response::IntoResponse,
    routing::get,
};
use tower::limit::ConcurrencyLimitLayer;
use tower_http::{compression::CompressionLayer, timeout::TimeoutLayer};

pub use error::ApiError;
pub use state::{AppState, CatalogHandle, ServerLimits, StoreHandle};

/// The router serving every endpoint.
pub fn app(state: Arc<AppState>) -> Router {
    let limits = state.limits;
    Router::new()
        .route("/range/{prefix}", get(range::range))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::render))
        .merge(v3::routes(state.clone()))
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(CompressionLayer::new().gzip(true).br(true))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(ConcurrencyLimitLayer::new(limits.max_concurrent_requests))
        .with_state(state)
}

async fn readyz(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> impl IntoResponse {
    let snap = state.store.snapshot();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain")],
        format!("ready: generation {}\n", snap.generation()),
    )
}

/// Serves `app` on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let reload = tokio::spawn(state::reload_loop(
        state.clone(),
        Duration::from_millis(500),
    ));
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await;
    reload.abort();
    result
}
