//! leakwatch's HTTP server: the HIBP-compatible Pwned Passwords range API, the HIBP v3
//! breach catalogue and account endpoints, health and metrics.
//!
//! [`app`] builds the whole router from an [`AppState`], so tests drive it in-process and
//! `leakwatch serve` binds it to a socket. One route table; every layer (compression,
//! timeout, concurrency limit, metrics) is applied in `app`, route by route. Errors are
//! [`ApiError`]s, which map to a status and a one-line plain-text reason and never reveal
//! internals.
//! Query values (prefixes, accounts) are never logged.

pub mod account;
pub mod domain;
mod error;
mod metrics;
mod range;
mod state;
mod v3;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::{MethodRouter, any, get},
};
use tower::{ServiceBuilder, limit::GlobalConcurrencyLimitLayer};
use tower_http::{compression::CompressionLayer, timeout::TimeoutLayer};

pub use error::ApiError;
pub use state::{AppState, CatalogHandle, ServerLimits, StoreHandle};

/// The router serving every endpoint.
///
/// Every route is timed and counted by [`metrics::Track`]. Every route but the password
/// range also runs under the request timeout, one concurrency limit shared by all of them,
/// and response compression. The range route is synchronous from request to answer (no await
/// point: a timeout could never fire, and each runtime thread holds one such request at a
/// time) and compresses its own answers with reused per-thread state, so it skips those
/// layers: together they cost it half its throughput.
pub fn app(state: Arc<AppState>) -> Router {
    let limits = state.limits;
    let shared_limit = Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_requests));
    let guarded = ServiceBuilder::new()
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(shared_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        // Fastest level, as nginx's default (`gzip_comp_level 1`): the default level cost
        // three quarters of the range API's throughput for a few percent of bytes.
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .br(true)
                .quality(tower_http::compression::CompressionLevel::Fastest),
        );
    let mut router = Router::new();
    for (path, handler) in route_table(&state) {
        let handler = if path == RANGE_ROUTE {
            handler
        } else {
            handler.layer(guarded.clone())
        };
        router = router.route(path, handler.layer(state.metrics.track(path)));
    }
    let not_found: MethodRouter<Arc<AppState>> = any(|| async { ApiError::NotFound })
        .layer::<_, std::convert::Infallible>(guarded)
        .layer(state.metrics.track("unmatched"));
    router
        .fallback_service(not_found.with_state(state.clone()))
        .with_state(state)
}

/// The Pwned Passwords range route, the one that must be fast.
const RANGE_ROUTE: &str = "/range/{prefix}";

/// Every route: its path template and its handler with the layers it needs. [`app`] builds the
/// router from this list, and a test checks that `/openapi.json` documents exactly these paths.
fn route_table(state: &Arc<AppState>) -> Vec<(&'static str, MethodRouter<Arc<AppState>>)> {
    let mut routes = vec![
        (RANGE_ROUTE, get(range::range)),
        ("/healthz", get(|| async { "ok\n" })),
        ("/readyz", get(readyz)),
        ("/metrics", get(metrics::render)),
        ("/openapi.json", get(openapi)),
    ];
    routes.extend(v3::routes(state));
    routes
}

/// The OpenAPI 3.1 description of every endpoint.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        OPENAPI,
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_documents_exactly_the_routes_served() {
        let spec: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert_eq!(spec["openapi"], "3.1.0");
        let mut documented: Vec<String> =
            spec["paths"].as_object().unwrap().keys().cloned().collect();
        let dir: Arc<dyn leakwatch_store::Directory> =
            Arc::new(leakwatch_store::RamDirectory::new());
        let catalog =
            CatalogHandle::new(leakwatch_catalog::Catalog::open_in_memory().unwrap()).unwrap();
        let state = Arc::new(AppState::new(
            StoreHandle::open(dir).unwrap(),
            catalog,
            ServerLimits::default(),
        ));
        let mut served: Vec<String> = route_table(&state)
            .into_iter()
            .map(|(p, _)| p.to_owned())
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
        for (path, item) in spec["paths"].as_object().unwrap() {
            let op = &item["get"];
            assert!(
                op["summary"].is_string() && op["responses"]["200"].is_object(),
                "{path}"
            );
            for param in path
                .split('{')
                .skip(1)
                .map(|p| p.split('}').next().unwrap())
            {
                let declared = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == param && p["in"] == "path");
                assert!(declared, "{path}: path parameter {param} undeclared");
            }
        }
    }
}
