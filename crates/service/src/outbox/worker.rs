//! The delivery worker as a server runs it: what a server gives it ([`Served`],
//! [`WorkerSetup`]), and what it asks back — which alerts to queue now, and what each
//! notification says — from the rest of the outbox.

use std::sync::{Arc, atomic::AtomicBool, mpsc::Sender};

use leakwatch_catalog::{Catalog, outbox::Pending};
use leakwatch_identity::OperatorKey;
use leakwatch_notify::{Deliveries, Mailer, Outgoing, OwnerError, RetryPolicy};

use super::{
    Mailroom, Payload, Undeliverable, compose, queue_alerts, queue_impact_alerts,
    queue_paste_alerts,
};
use crate::DataDir;

/// A server as the outbox worker sees it: what it serves now, when mail is set up.
pub trait Served: Send + Sync + 'static {
    /// What the outbox queues and composes from; none when mail is not set up.
    fn mailroom(&self) -> Option<Mailroom<'_>>;
}

/// What the delivery worker needs of its own.
#[derive(Debug, Clone)]
pub struct WorkerSetup {
    /// The data directory: its catalogue (the worker's own connection) and `outbox.lock`.
    pub data: DataDir,
    /// The operator key, which opens what requests sealed.
    pub key: OperatorKey,
    /// The SMTP server.
    pub mailer: Mailer,
    /// Retries and leases.
    pub retry: RetryPolicy,
}

/// Starts the delivery worker of `served` on its own thread. On a catalogue of its own
/// (`catalog.db`) only one server per data directory delivers (`outbox.lock`; it alone may
/// release a dead worker's claims at start). On a shared catalogue (PostgreSQL) every
/// server delivers: claims skip rows another worker holds, and a dead worker's claims come
/// back when their lease runs out. It stops when `stop` is set; a message on the returned
/// sender wakes it at once.
pub fn start_worker<S: Served>(
    served: Arc<S>,
    setup: WorkerSetup,
    stop: Arc<AtomicBool>,
) -> Option<(std::thread::JoinHandle<()>, Sender<()>)> {
    let catalog = match crate::open_catalog(&setup.data) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("outbox worker not started: {e}");
            return None;
        }
    };
    let shared = catalog.dialect() == leakwatch_catalog::Dialect::Postgres;
    let lock = if shared {
        tracing::info!("the catalogue is shared: this server delivers alongside the others");
        None
    } else {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(setup.data.outbox_lock())
            .ok()?;
        if lock.try_lock().is_err() {
            tracing::warn!(
                "another server delivers this data directory's mail; this one only queues it"
            );
            return None;
        }
        Some(lock)
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mut retry = setup.retry;
    if shared {
        retry.batch = 1;
    }
    let mut worker = leakwatch_notify::Worker::new(catalog, setup.key, setup.mailer, retry);
    let thread = std::thread::Builder::new()
        .name("leakwatch-outbox".into())
        .spawn(move || {
            // Held for the thread's life: the lock is what makes this the only worker, and
            // only the only worker may release claims (a shared catalogue's wait for their
            // lease).
            if let Some(_lock) = &lock {
                match worker.release_claims() {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("{n} interrupted deliveries resumed"),
                    Err(e) => tracing::error!("outbox: {e}"),
                }
            }
            let mut owner = ServerDeliveries { served, seen: None };
            worker.run(&stop, &rx, &mut owner);
            drop(lock);
        })
        .ok()?;
    Some((thread, tx))
}

/// The server as the worker's owner.
struct ServerDeliveries<S> {
    served: Arc<S>,
    /// Store generation and breach names last scanned for alerts.
    seen: Option<(u64, usize)>,
}

impl<S: Served> Deliveries for ServerDeliveries<S> {
    fn queue(&mut self, catalog: &mut Catalog) -> Result<usize, OwnerError> {
        let Some(m) = self.served.mailroom() else {
            return Ok(0);
        };
        // Pastes are added to the catalogue, not the store: asked for at every round (one
        // indexed query that finds none almost always).
        let pasted = queue_paste_alerts(&m, catalog)?;
        let marker = (m.store.snapshot().generation(), m.catalog.breaches().len());
        if self.seen == Some(marker) {
            return Ok(pasted);
        }
        let queued = queue_alerts(&m, catalog)? + queue_impact_alerts(&m, catalog)?;
        self.seen = Some(marker);
        Ok(pasted + queued)
    }

    fn compose(
        &mut self,
        catalog: &Catalog,
        pending: &Pending,
        payload: Payload,
    ) -> Result<Outgoing, OwnerError> {
        let m = self.served.mailroom().ok_or(Undeliverable::NotSetUp)?;
        match compose(&m, catalog, pending, payload) {
            // The resolver did not answer: the webhook is vetted again on the next try.
            Err(Undeliverable::Egress(e @ crate::egress::EgressError::Dns(_))) => {
                Err(Box::new(leakwatch_notify::TryLater(e.to_string())))
            }
            Err(e @ Undeliverable::NotLoadedYet(_)) => {
                Err(Box::new(leakwatch_notify::TryLater(e.to_string())))
            }
            other => Ok(other?),
        }
    }
}
