//! Notification delivery: what goes into the outbox, how it is sealed, and how it leaves.
//!
//! A [`Payload`] says what to send and to whom; it is sealed under the operator key before
//! it is written to the outbox (`leakwatch_catalog::outbox`), so the database never holds
//! a recipient in clear. The [`Worker`] claims due rows, opens them, asks a composer (the
//! server, which can look things up in the store) for what to send — an [`Email`], sent with
//! a [`Mailer`] (SMTP through lettre: plain, STARTTLS or implicit TLS, chosen by URL), or a
//! signed [`WebhookCall`] — and records the outcome: delivered, retried later with
//! exponential backoff, or given up.
//!
//! Delivery is at least once: a crash between the SMTP server's acceptance and the outbox
//! update sends that one mail again after the lease. Every mail's `Message-ID` is derived
//! from its outbox row, so a repeat is recognisable as the same message. This crate does
//! not decide what a mail says (composers do) and does not speak HTTP.

mod mail;
pub mod maildir;
mod webhook;
mod worker;

pub use mail::{DeliveryError, Email, Mailer};
pub use webhook::{WebhookCall, signature};
pub use worker::{Deliveries, OwnerError, RetryPolicy, Round, TryLater, Worker, WorkerError};

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
    /// The mail that confirms an alert subscription: a link, signed and expiring.
    ConfirmSubscription {
        /// The normalised address to subscribe.
        email: String,
    },
    /// The mail that verifies a domain: a link sent to a role address at it.
    VerifyDomain {
        /// The domain's subscriber row id.
        subscriber: i64,
        /// The role address (security@, admin@, …) it goes to.
        address: String,
    },
    /// A vendor's breach: its impact report, to the vendor's owner.
    VendorImpact {
        /// The tenant whose inventory holds the vendor (queued before tenants: `default`).
        #[serde(default = "default_tenant")]
        tenant: String,
        /// The breach's Name.
        breach: String,
        /// The vendor's name.
        vendor: String,
        /// The owner's address.
        owner: String,
    },
    /// The mail that asks a vendor's owner to confirm they want its impact reports: an API
    /// key named an address off its tenant's verified domains.
    ConfirmVendorOwner {
        /// The tenant whose inventory holds the vendor.
        tenant: String,
        /// The vendor's name.
        vendor: String,
        /// The owner's address.
        owner: String,
    },
    /// The mail that tells a domain's (previous) contact that its registration's webhook or
    /// contact changed: whoever holds a key of the tenant could otherwise redirect the
    /// domain's alerts unnoticed.
    RegistrationChanged {
        /// The domain's subscriber row id.
        subscriber: i64,
        /// The contact before the change, who is told.
        to: String,
        /// Who changed it (the principal, as a sentence).
        by: String,
    },
    /// The mail that confirms an opt-out: a link that hides the address from every search
    /// and alert.
    ConfirmOptOut {
        /// The normalised address to hide.
        email: String,
    },
    /// A subscriber's alert: a breach it is in was loaded.
    BreachAlert {
        /// The subscriber's row id (its address is in its sealed subscription).
        subscriber: i64,
        /// The breach's Name.
        breach: String,
        /// How many of the subscriber's addresses are in it (1 for an address; a domain
        /// counts its addresses).
        accounts: u64,
    },
    /// A subscriber's alert: a paste holding its address, or addresses on its domain, was
    /// added.
    PasteAlert {
        /// The subscriber's row id.
        subscriber: i64,
        /// The paste's source.
        source: String,
        /// The paste's id there.
        id: String,
        /// How many of the subscriber's addresses are in it.
        accounts: u64,
    },
    /// The operator's contact hears that an API key read in bulk (issue #19): more
    /// distinct prefixes, accounts or domains in an hour than the configuration allows.
    KeyAnomaly {
        /// The operator's contact address (`operator_contact`).
        to: String,
        /// The key's id.
        key: i64,
        /// What was read too much of (`account-prefixes`, `accounts`, `domains`).
        watched: String,
        /// Distinct targets read in the hour.
        count: u64,
        /// The threshold crossed.
        threshold: u64,
        /// Whether the key was suspended.
        suspended: bool,
    },
}

fn default_tenant() -> String {
    "default".to_owned()
}

/// What a subscriber watches and where its alerts go, sealed into its catalogue row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Subscription {
    /// One address, alerted at that address.
    Email {
        /// The normalised address.
        email: String,
    },
    /// Every address on a domain, alerted at a contact address; registered by an API key,
    /// whose holder must prove control of the domain.
    Domain {
        /// The normalised domain (punycode).
        domain: String,
        /// Where alerts go by mail (and verification results).
        contact: String,
        /// The API key that last registered it (0: the operator). The registration belongs
        /// to the key's tenant (the catalogue row says which).
        key: i64,
        /// Where alerts go instead, if set: a signed POST.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        webhook: Option<Webhook>,
    },
}

/// A webhook endpoint and its signing secret.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Webhook {
    /// http(s) URL.
    pub url: String,
    /// Shared secret for the `X-Leakwatch-Signature` HMAC.
    pub secret: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What the worker sends for one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outgoing {
    /// A mail.
    Mail(Email),
    /// A webhook call.
    Webhook(WebhookCall),
}

const SUBSCRIPTION_CONTEXT: &[u8] = b"leakwatch subscription v1";

impl Subscription {
    /// The keyed digest the subscriber row is found by (not the plaintext).
    pub fn digest(&self, key: &OperatorKey) -> [u8; 32] {
        match self {
            Subscription::Email { email } => {
                key.keyed_digest(b"subscriber email", email.as_bytes())
            }
            Subscription::Domain {
                domain, key: owner, ..
            } => key.keyed_digest(b"subscriber domain", format!("{owner}:{domain}").as_bytes()),
        }
    }

    /// Sealed under `key`, for the catalogue.
    pub fn seal(&self, key: &OperatorKey) -> Vec<u8> {
        key.seal_bytes(
            SUBSCRIPTION_CONTEXT,
            &serde_json::to_vec(self).expect("a subscription serialises"),
        )
    }

    /// Opens what [`Subscription::seal`] sealed.
    pub fn open(sealed: &[u8], key: &OperatorKey) -> Option<Subscription> {
        serde_json::from_slice(&key.open_bytes(SUBSCRIPTION_CONTEXT, sealed).ok()?).ok()
    }

    /// Where its alerts go.
    pub fn recipient(&self) -> &str {
        match self {
            Subscription::Email { email } => email,
            Subscription::Domain { contact, .. } => contact,
        }
    }
}

/// What a link in a mail does, sealed into its token: the token proves that leakwatch made
/// the link (only the operator key opens it) and carries what the link needs, so nothing is
/// stored until it is followed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "link", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Link {
    /// Confirms an address's subscription, until `expires` (Unix seconds).
    Confirm {
        /// The normalised address.
        email: String,
        /// After this, the link is refused.
        expires: u64,
    },
    /// Unsubscribes a subscriber (does not expire).
    Unsubscribe {
        /// Its row id.
        subscriber: i64,
    },
    /// Verifies a registered domain (sent to a role address at it), until `expires`.
    VerifyDomain {
        /// The domain's subscriber row id.
        subscriber: i64,
        /// After this, the link is refused.
        expires: u64,
    },
    /// Confirms that `owner` wants the impact reports of `tenant`'s vendor `vendor`, until
    /// `expires`.
    VendorOwner {
        /// The tenant.
        tenant: String,
        /// The vendor's name.
        vendor: String,
        /// The owner's address.
        owner: String,
        /// After this, the link is refused.
        expires: u64,
    },
    /// Hides an address from every search and alert (its owner's opt-out), until `expires`.
    OptOut {
        /// The normalised address.
        email: String,
        /// After this, the link is refused.
        expires: u64,
    },
}

const LINK_CONTEXT: &[u8] = b"leakwatch link v1";

impl Link {
    /// The token for a URL: the sealed link in lower-case hex.
    pub fn token(&self, key: &OperatorKey) -> String {
        let sealed = key.seal_bytes(
            LINK_CONTEXT,
            &serde_json::to_vec(self).expect("a link serialises"),
        );
        sealed.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The link a token carries, if `key` made it.
    pub fn from_token(token: &str, key: &OperatorKey) -> Option<Link> {
        let hex = token.trim().as_bytes();
        if !hex.len().is_multiple_of(2) || hex.len() > 4096 {
            return None;
        }
        let bytes = hex
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        serde_json::from_slice(&key.open_bytes(LINK_CONTEXT, &bytes).ok()?).ok()
    }
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

#[cfg(test)]
mod link_tests {
    use super::*;

    #[test]
    fn link_tokens_open_only_under_their_key_and_undamaged() {
        let key = OperatorKey::from_bytes(&[1; 32]);
        let link = Link::Confirm {
            email: "a@example.test".into(),
            expires: 99,
        };
        let token = link.token(&key);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!token.contains("example"));
        assert_eq!(Link::from_token(&token, &key), Some(link));
        assert_eq!(
            Link::from_token(&token, &OperatorKey::from_bytes(&[2; 32])),
            None
        );
        let mut damaged = token.into_bytes();
        damaged[40] = if damaged[40] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            Link::from_token(std::str::from_utf8(&damaged).unwrap(), &key),
            None
        );
        assert_eq!(Link::from_token("zz", &key), None);
        assert_eq!(Link::from_token("abc", &key), None);
    }

    #[test]
    fn subscriptions_are_found_by_a_keyed_digest_of_what_they_watch() {
        let key = OperatorKey::from_bytes(&[1; 32]);
        let a = Subscription::Email {
            email: "a@example.test".into(),
        };
        let d = Subscription::Domain {
            domain: "a@example.test".into(),
            contact: "x@example.test".into(),
            key: 1,
            webhook: None,
        };
        let other_key = Subscription::Domain {
            domain: "a@example.test".into(),
            contact: "x@example.test".into(),
            key: 2,
            webhook: None,
        };
        assert_ne!(
            d.digest(&key),
            other_key.digest(&key),
            "each API key has its own"
        );
        assert_ne!(a.digest(&key), d.digest(&key), "kinds never collide");
        assert_ne!(a.digest(&key), a.digest(&OperatorKey::from_bytes(&[2; 32])));
        assert_eq!(Subscription::open(&a.seal(&key), &key), Some(a));
    }
}
