//! The server's side of the outbox: it starts the service layer's delivery worker
//! (`leakwatch_service::outbox`), which asks this server what it serves now.

use std::sync::{Arc, atomic::AtomicBool};

use leakwatch_service::outbox::{self, Mailroom, Served, WorkerSetup};

use crate::AppState;

impl Served for AppState {
    fn mailroom(&self) -> Option<Mailroom<'_>> {
        AppState::mailroom(self)
    }
}

/// Starts the delivery worker on its own thread, unless mail is not set up or another
/// server on this data directory already runs one; it stops when `stop` is set.
pub(crate) fn start_worker(
    state: Arc<AppState>,
    stop: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let (mail, key) = state.mailing()?;
    let setup = WorkerSetup {
        data: mail.data.clone(),
        key: key.clone(),
        mailer: mail.mailer.clone(),
        retry: mail.retry,
    };
    let (thread, wake) = outbox::start_worker(state.clone(), setup, stop)?;
    *mail.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(wake);
    Some(thread)
}
