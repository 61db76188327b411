//! The accept loop: serves [`crate::app`] over HTTP/1.1 (and HTTP/2 when a TLS client offers
//! it by ALPN) on a listener with per-connection limits, and drains on shutdown.
//!
//! Limits live here rather than as router layers because every handler is synchronous
//! from request to answer (see [`crate::app`]): the costs worth bounding are per
//! connection — clients that send headers slowly or sit idle (header read timeout, which
//! hyper also applies between keep-alive requests), oversized headers (431), and how many
//! connections are open at once (further clients wait in the listen backlog). Each request
//! carries its peer address as `ConnectInfo<SocketAddr>`: the client's as a trusted load
//! balancer's PROXY protocol header names it ([`crate::proxy_protocol`]), the connection's
//! otherwise. With a TLS configuration
//! ([`tls_config`], rustls) every connection is a TLS one; the handshake counts against the
//! header read timeout. An HTTP/2 connection carries at most [`H2_MAX_STREAMS`] requests at
//! once, so a connection still bounds the work one client can ask for, and is closed when the
//! client sends nothing for the header read timeout ([`IdleRead`]: HTTP/2 has no per-request
//! header timeout to do it, and an idle connection holds one of the open slots); plain-text
//! connections are HTTP/1.1 only (no h2c), which keeps the hot path free of protocol sniffing.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::Service;

use crate::{
    AppState, app,
    state::{reload_loop, store_loop},
};

/// Requests one HTTP/2 connection may have in flight (HTTP/1.1 has one).
pub const H2_MAX_STREAMS: u32 = 128;

/// Serves [`app`] on `listener` until `shutdown` completes, then stops accepting and lets
/// open connections finish their requests for up to `drain_timeout`. The outbox worker,
/// when mail is set up, runs alongside and stops last.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits;
    let reload = tokio::spawn(reload_loop(state.clone(), Duration::from_millis(500)));
    let store_reload = tokio::spawn(store_loop(state.clone(), state.store_poll));
    // Reads' audit records are group-committed: on disk within 100 ms.
    let audit = tokio::spawn(crate::audited::flush_loop(
        state.clone(),
        Duration::from_millis(100),
    ));
    let stop_outbox = Arc::new(AtomicBool::new(false));
    let outbox = crate::outbox::start_worker(state.clone(), stop_outbox.clone());
    let state_tls = state.tls.clone();
    let router = app(state.clone());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192) * 2)
        .max_header_size(limits.max_header_bytes);
    let mut h2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    // No keep-alive pings: a client's answers to them would count as activity and keep an
    // idle connection open; `IdleRead` closes it instead.
    h2.timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(limits.max_header_bytes.max(8192) as u32);
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let tls = state_tls.map(tokio_rustls::TlsAcceptor::from);
    let proxies = state.proxy_protocol.clone().map(Arc::new);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or memory: wait instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers go out at once instead of waiting for Nagle.
        let _ = stream.set_nodelay(true);
        let (http, h2, watcher, tls) = (http.clone(), h2.clone(), graceful.watcher(), tls.clone());
        let (router, proxies) = (router.clone(), proxies.clone());
        let handshake_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let mut stream = stream;
            // A trusted proxy's connection opens with the client's address; within the
            // handshake's time, or the connection is closed.
            let peer = match proxies.as_deref() {
                Some(proxies) if proxies.trusts(peer.ip()) => {
                    let header = crate::proxy_protocol::read_header(&mut stream, peer);
                    match tokio::time::timeout(handshake_timeout, header).await {
                        Ok(Ok(client)) => client,
                        Ok(Err(e)) => {
                            tracing::warn!("closed a connection from a trusted proxy: {e}");
                            return;
                        }
                        Err(_) => return,
                    }
                }
                _ => peer,
            };
            let service = with_peer(router, peer);
            // Errors here are the client's (reset, timeout, bad handshake or request).
            match tls {
                None => {
                    let conn = http.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                        let stream = IdleRead::new(stream, handshake_timeout);
                        let conn = h2.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(conn).await;
                    } else {
                        let conn = http.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(conn).await;
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(limits.drain_timeout, graceful.shutdown()).await;
    reload.abort();
    store_reload.abort();
    audit.abort();
    if let Some(log) = state.audit.clone() {
        // The last records, sealed: a clean stop leaves no unsealed tail.
        match tokio::task::spawn_blocking(move || log.flush(true)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("writing the last audit records failed: {e}"),
            Err(e) => tracing::error!("the audit writer: {e}"),
        }
    }
    // The limiter's state, so the next start neither refills a bucket nor forgets a quota.
    let s = state.clone();
    let _ = tokio::task::spawn_blocking(move || s.save_limits()).await;
    stop_outbox.store(true, Ordering::Relaxed);
    if let Some(worker) = outbox {
        // It finishes the mail it is sending, if any (bounded by the SMTP timeout).
        let _ = tokio::task::spawn_blocking(move || worker.join()).await;
    }
    Ok(())
}

/// The router as a hyper service that tags each request with the peer's address.
fn with_peer(
    router: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl std::future::Future<Output = Result<axum::response::Response, Infallible>>
             + Send
             + 'static,
> + Clone {
    hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        // Router is always ready; `call` clones nothing but an Arc.
        router.clone().call(request)
    })
}

/// A TLS configuration for [`serve`] from PEM files: the certificate chain (leaf first) and
/// its private key (PKCS#8, PKCS#1 or SEC1). TLS 1.2 and 1.3 with rustls' safe defaults,
/// HTTP/2 or HTTP/1.1 by ALPN.
pub fn tls_config(
    cert_pem: &std::path::Path,
    key_pem: &std::path::Path,
) -> Result<Arc<tokio_rustls::rustls::ServerConfig>, String> {
    use tokio_rustls::rustls::{
        self,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_pem)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("TLS certificate {}: {e}", cert_pem.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "TLS certificate {}: no certificate in it",
            cert_pem.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_pem)
        .map_err(|e| format!("TLS key {}: {e}", key_pem.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("TLS certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A connection whose reads fail once the client has sent nothing for `idle`: what closes an
/// idle HTTP/2 connection (writes, ours, do not count as activity).
struct IdleRead<S> {
    inner: S,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    idle: Duration,
}

impl<S> IdleRead<S> {
    fn new(inner: S, idle: Duration) -> Self {
        IdleRead {
            inner,
            timer: Box::pin(tokio::time::sleep(idle)),
            idle,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for IdleRead<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let this = &mut *self;
        let before = buf.filled().len();
        match std::pin::Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    let next = tokio::time::Instant::now() + this.idle;
                    this.timer.as_mut().reset(next);
                }
                Poll::Ready(result)
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the client sent nothing for the idle timeout",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for IdleRead<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Accept errors that concern one connection only (it was reset before we took it).
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted
    )
}
