//! The server's side of the outbox: the delivery worker's thread and its owner, which asks
//! the service layer (`leakwatch_service::outbox`) what to queue when a breach is published
//! and what each notification says.
//!
//! One worker per data directory (a lock file, `outbox.lock`, makes sure): it alone may
//! release a dead worker's claims at start.

use std::sync::{Arc, atomic::AtomicBool};

use leakwatch_catalog::{Catalog, outbox::Pending};
use leakwatch_notify::{Deliveries, Outgoing, Payload};
use leakwatch_service::outbox;

use crate::AppState;

/// Starts the delivery worker on its own thread, unless mail is not set up or another
/// server on this data directory already runs one; it stops when `stop` is set.
pub(crate) fn start_worker(
    state: Arc<AppState>,
    stop: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let (mail, key) = state.mailing()?;
    let lock_path = mail.data.outbox_lock();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .ok()?;
    if lock.try_lock().is_err() {
        tracing::warn!(
            "another server delivers this data directory's mail; this one only queues it"
        );
        return None;
    }
    let catalog = match Catalog::open(&mail.data.catalog()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("outbox worker not started: {e}");
            return None;
        }
    };
    let (tx, rx) = std::sync::mpsc::channel();
    *mail.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    let mut worker =
        leakwatch_notify::Worker::new(catalog, key.clone(), mail.mailer.clone(), mail.retry);
    std::thread::Builder::new()
        .name("leakwatch-outbox".into())
        .spawn(move || {
            // Held for the thread's life: the lock is what makes this the only worker.
            let _lock = lock;
            match worker.release_claims() {
                Ok(0) => {}
                Ok(n) => tracing::info!("{n} interrupted deliveries resumed"),
                Err(e) => tracing::error!("outbox: {e}"),
            }
            let mut owner = ServerDeliveries { state, seen: None };
            worker.run(&stop, &rx, &mut owner);
        })
        .ok()
}

/// The server as the worker's owner.
struct ServerDeliveries {
    state: Arc<AppState>,
    /// Store generation and breach names last scanned for alerts.
    seen: Option<(u64, usize)>,
}

impl Deliveries for ServerDeliveries {
    fn queue(&mut self, catalog: &mut Catalog) -> Result<usize, String> {
        let snap = self.state.store.snapshot();
        let marker = (snap.generation(), self.state.catalog.breaches().len());
        if self.seen == Some(marker) {
            return Ok(0);
        }
        let Some(m) = self.state.mailroom() else {
            return Ok(0);
        };
        let queued = outbox::queue_alerts(&m, catalog).map_err(|e| e.to_string())?
            + outbox::queue_impact_alerts(&m, catalog).map_err(|e| e.to_string())?;
        self.seen = Some(marker);
        Ok(queued)
    }

    fn compose(
        &mut self,
        catalog: &Catalog,
        pending: &Pending,
        payload: Payload,
    ) -> Result<Outgoing, String> {
        let m = self.state.mailroom().ok_or("mail is not set up")?;
        outbox::compose(&m, catalog, pending, payload)
    }
}
