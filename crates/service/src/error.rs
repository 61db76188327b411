//! The service layer's error: what went wrong in an action, typed, so each edge words it for
//! its reader (a status and a one-line reason in the API, a sentence in the CLI). It never
//! names a flag or a status code.

use std::net::SocketAddr;

use leakwatch_catalog::CatalogError;
use leakwatch_ingest::IngestError;
use leakwatch_store::StoreError;

/// Why an action of the service layer did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A credential-check action failed (see [`crate::credentials::CredentialsError`]).
    #[error(transparent)]
    Credentials(#[from] crate::credentials::CredentialsError),
    /// The principal lacks the scope the action needs.
    #[error("the API key lacks the scope {0}")]
    MissingScope(leakwatch_catalog::keys::Scope),
    /// The catalogue refused or failed (its own error says which).
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An import or a re-seal failed.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A breach that the store links accounts to (by Name) cannot be renamed.
    #[error(
        "{breach:?} has accounts loaded in the store, which links them by Name: it cannot be renamed to {new:?} (its Title can change freely)"
    )]
    RenameLoaded {
        /// The breach's Name.
        breach: String,
        /// The Name asked for.
        new: String,
    },
    /// The breach an import was linked to left the catalogue while it ran.
    #[error("breach {0:?} left the catalogue during the import")]
    BreachGone(String),
    /// No API key with that id or prefix.
    #[error("no API key {0}")]
    UnknownKey(String),

    #[error("the system's random number generator failed: {0}")]
    Random(String),
    /// The key is revoked or expired: it cannot be rotated.
    #[error("API key {0} is revoked or expired: create a new one instead")]
    KeyNotUsable(String),
    /// The old and the new operator key of a rotation are one key.
    #[error("the old and the new key are the same")]
    SameOperatorKey,
    /// A domain's first registration names no contact address.
    #[error("the first registration of a domain needs a contact address")]
    NoContact,
    /// DNS verification found no TXT record with the token.
    #[error("{domain} has no TXT record {record:?} (asked {resolver})")]
    NoTxtRecord {
        /// The domain.
        domain: String,
        /// The record it should publish.
        record: String,
        /// The resolver asked.
        resolver: SocketAddr,
    },
    /// The DNS resolver did not answer.
    #[error(transparent)]
    Dns(#[from] crate::dns::DnsError),
    /// A webhook URL the egress guard refuses.
    #[error(transparent)]
    Egress(#[from] crate::egress::EgressError),
    /// No subscriber with that id or address.
    #[error("no subscriber {0}")]
    UnknownSubscriber(String),
    /// An identifier that is not an e-mail address, phone number or username.
    #[error("an identifier: {0}")]
    BadIdentifier(#[from] leakwatch_identity::InvalidIdentifier),
    /// Searching a domain's aliases failed.
    #[error(transparent)]
    DomainSearch(#[from] crate::domain_search::DomainSearchError),
    /// No vendor of that name (in the principal's tenant).
    #[error("no vendor {0}")]
    UnknownVendor(String),
    /// The principal may not act for that tenant (an API key acts only for its own).
    #[error("not allowed to act for tenant {0:?}")]
    NotYourTenant(String),
    /// No key names that tenant.
    #[error("no tenant {0:?}")]
    UnknownTenant(String),
    /// The domain is not verified for the principal's tenant: it may not search it.
    #[error("{0} is not verified for this tenant")]
    DomainNotVerified(String),
    /// The audit log could not be written or read where it must be.
    #[error(transparent)]
    Audit(#[from] leakwatch_trail::TrailError),
    /// `keys resume` of a key that is not suspended.
    #[error("API key {0} is not suspended")]
    NotSuspended(String),
    /// The syslog socket the audit records are copied to cannot be reached.
    #[error("the audit syslog socket {0}")]
    Syslog(String),
}
