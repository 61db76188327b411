//! `leakwatch serve`: the HTTP server, its mail set-up and its logs.

use std::{io::Write, net::SocketAddr, path::Path, sync::Arc};

use anyhow::{Context, Result};
use leakwatch_datadir::DataDir;

use leakwatch_api::{AppState, ServerLimits};
use leakwatch_service::{CatalogHandle, Heard, StoreHandle, credentials, mail};

use super::catalog;
use crate::flags::*;

/// Sends the server's log events (`tracing`) to standard error in `format`: its own lines,
/// the access log (`--access-log`, target `leakwatch::access`), the outbox worker's. Events
/// carry route templates, counts and error kinds, never a queried value.
/// `leakwatch serve`.
pub fn run(args: ServeArgs, audit: &super::auditlog::AuditSetup) -> Result<()> {
    let ServeArgs {
        data,
        listen,
        metrics_listen,
        default_region,
        mail,
        key,
        oprf_key,
        credential_page_checks,
        dns_resolver,
        insecure_webhooks_to_loopback,
        bulk,
        tls_cert,
        tls_key,
        access_log,
        range_cache,
        answer_dir,
        answer_codings,
        log_format,
        proxy_protocol_from,
        store_poll_ms,
    } = args;
    // Fail closed: a mistyped path must not become an empty store that answers "never
    // leaked" to everyone. Imports create data directories; serving does not.
    anyhow::ensure!(
        data.data.is_dir(),
        "{} is not a data directory (it does not exist): serve does not create one; import into it first",
        data.data.display()
    );
    // Every keyed request leaves an audit record: no audit key, no server.
    let audit = audit.open("serve", &data.data)?;
    let audit = if unaudited_for_benchmarks() {
        // bench/ measures what the audit log costs against a server without it. That server
        // still needs the audit key, and its start is a sealed record naming who ran it.
        audit.commit(
            leakwatch_service::auditlog::Entry {
                by: &leakwatch_service::Principal::operator(),
                action: "serve.unaudited",
                route: "serve",
                target: None,
                status: 0,
                size: 0,
                peer: None,
            },
            true,
        )?;
        eprintln!(
            "WARNING: LEAKWATCH_INSECURE_UNAUDITED_SERVE=1: keyed requests are NOT recorded in the \
             audit log (a setting for benchmarks only; its use is recorded there)"
        );
        None
    } else {
        Some(audit)
    };
    start_logging(log_format);
    let tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => {
            Some(leakwatch_api::tls_config(&cert, &key).map_err(anyhow::Error::msg)?)
        }
        _ => None,
    };
    serve(
        &data.data,
        Serving {
            listen,
            metrics_listen,
            default_region,
            access_log,
            range_cache: range_cache as u64,
            answer_dir,
            answer_codings: AnswerCodingArg::codings(&answer_codings)
                .map_err(anyhow::Error::msg)?,
            mail: Some(mail),
            key,
            oprf_key_file: oprf_key.oprf_key_file,
            credential_page_checks,
            dns_resolver,
            insecure_webhooks_to_loopback,
            tls,
            banner: None,
            demo_mailbox: None,
            audit,
            bulk: Some(bulk),
            proxy_protocol: proxy_protocol_from,
            store_poll: std::time::Duration::from_millis(store_poll_ms.max(10)),
        },
    )
}

/// The benchmarks' setting (`LEAKWATCH_INSECURE_UNAUDITED_SERVE=1`, environment only: no
/// flag or configuration key offers it) that serves without recording keyed requests.
fn unaudited_for_benchmarks() -> bool {
    std::env::var("LEAKWATCH_INSECURE_UNAUDITED_SERVE").is_ok_and(|v| v == "1")
}

pub fn start_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// How `serve` (and `demo`) run the server.
pub struct Serving {
    pub listen: SocketAddr,
    /// Where `/metrics` is served.
    pub metrics_listen: SocketAddr,
    pub default_region: Option<String>,
    pub access_log: bool,
    /// The range cache's budget in bytes (0: none).
    pub range_cache: u64,
    /// Where every range of the served generation is rendered ahead (`--answer-dir`).
    pub answer_dir: Option<std::path::PathBuf>,
    /// What the answer files hold beside plain text (`--answer-codings`).
    pub answer_codings: leakwatch_api::AnswerCodings,
    /// Mail setup; `None` for the demo.
    pub mail: Option<MailArgs>,
    pub key: OperatorKeyArg,
    /// The credential check's OPRF key file (none: checks are answered 503).
    pub oprf_key_file: Option<std::path::PathBuf>,
    /// The web page's credential checks a client address may make an hour (0: off).
    pub credential_page_checks: u32,
    pub dns_resolver: Option<SocketAddr>,
    /// Webhooks over plain http to loopback (tests only).
    pub insecure_webhooks_to_loopback: bool,
    pub tls: Option<Arc<leakwatch_api::TlsConfig>>,
    /// Printed to stdout once listening, `{addr}` replaced by the address listened on and
    /// `{url}` by the server's URL (`localhost` for a loopback address: a passkey's relying
    /// party cannot be an IP address).
    pub banner: Option<String>,
    /// The demo's Maildir: mail is delivered there instead of to an SMTP server, and shown at
    /// `/demo/mailbox` (`leakwatch demo` only).
    pub demo_mailbox: Option<std::path::PathBuf>,
    /// The audit log keyed requests are recorded in (none only for benchmarks).
    pub audit: Option<leakwatch_service::auditlog::AuditLog>,
    /// The bulk-extraction controls (the defaults for the demo).
    pub bulk: Option<BulkArgs>,
    /// Load balancers whose connections carry the client's address (PROXY protocol v2).
    pub proxy_protocol: Option<leakwatch_api::proxy_protocol::TrustedProxies>,
    /// How often to ask the store for a newer generation.
    pub store_poll: std::time::Duration,
}

/// The bulk-extraction watch and its limits (the watch counts the audit log's target
/// digests: none without the log).
fn watch_bulk(state: &mut AppState, bulk: Option<BulkArgs>) {
    let bulk_limits = bulk
        .as_ref()
        .map_or_else(Default::default, BulkArgs::limits);
    if state.audit.is_some() {
        state.watch_bulk(bulk_limits);
    }
    if let Some(bulk) = bulk {
        state.operator_contact = bulk.operator_contact;
        state.max_domain_answer = bulk.max_domain_answer;
    }
}

/// The answer tier in `dir` (`--answer-dir`), made owner-only when new. Refused inside the
/// data directory: backups and mirrors copy that directory whole, and the tier's files are
/// a rendering (several times the store's size) that each server writes for itself.
fn answer_tier(
    dir: std::path::PathBuf,
    data: &Path,
    codings: leakwatch_api::AnswerCodings,
) -> Result<Arc<leakwatch_api::AnswerTier>> {
    anyhow::ensure!(
        !super::inside_data_dir(&dir, data)?,
        "--answer-dir {} is inside the data directory {}: give it a directory of its own \
         (backups copy the data directory whole; answer files are rebuilt from it)",
        dir.display(),
        data.display()
    );
    let tier = leakwatch_api::AnswerTier::open(&dir)
        .with_context(|| format!("opening the answer directory {}", dir.display()))?;
    Ok(Arc::new(tier.with_codings(codings)))
}

/// The credential check's OPRF key file, read now so that a missing or readable-by-others
/// file stops the start, and again when the store's buckets name another key (a rotation).
fn credential_keys(path: std::path::PathBuf) -> Result<Arc<credentials::CredentialKeys>> {
    let file = credentials::OprfKeyFile::new(path);
    file.load().context("the credential check's OPRF key")?;
    Ok(Arc::new(credentials::CredentialKeys::new(file)))
}

/// The relying party of the dashboard's passkeys: the public URL's host (a name: a relying
/// party cannot be an IP address), or the host of the URL this server prints.
fn relying_party(
    public_url: Option<&str>,
    url: &str,
) -> Option<Arc<leakwatch_service::passkeys::RelyingParty>> {
    match leakwatch_service::passkeys::RelyingParty::new(public_url.unwrap_or(url)) {
        Ok(rp) => Some(Arc::new(rp)),
        Err(e) => {
            tracing::warn!("dashboard passkeys are off: {e}");
            None
        }
    }
}

pub fn serve(data: &Path, how: Serving) -> Result<()> {
    let Serving {
        listen,
        metrics_listen,
        default_region,
        access_log,
        range_cache,
        answer_dir,
        answer_codings,
        mail,
        key,
        oprf_key_file,
        credential_page_checks,
        dns_resolver,
        insecure_webhooks_to_loopback,
        tls,
        banner,
        demo_mailbox,
        audit,
        bulk,
        proxy_protocol,
        store_poll,
    } = how;
    // A replica of an object store listens at once (not ready until a generation is local).
    let store = StoreHandle::start_in(&DataDir::new(data))
        .with_context(|| format!("opening store in {}", data.display()))?;
    let catalog = CatalogHandle::new(catalog(data)?)?;
    let mut state = AppState::new(store, catalog, ServerLimits::default());
    state.default_region = default_region;
    state.operator_key = key.load()?;
    state.credential_keys = oprf_key_file.map(credential_keys).transpose()?;
    state.credential_page_checks_per_hour = credential_page_checks;
    state.access_log = access_log;
    state.range_cache = leakwatch_api::RangeCache::new(range_cache);
    state.answer_tier = answer_dir
        .map(|dir| answer_tier(dir, data, answer_codings))
        .transpose()?;
    state.audit = audit.map(Arc::new);
    watch_bulk(&mut state, bulk);
    let scheme = if tls.is_some() { "https" } else { "http" };
    state.tls = tls;
    state.proxy_protocol = proxy_protocol;
    state.store_poll = store_poll;
    if let Some(resolver) = dns_resolver {
        state.dns_resolver = resolver;
    }
    state.insecure_webhooks_to_loopback = insecure_webhooks_to_loopback;
    if insecure_webhooks_to_loopback {
        tracing::warn!("webhooks may go over plain http to loopback: a setting for tests only");
    }
    // On a shared catalogue, a change made elsewhere (a key revoked, a generation published)
    // wakes the reload loops at once; without the listener they still poll.
    let (changed, published) = (state.catalog_changed.clone(), state.store_published.clone());
    let wake = move |heard| match heard {
        Heard::Catalog => changed.notify_one(),
        Heard::Store => published.notify_one(),
        _ => {
            changed.notify_one();
            published.notify_one();
        }
    };
    let _listener = match leakwatch_service::listen_for_catalog_changes(&DataDir::new(data), wake) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!("not listening for catalogue changes (polling instead): {e}");
            None
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        let metrics_listener = tokio::net::TcpListener::bind(metrics_listen)
            .await
            .with_context(|| format!("binding the metrics listener {metrics_listen}"))?;
        let metrics_addr = metrics_listener.local_addr()?;
        let url = if addr.ip().is_loopback() {
            format!("{scheme}://localhost:{}", addr.port())
        } else {
            format!("{scheme}://{addr}")
        };
        if let Some(dir) = &demo_mailbox {
            demo_mail(&mut state, data, dir, &url)?;
        }
        state.passkeys = relying_party(mail.as_ref().and_then(|m| m.public_url.as_deref()), &url);
        if let Some((mail, url)) = mail.as_ref().and_then(|m| Some((m, m.smtp_url.as_ref()?))) {
            anyhow::ensure!(
                state.operator_key.is_some(),
                "mail needs the operator key, which seals queued mail: pass --operator-key-file \
                 (or LEAKWATCH_OPERATOR_KEY_FILE)"
            );
            let ca = match &mail.smtp_ca_file {
                Some(path) => Some(
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
                ),
                None => None,
            };
            let url = match &mail.smtp_password_file {
                Some(path) => {
                    let password = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    mail::with_password(url, password.trim_end_matches(['\r', '\n'])).map_err(
                        |e| match e {
                            mail::SmtpUrlError::NoUser { scheme } => anyhow::anyhow!(
                                "--smtp-password-file needs a user name in the SMTP URL: {scheme}://USER@HOST"
                            ),
                            other => other.into(),
                        },
                    )?
                }
                None => url.clone(),
            };
            let mailer = mail::Mailer::new(&url, &mail.mail_from, ca.as_deref())
                .map_err(anyhow::Error::msg)?;
            let public_url = mail
                .public_url
                .clone()
                .unwrap_or_else(|| format!("{scheme}://{addr}"));
            tracing::info!("mail goes through {}", mailer.server());
            let mut setup = leakwatch_api::MailSetup::new(mailer, DataDir::new(data), public_url);
            setup.retry.first_retry = std::time::Duration::from_secs(mail.mail_retry_after.max(1));
            setup.retry.lease = std::time::Duration::from_secs(mail.mail_lease);
            setup.limits = leakwatch_api::CheckLimits {
                per_ip_per_hour: mail.check_limit_per_ip,
                per_address_per_day: mail.check_limit_per_address,
            };
            state.mail = Some(setup);
        }
        let state = Arc::new(state);
        tracing::info!("metrics at http://{metrics_addr}/metrics");
        tokio::spawn(leakwatch_api::serve_metrics(metrics_listener, state.clone()));
        tracing::info!(
            "leakwatch serving {scheme}://{addr}/ (generation {})",
            state.store.snapshot().generation()
        );
        if let Some(b) = banner {
            println!(
                "{}",
                b.replace("{addr}", &addr.to_string()).replace("{url}", &url)
            );
            std::io::stdout().flush()?;
        }
        leakwatch_api::serve(listener, state, shutdown_signal()).await?;
        tracing::info!("shut down cleanly");
        Ok(())
    })
}

/// The demo's mail: delivered into the Maildir `dir` and shown at `/demo/mailbox`.
fn demo_mail(state: &mut AppState, data: &Path, dir: &Path, url: &str) -> Result<()> {
    anyhow::ensure!(
        state.operator_key.is_some(),
        "the demo's mail needs the operator key, which seals queued mail"
    );
    let mailer = mail::Mailer::maildir(dir, "leakwatch demo <demo@leakwatch.example>")
        .map_err(anyhow::Error::msg)?;
    tracing::info!(
        "mail goes to {} (shown at {url}/demo/mailbox)",
        mailer.server()
    );
    let mut setup = leakwatch_api::MailSetup::new(mailer, DataDir::new(data), url.to_owned());
    setup.retry.first_retry = std::time::Duration::from_secs(1);
    state.mail = Some(setup);
    state.demo_mailbox = Some(dir.to_owned());
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
