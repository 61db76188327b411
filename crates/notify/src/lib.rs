//! Notification delivery: what goes into the outbox, how it is sealed, and how it leaves.
//!
//! A [`Payload`] says what to send and to whom; it is sealed under the operator key before
//! it is written to the outbox (`leakwatch_catalog::outbox`), so the database never holds
//! a recipient in clear. The [`Worker`] claims due rows, opens them, asks a composer (the
//! server, which can look things up in the store) for the [`Email`], sends it with a
//! [`Mailer`] (SMTP through lettre: plain, STARTTLS or implicit TLS, chosen by URL), and
//! records the outcome: delivered, retried later with exponential backoff, or given up.
//!
//! Delivery is at least once: a crash between the SMTP server's acceptance and the outbox
//! update sends that one mail again after the lease. Every mail's `Message-ID` is derived
//! from its outbox row, so a repeat is recognisable as the same message. This crate does
//! not decide what a mail says (composers do) and does not speak HTTP.

mod mail;
mod worker;

pub use mail::{DeliveryError, Email, Mailer};
pub use worker::{RetryPolicy, Worker, WorkerError};

use leakwatch_identity::OperatorKey;

/// What a notification is, as sealed into the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Payload {
    /// The answer to a private check (`POST /api/v1/check-by-mail`), composed when it is
    /// sent so that the request does the same work whatever the answer.
    CheckResult {
        /// The normalised address that asked, the only one the answer goes to.
        email: String,
    },
}

/// Associated data that binds a sealed payload to the outbox.
const SEAL_CONTEXT: &[u8] = b"leakwatch outbox payload v1";

impl Payload {
    /// The payload sealed under `key` (randomised: equal payloads seal differently).
    pub fn seal(&self, key: &OperatorKey) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("a payload serialises");
        key.seal_bytes(SEAL_CONTEXT, &json)
    }

    /// Opens what [`Payload::seal`] sealed; `None` if it does not open under `key` or is
    /// not a payload this build knows.
    pub fn open(sealed: &[u8], key: &OperatorKey) -> Option<Payload> {
        let json = key.open_bytes(SEAL_CONTEXT, sealed).ok()?;
        serde_json::from_slice(&json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_seal_without_plaintext_and_open_only_under_their_key() {
        let key = OperatorKey::from_bytes(&[7; 32]);
        let other = OperatorKey::from_bytes(&[8; 32]);
        let p = Payload::CheckResult {
            email: "someone@example.test".into(),
        };
        let a = p.seal(&key);
        let b = p.seal(&key);
        assert_ne!(a, b, "sealing is randomised");
        assert!(!a.windows(7).any(|w| w == b"someone"), "no plaintext");
        assert_eq!(Payload::open(&a, &key), Some(p.clone()));
        assert_eq!(Payload::open(&b, &key), Some(p));
        assert_eq!(Payload::open(&a, &other), None);
        let mut damaged = a.clone();
        damaged[20] ^= 1;
        assert_eq!(Payload::open(&damaged, &key), None);
    }
}
