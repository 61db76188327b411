//! Shared server state: the current store snapshot (swapped when a new generation is
//! published), limits, and metrics. Nothing here handles requests.

use std::{sync::Arc, time::Duration};

use leakwatch_service::{CatalogHandle, StoreHandle};

use crate::metrics::Metrics;

/// Per-connection limits applied by [`crate::serve`].
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// A connection that takes longer to send a request's headers, or stays idle longer
    /// between requests, is closed.
    pub header_read_timeout: Duration,
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Request line and headers together may not exceed this (431 otherwise).
    pub max_header_bytes: usize,
    /// On shutdown, connections still busy after this long are dropped.
    pub drain_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_header_bytes: 16 * 1024,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// The web page's credential checks a client address may make an hour, by default.
pub const DEFAULT_CREDENTIAL_PAGE_CHECKS: u32 = 60;

/// Everything handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The store.
    pub store: StoreHandle,
    /// The breach catalogue.
    pub catalog: CatalogHandle,
    /// Limits.
    pub limits: ServerLimits,
    /// Region for queried phone numbers written without a country code (ISO 3166).
    pub default_region: Option<String>,
    /// Mail delivery, if set up: needed by the private check and alerts.
    pub mail: Option<crate::MailSetup>,
    /// The operator key, if configured: needed by domain search and verification.
    pub operator_key: Option<leakwatch_identity::OperatorKey>,
    /// The DNS resolver that domain verification asks for TXT records, and the egress guard
    /// for a webhook's addresses.
    pub dns_resolver: std::net::SocketAddr,
    /// Let webhooks go over plain http to loopback (tests only; see
    /// `leakwatch_service::egress`).
    pub insecure_webhooks_to_loopback: bool,
    /// Write one line per request to standard error (route templates only, never values).
    pub access_log: bool,
    /// Serve over TLS with this configuration (see `crate::tls_config`).
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// Load balancers whose connections open with a PROXY protocol v2 header naming the
    /// client (see [`crate::proxy_protocol`]).
    pub proxy_protocol: Option<crate::proxy_protocol::TrustedProxies>,
    pub(crate) metrics: Metrics,
    /// Every API key's requests per minute and daily quotas, saved across restarts.
    pub(crate) key_limits: leakwatch_service::limits::KeyLimits,
    /// The audit log every keyed request leaves a record in (`serve` always opens one;
    /// in-process tests may run without).
    pub audit: Option<Arc<leakwatch_service::auditlog::AuditLog>>,
    /// False while the audit log cannot be written: keyed requests are refused (503).
    pub(crate) audit_healthy: std::sync::atomic::AtomicBool,
    /// The bulk-extraction watch (with the audit log: it counts the log's target digests).
    pub bulk: Option<leakwatch_service::bulk::BulkWatch>,
    /// Where the operator hears of a key's anomaly (`operator_contact`).
    pub operator_contact: Option<String>,
    /// The most addresses a `breacheddomain` answer holds for a key without the
    /// `domain-bulk` scope (0: no limit).
    pub max_domain_answer: usize,
    /// Finished range answers, by generation and coding, within a memory budget.
    pub range_cache: crate::RangeCache,
    /// Every range of the served generation rendered ahead into files (`--answer-dir`).
    pub answer_tier: Option<Arc<crate::AnswerTier>>,
    /// Woken when another machine changes the shared catalogue's keys or breaches: the
    /// reload loop runs at once instead of at its next tick.
    pub catalog_changed: Arc<tokio::sync::Notify>,
    /// Woken when another machine announces a published generation of the store: the store
    /// loop looks at once.
    pub store_published: Arc<tokio::sync::Notify>,
    /// How often the store loop asks for a newer generation (each ask is a request to an
    /// object store: they are billed).
    pub store_poll: Duration,
    /// The Maildir `leakwatch demo` delivers into, shown at `/demo/mailbox` to loopback
    /// clients; `None` (404 there) for every other server.
    pub demo_mailbox: Option<std::path::PathBuf>,
    /// The relying party the dashboard's passkeys belong to (from the public URL); `None`:
    /// passkeys cannot be enrolled, and a tenant that has some cannot open the dashboard.
    pub passkeys: Option<Arc<leakwatch_service::passkeys::RelyingParty>>,
    /// The OPRF key of the private credential check (from its file, reloaded when a
    /// rotation is published); `None`: checks are answered 503.
    pub credential_keys: Option<Arc<leakwatch_service::credentials::CredentialKeys>>,
    /// The web page's credential checks one client address may make an hour (0: the page's
    /// check is off; keyed checks are limited by their key).
    pub credential_page_checks_per_hour: u32,
    pub(crate) credential_page_limiter: crate::v3::RateLimiter,
    /// Keys the per-address limiter, so memory holds no address.
    pub(crate) credential_page_hasher: std::hash::RandomState,
}

impl AppState {
    /// Mail delivery and the operator key that seals everything it queues, when both are
    /// set up (one key, so what requests seal the worker can open).
    pub(crate) fn mailing(&self) -> Option<(&crate::MailSetup, &leakwatch_identity::OperatorKey)> {
        Some((self.mail.as_ref()?, self.operator_key.as_ref()?))
    }

    /// What the outbox queues and composes from, when mail is set up.
    pub(crate) fn mailroom(&self) -> Option<leakwatch_service::outbox::Mailroom<'_>> {
        let (mail, key) = self.mailing()?;
        Some(leakwatch_service::outbox::Mailroom {
            store: &self.store,
            catalog: &self.catalog,
            key,
            public_url: &mail.public_url,
            egress: self.egress(),
        })
    }

    /// Where webhooks may go.
    pub(crate) fn egress(&self) -> leakwatch_service::egress::EgressPolicy {
        leakwatch_service::egress::EgressPolicy {
            resolver: self.dns_resolver,
            http_to_loopback: self.insecure_webhooks_to_loopback,
        }
    }
}

impl AppState {
    /// State over an opened store and catalogue.
    pub fn new(store: StoreHandle, catalog: CatalogHandle, limits: ServerLimits) -> Self {
        AppState {
            store,
            catalog,
            limits,
            default_region: None,
            mail: None,
            operator_key: None,
            credential_keys: None,
            credential_page_checks_per_hour: DEFAULT_CREDENTIAL_PAGE_CHECKS,
            credential_page_limiter: Default::default(),
            credential_page_hasher: std::hash::RandomState::new(),
            dns_resolver: leakwatch_service::dns::system_resolver(),
            insecure_webhooks_to_loopback: false,
            tls: None,
            proxy_protocol: None,
            access_log: false,
            metrics: Metrics::default(),
            key_limits: Default::default(),
            audit: None,
            audit_healthy: std::sync::atomic::AtomicBool::new(true),
            bulk: None,
            operator_contact: None,
            max_domain_answer: 0,
            range_cache: crate::RangeCache::default(),
            answer_tier: None,
            catalog_changed: Arc::new(tokio::sync::Notify::new()),
            store_published: Arc::new(tokio::sync::Notify::new()),
            store_poll: Duration::from_millis(500),
            demo_mailbox: None,
            passkeys: None,
        }
        .with_saved_limits()
    }

    /// The limiter's state as the catalogue saved it (a fresh one, logged, if it cannot be
    /// read).
    fn with_saved_limits(mut self) -> Self {
        let now = now_ms();
        match self
            .catalog
            .write(|c| leakwatch_service::limits::KeyLimits::load(c, now))
        {
            Ok(limits) => self.key_limits = limits,
            Err(e) => tracing::error!("the saved rate limits could not be read: {e}"),
        }
        self
    }

    /// Saves the limiter's and the bulk watch's state to the catalogue, if they changed.
    pub(crate) fn save_limits(&self) {
        let now = now_ms();
        if let Err(e) = self.catalog.write(|c| self.key_limits.save(c, now)) {
            tracing::error!("saving the rate limits failed, will retry: {e}");
        }
        if let Some(bulk) = &self.bulk
            && let Err(e) = self.catalog.write(|c| bulk.save(c, now))
        {
            tracing::error!("saving the bulk-extraction counts failed, will retry: {e}");
        }
    }

    /// Turns the bulk watch on with `limits`, from the state the catalogue saved.
    pub fn watch_bulk(&mut self, limits: leakwatch_service::bulk::BulkLimits) {
        match self
            .catalog
            .write(|c| leakwatch_service::bulk::BulkWatch::load(c, limits, now_ms()))
        {
            Ok(watch) => self.bulk = Some(watch),
            Err(e) => tracing::error!("the saved bulk-extraction counts could not be read: {e}"),
        }
    }
}

/// The wall clock in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Keeps the catalogue current: every `every`, and at once when another machine changes a
/// shared catalogue's keys or breaches, reloads breaches and keys and saves the limiter's
/// state. Apart from [`store_loop`], so that a long download of a new generation never holds
/// back a revocation (nor, on a shared catalogue, makes keyed routes fail closed meanwhile).
pub(crate) async fn reload_loop(state: Arc<AppState>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = state.catalog_changed.notified() => {}
        }
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.catalog.reload_if_changed()).await {
            Ok(Ok(true)) => tracing::info!("breach catalogue reloaded"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::error!("catalogue reload failed, keeping the previous one: {e}")
            }
            Err(e) => tracing::error!("reload task failed: {e}"),
        }
        let s = state.clone();
        let _ = tokio::task::spawn_blocking(move || s.save_limits()).await;
    }
}

/// Keeps the store current: every `every`, and at once when another machine announces a
/// publication, publishes the erasures that waited for the writer lock and swaps in a newly
/// published generation (for a replica of an object store, once its
/// files are downloaded, which may take long).
pub(crate) async fn store_loop(state: Arc<AppState>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = state.store_published.notified() => {}
        }
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.store.publish_pending()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("publishing pending erasures failed, will retry: {e}"),
            Err(e) => tracing::error!("erasure task failed: {e}"),
        }
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.store.reload_if_changed()).await {
            Ok(Ok(true)) => tracing::info!(
                generation = state.store.snapshot().generation(),
                "now serving a new generation"
            ),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::error!("reload failed, still serving the previous generation: {e}")
            }
            Err(e) => tracing::error!("reload task failed: {e}"),
        }
        // The served generation's answers are written as soon as it is served (and at the
        // start), not when a request first asks for one.
        if let Some(tier) = &state.answer_tier {
            tier.keep_up(&state.store.snapshot());
        }
    }
}
