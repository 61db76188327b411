//! The delivery worker: drains the outbox through a [`Mailer`].
//!
//! One worker per server, on its own thread with its own connection to the catalogue
//! (SQLite in WAL mode lets requests enqueue meanwhile). Each round claims the due rows for
//! a lease, so a worker killed mid-round leaves them to the next one once the lease runs
//! out; failures back off exponentially with jitter, up to a maximum number of attempts.
//! It does not decide what a mail says: the owner ([`Deliveries`]) turns each payload into
//! an [`Outgoing`] mail or webhook call.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc::{Receiver, RecvTimeoutError},
    },
    time::Duration,
};

use leakwatch_catalog::{Catalog, CatalogError, now_unix, outbox::Pending};
use leakwatch_identity::OperatorKey;

use crate::{DeliveryError, Mailer, Outgoing, Payload};

/// When to try again and when to give up.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Wait after the first failure; doubles with every further one.
    pub first_retry: Duration,
    /// The longest wait between attempts.
    pub max_retry: Duration,
    /// Attempts before a notification is given up.
    pub max_attempts: u32,
    /// How long a claimed notification is left to its worker before another may take it.
    pub lease: Duration,
    /// Notifications claimed at once. Where several workers share the outbox, 1: a claim
    /// must be delivered within its lease, or another worker sends it again, and a dead
    /// worker strands only what it claimed.
    pub batch: usize,
}

impl Default for RetryPolicy {
    /// 30 s doubling to 1 h, 30 attempts (about a day), 2 min leases.
    fn default() -> Self {
        RetryPolicy {
            first_retry: Duration::from_secs(30),
            max_retry: Duration::from_secs(3600),
            max_attempts: 30,
            lease: Duration::from_secs(120),
            batch: 32,
        }
    }
}

impl RetryPolicy {
    /// Seconds to wait after the `attempts`-th failed attempt, ±10% jitter so that
    /// notifications failed together do not retry together.
    fn backoff(&self, attempts: u32) -> u64 {
        let doubled = self
            .first_retry
            .saturating_mul(1 << attempts.saturating_sub(1).min(20))
            .min(self.max_retry)
            .as_secs_f64();
        (doubled * (0.9 + 0.2 * fastrand::f64())).round().max(1.0) as u64
    }
}

/// Why the worker could not do its round (delivery failures are not errors: they are
/// recorded in the outbox).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Sent and accepted by the server.
    pub delivered: usize,
    /// Failed for now; due again later.
    pub retried: usize,
    /// Given up.
    pub failed: usize,
}

/// What the worker's owner (the server) decides: which notifications to queue, and what
/// each says.
pub trait Deliveries {
    /// Called before every round with the worker's catalogue connection, to queue new
    /// notifications (alerts for a newly published breach). Errors are reported, not fatal.
    fn queue(&mut self, catalog: &mut Catalog) -> Result<usize, OwnerError>;

    /// What to send for an opened payload (with its outbox row), or why it cannot be sent
    /// (then it is given up).
    fn compose(
        &mut self,
        catalog: &Catalog,
        pending: &Pending,
        payload: Payload,
    ) -> Result<Outgoing, OwnerError>;
}

/// Why the owner could not queue or compose: its own typed error, which the worker only
/// reports (and records for a notification it gives up).
pub type OwnerError = Box<dyn std::error::Error + Send + Sync>;

/// A composer's error that is worth another try later (a DNS resolver that did not answer):
/// the notification is retried with backoff instead of given up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TryLater(pub String);

/// Delivers the outbox.
#[derive(Debug)]
pub struct Worker {
    catalog: Catalog,
    key: OperatorKey,
    mailer: Mailer,
    policy: RetryPolicy,
}

impl Worker {
    /// A worker over its own catalogue connection.
    pub fn new(catalog: Catalog, key: OperatorKey, mailer: Mailer, policy: RetryPolicy) -> Worker {
        Worker {
            catalog,
            key,
            mailer,
            policy,
        }
    }

    /// Makes what a dead worker had claimed due at once. Call once, when this worker is
    /// known to be the only one (the server holds a lock file).
    pub fn release_claims(&mut self) -> Result<usize, WorkerError> {
        Ok(self.catalog.release_claims(now_unix())?)
    }

    /// Delivers every notification due at `now`, in batches.
    pub fn run_once(&mut self, now: u64, owner: &mut dyn Deliveries) -> Result<Round, WorkerError> {
        let mut round = Round::default();
        let started = now_unix();
        loop {
            // The round's clock moves with the time it has run: a claim's lease counts from
            // when it is made, not from the round's start (a round longer than the lease
            // would otherwise hand out claims already expired, which another server's
            // worker would take and send again).
            let at = now + now_unix().saturating_sub(started);
            let batch = self.catalog.claim_due(
                at,
                self.policy.lease.as_secs(),
                self.policy.batch.max(1),
            )?;
            if batch.is_empty() {
                return Ok(round);
            }
            for pending in batch {
                let outcome = match Payload::open(&pending.payload, &self.key) {
                    None => Err(DeliveryError::Permanent(
                        "the payload does not open under the operator key".into(),
                    )),
                    Some(payload) => match owner.compose(&self.catalog, &pending, payload) {
                        Err(why) if why.is::<TryLater>() => {
                            Err(DeliveryError::Transient(why.to_string()))
                        }
                        Err(why) => Err(DeliveryError::Permanent(why.to_string())),
                        Ok(Outgoing::Mail(email)) => self.mailer.send(&email),
                        Ok(Outgoing::Webhook(call)) => crate::webhook::post(&call, now_unix()),
                    },
                };
                let done = now_unix();
                match outcome {
                    Ok(()) => {
                        self.catalog.mark_delivered(pending.id, done)?;
                        round.delivered += 1;
                    }
                    Err(DeliveryError::Transient(why))
                        if pending.attempts < self.policy.max_attempts =>
                    {
                        let at = done + self.policy.backoff(pending.attempts);
                        self.catalog.reschedule(pending.id, at, &why)?;
                        round.retried += 1;
                    }
                    Err(e) => {
                        self.catalog.mark_failed(pending.id, done, &e.to_string())?;
                        round.failed += 1;
                    }
                }
            }
        }
    }

    /// Runs rounds until `stop` is set: whenever something is due, when `wake` receives
    /// (a request enqueued), and at least once a second. Each round first lets `owner`
    /// queue new notifications.
    pub fn run(&mut self, stop: &AtomicBool, wake: &Receiver<()>, owner: &mut dyn Deliveries) {
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = owner.queue(&mut self.catalog) {
                eprintln!("leakwatch: queueing alerts: {e}");
            }
            if let Err(e) = self.run_once(now_unix(), owner) {
                eprintln!("leakwatch: outbox delivery: {e}");
            }
            let wait = match self.catalog.next_due() {
                Ok(Some(at)) => Duration::from_secs(at.saturating_sub(now_unix())),
                _ => Duration::from_secs(1),
            }
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
            match wake.recv_timeout(wait) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Composes nothing: the first notification takes longer than the lease to compose;
    /// for the second, another worker's connection asks what it could claim.
    struct SlowThenAsk {
        catalog: std::path::PathBuf,
        composed: usize,
        others_could_claim: Vec<usize>,
    }

    impl Deliveries for SlowThenAsk {
        fn queue(&mut self, _: &mut Catalog) -> Result<usize, OwnerError> {
            Ok(0)
        }

        fn compose(
            &mut self,
            _: &Catalog,
            _: &Pending,
            _: Payload,
        ) -> Result<Outgoing, OwnerError> {
            self.composed += 1;
            if self.composed == 1 {
                std::thread::sleep(Duration::from_millis(2100));
            } else {
                let mut other = Catalog::open(&self.catalog)?;
                let taken = other.claim_due(now_unix(), 60, 10)?;
                self.others_could_claim.push(taken.len());
            }
            Err(Box::new(TryLater("not now".into())))
        }
    }

    #[test]
    fn a_claim_made_late_in_a_long_round_is_not_yet_due_for_another_worker() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("catalog.db");
        let key = OperatorKey::from_hex(&OperatorKey::generate_hex()).unwrap();
        let mut catalog = Catalog::open(&path).unwrap();
        let now = now_unix();
        for id in 0..2 {
            let payload = Payload::KeyAnomaly {
                to: "soc@example.test".into(),
                key: id,
                watched: "accounts".into(),
                count: 11,
                threshold: 10,
                suspended: false,
            };
            catalog.enqueue(None, &payload.seal(&key), now).unwrap();
        }
        let policy = RetryPolicy {
            lease: Duration::from_secs(1),
            batch: 1,
            ..RetryPolicy::default()
        };
        let mailer = Mailer::new("smtp://127.0.0.1:9", "leakwatch@example.test", None).unwrap();
        let mut worker = Worker::new(catalog, key, mailer, policy);
        let mut owner = SlowThenAsk {
            catalog: path,
            composed: 0,
            others_could_claim: Vec::new(),
        };
        let round = worker.run_once(now, &mut owner).unwrap();
        assert_eq!(round.retried, 2);
        // The second was claimed 2 s into the round with a 1 s lease: still this worker's.
        assert_eq!(owner.others_could_claim, [0]);
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter() {
        let p = RetryPolicy::default();
        for (attempts, base) in [(1, 30.0), (2, 60.0), (3, 120.0), (8, 3600.0), (30, 3600.0)] {
            for _ in 0..20 {
                let s = p.backoff(attempts) as f64;
                assert!(
                    s >= base * 0.9 - 1.0 && s <= base * 1.1 + 1.0,
                    "{attempts}: {s}"
                );
            }
        }
    }
}
