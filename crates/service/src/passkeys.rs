//! Passkeys, the dashboard's second factor (issue #23), through `webauthn-rs`.
//!
//! A tenant enrols passkeys from a full dashboard session; from then on every session made
//! from any of the tenant's keys owes a passkey (the catalogue marks it at sign-in) and shows
//! nothing until one of the tenant's passkeys signs a fresh challenge. A stolen API key alone
//! therefore no longer opens the dashboard (the API still answers the key within its scopes:
//! the second factor guards the screens people use, not machine access).
//!
//! Each ceremony is two requests: `start_*` makes a challenge and keeps the server's half of
//! it in the catalogue (never in the browser, so a signed challenge is good once), `finish_*`
//! takes that half back, exactly once, and verifies the browser's answer against it. The
//! relying party is the server's public URL: its host is the RP ID, and the browser's
//! answer must name exactly that origin. Every ceremony runs under the session's principal;
//! the HTTP layer writes the audit record.

use leakwatch_catalog::passkeys::{CeremonyKind, StoredPasskey};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

use crate::{Catalog, CatalogHandle, Principal, ServiceError, dashboard::Session};

/// How long a started ceremony may wait for the browser's answer.
pub const CEREMONY_SECS: i64 = 5 * 60;

/// The longest name a passkey may be given.
pub const MAX_NAME: usize = 64;

/// Why a passkey ceremony failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasskeyError {
    /// The server has no public URL, so it cannot name its relying party.
    #[error("passkeys need the server's public URL (--public-url or public_url in the config)")]
    NotConfigured,
    /// The public URL cannot be a relying party (an IP address, no host).
    #[error("the public URL cannot be a passkey relying party: {0}")]
    BadPublicUrl(String),
    /// Nothing was started, it expired, or it was finished already.
    #[error(
        "no passkey ceremony is in flight for this session (it expired or was used): start again"
    )]
    NoCeremony,
    /// The browser's answer did not verify.
    #[error("the passkey's answer did not verify")]
    Refused,
    /// The answer was not the JSON of a WebAuthn credential.
    #[error("the passkey's answer is malformed: {0}")]
    Malformed(String),
    /// The tenant has no passkey to sign in with.
    #[error("this tenant has no passkey")]
    NoPasskey,
    /// That authenticator is enrolled already.
    #[error("that passkey is enrolled already")]
    AlreadyEnrolled,
    /// The name is empty or too long.
    #[error("a passkey's name must be 1 to {MAX_NAME} characters")]
    BadName,
    /// The catalogue failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The WebAuthn library or a stored value failed where it should not.
    #[error("passkeys: {0}")]
    Internal(String),
}

impl From<leakwatch_catalog::CatalogError> for PasskeyError {
    fn from(e: leakwatch_catalog::CatalogError) -> Self {
        PasskeyError::Service(e.into())
    }
}

/// The relying party this server is: built once from its public URL.
pub struct RelyingParty {
    webauthn: Webauthn,
    origin: String,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// The relying party of `public_url` (`https://leaks.example.org`, or
    /// `http://localhost:8080` while trying it out: browsers allow passkeys on plain HTTP
    /// only for `localhost`). Its host is the RP ID, so it must be a name, not an address.
    pub fn new(public_url: &str) -> Result<Self, PasskeyError> {
        let url = Url::parse(public_url.trim())
            .map_err(|e| PasskeyError::BadPublicUrl(format!("{public_url}: {e}")))?;
        let Some(url::Host::Domain(host)) = url.host() else {
            return Err(PasskeyError::BadPublicUrl(format!(
                "{public_url}: a passkey's relying party is a host name, not an IP address"
            )));
        };
        let host = host.to_owned();
        let origin = url.origin().ascii_serialization();
        let origin_url =
            Url::parse(&origin).map_err(|e| PasskeyError::BadPublicUrl(e.to_string()))?;
        let webauthn = WebauthnBuilder::new(&host, &origin_url)
            .and_then(|b| b.rp_name("leakwatch").build())
            .map_err(|e| PasskeyError::BadPublicUrl(format!("{public_url}: {e}")))?;
        Ok(RelyingParty { webauthn, origin })
    }

    /// The origin the browser's answers must name.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// An enrolled passkey as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// Its credential id, base64url (to remove it by).
    pub id: String,
    /// The name it was given.
    pub name: String,
    /// When it was enrolled (Unix seconds).
    pub created: i64,
    /// When it last signed in (Unix seconds).
    pub last_used: Option<i64>,
}

fn session_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The WebAuthn user handle of `tenant`: the same for all its passkeys, and derived, so no
/// table has to keep it. It names the tenant to the authenticator, which the tenant's
/// members know anyway.
fn user_handle(tenant: &str) -> Uuid {
    let d = Sha256::digest(format!("leakwatch passkey user\0{tenant}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    Uuid::from_bytes(b)
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn stored_credentials(
    catalog: &CatalogHandle,
    tenant: &str,
) -> Result<Vec<(StoredPasskey, Passkey)>, PasskeyError> {
    catalog
        .write(|c| c.passkeys(tenant))?
        .into_iter()
        .map(|p| {
            let key: Passkey = serde_json::from_str(&p.credential)
                .map_err(|e| PasskeyError::Internal(format!("a stored passkey: {e}")))?;
            Ok((p, key))
        })
        .collect()
}

/// The passkeys of `by`'s tenant, oldest first (a dashboard session's key, or the operator
/// acting for a tenant).
pub fn list(catalog: &Catalog, by: &Principal) -> Result<Vec<PasskeyInfo>, ServiceError> {
    Ok(catalog
        .passkeys(by.tenant()?)?
        .into_iter()
        .map(|p| PasskeyInfo {
            id: base64url(&p.credential_id),
            name: p.name,
            created: p.created,
            last_used: p.last_used,
        })
        .collect())
}

/// Begins signing in with a passkey: the challenge for the browser
/// (`navigator.credentials.get`), naming every passkey of the session's tenant.
pub fn start_sign_in(
    rp: &RelyingParty,
    catalog: &CatalogHandle,
    token: &str,
    session: &Session,
    now: i64,
) -> Result<RequestChallengeResponse, PasskeyError> {
    let tenant = session.by.tenant()?.to_owned();
    let keys: Vec<Passkey> = stored_credentials(catalog, &tenant)?
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    if keys.is_empty() {
        return Err(PasskeyError::NoPasskey);
    }
    let (challenge, state) = rp
        .webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| PasskeyError::Internal(format!("starting a passkey sign-in: {e}")))?;
    let state = serde_json::to_string(&state)
        .map_err(|e| PasskeyError::Internal(format!("a passkey ceremony: {e}")))?;
    catalog.write(|c| {
        c.begin_ceremony(
            &session_digest(token),
            CeremonyKind::Authenticate,
            &state,
            now + CEREMONY_SECS,
        )
    })?;
    Ok(challenge)
}

/// Finishes signing in: verifies the browser's answer (`answer`, the credential's JSON)
/// against the challenge started for this session, records the passkey's use (its
/// signature counter) and marks the session as having paid its second factor. Returns the
/// passkey's credential id (base64url), for the audit record.
pub fn finish_sign_in(
    rp: &RelyingParty,
    catalog: &CatalogHandle,
    token: &str,
    session: &Session,
    answer: &str,
    now: i64,
) -> Result<String, PasskeyError> {
    let credential: PublicKeyCredential =
        serde_json::from_str(answer).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
    let digest = session_digest(token);
    let state = catalog
        .write(|c| c.take_ceremony(&digest, CeremonyKind::Authenticate, now))?
        .ok_or(PasskeyError::NoCeremony)?;
    let state: PasskeyAuthentication = serde_json::from_str(&state)
        .map_err(|e| PasskeyError::Internal(format!("a passkey ceremony: {e}")))?;
    let result = rp
        .webauthn
        .finish_passkey_authentication(&credential, &state)
        .map_err(|e| {
            tracing::info!(error = %e, "a passkey sign-in did not verify");
            PasskeyError::Refused
        })?;
    // The credential that signed must be one of this tenant's (the challenge named only
    // those, and the library checked it; this is the row whose counter moves).
    let tenant = session.by.tenant()?.to_owned();
    let (stored, mut key) = stored_credentials(catalog, &tenant)?
        .into_iter()
        .find(|(p, _)| p.credential_id.as_slice() == AsRef::<[u8]>::as_ref(result.cred_id()))
        .ok_or(PasskeyError::Refused)?;
    key.update_credential(&result);
    let credential = serde_json::to_string(&key)
        .map_err(|e| PasskeyError::Internal(format!("a passkey: {e}")))?;
    catalog.write(|c| {
        c.passkey_used(&stored.credential_id, &credential, now)?;
        c.passkey_paid(&digest)
    })?;
    Ok(base64url(&stored.credential_id))
}

/// Begins enrolling a passkey for the session's tenant: the options for the browser
/// (`navigator.credentials.create`), excluding the tenant's passkeys already enrolled.
pub fn start_enrolment(
    rp: &RelyingParty,
    catalog: &CatalogHandle,
    token: &str,
    session: &Session,
    now: i64,
) -> Result<CreationChallengeResponse, PasskeyError> {
    let tenant = session.by.tenant()?.to_owned();
    let exclude = stored_credentials(catalog, &tenant)?
        .into_iter()
        .map(|(_, k)| k.cred_id().clone())
        .collect::<Vec<_>>();
    let (options, state) = rp
        .webauthn
        .start_passkey_registration(
            user_handle(&tenant),
            &tenant,
            &format!("{tenant} (leakwatch dashboard)"),
            Some(exclude),
        )
        .map_err(|e| PasskeyError::Internal(format!("starting a passkey enrolment: {e}")))?;
    let state = serde_json::to_string(&state)
        .map_err(|e| PasskeyError::Internal(format!("a passkey ceremony: {e}")))?;
    catalog.write(|c| {
        c.begin_ceremony(
            &session_digest(token),
            CeremonyKind::Register,
            &state,
            now + CEREMONY_SECS,
        )
    })?;
    Ok(options)
}

/// Finishes an enrolment: verifies the browser's new credential against the challenge
/// started for this session and keeps it under `name` for the session's tenant. Returns
/// its credential id (base64url), for the audit record.
pub fn finish_enrolment(
    rp: &RelyingParty,
    catalog: &CatalogHandle,
    token: &str,
    session: &Session,
    name: &str,
    answer: &str,
    now: i64,
) -> Result<String, PasskeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(PasskeyError::BadName);
    }
    let credential: RegisterPublicKeyCredential =
        serde_json::from_str(answer).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
    let state = catalog
        .write(|c| c.take_ceremony(&session_digest(token), CeremonyKind::Register, now))?
        .ok_or(PasskeyError::NoCeremony)?;
    let state: PasskeyRegistration = serde_json::from_str(&state)
        .map_err(|e| PasskeyError::Internal(format!("a passkey ceremony: {e}")))?;
    let key = rp
        .webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(|e| {
            tracing::info!(error = %e, "a passkey enrolment did not verify");
            PasskeyError::Refused
        })?;
    let stored = StoredPasskey {
        credential_id: AsRef::<[u8]>::as_ref(key.cred_id()).to_vec(),
        tenant: session.by.tenant()?.to_owned(),
        name: name.to_owned(),
        credential: serde_json::to_string(&key)
            .map_err(|e| PasskeyError::Internal(format!("a passkey: {e}")))?,
        created: now,
        created_by: session.key.id,
        last_used: None,
    };
    if !catalog.write(|c| c.add_passkey(&stored))? {
        return Err(PasskeyError::AlreadyEnrolled);
    }
    Ok(base64url(&stored.credential_id))
}

/// Removes passkeys of `by`'s tenant: the one of credential id `id` (base64url), or every
/// one with `None` (the operator's way back in for a tenant that lost them all); how many.
pub fn remove(
    catalog: &mut Catalog,
    by: &Principal,
    id: Option<&str>,
) -> Result<usize, ServiceError> {
    let tenant = by.tenant()?.to_owned();
    let mut removed = 0;
    for p in catalog.passkeys(&tenant)? {
        if id.is_none_or(|id| base64url(&p.credential_id) == id)
            && catalog.remove_passkey(&tenant, &p.credential_id)?
        {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_public_urls_host_and_never_an_address() {
        let rp = RelyingParty::new("http://localhost:8080/some/path").unwrap();
        assert_eq!(rp.origin(), "http://localhost:8080");
        let rp = RelyingParty::new("https://leaks.example.org").unwrap();
        assert_eq!(rp.origin(), "https://leaks.example.org");
        for bad in ["http://127.0.0.1:8080", "http://[::1]:80", "not a url"] {
            assert!(
                matches!(RelyingParty::new(bad), Err(PasskeyError::BadPublicUrl(_))),
                "{bad}"
            );
        }
    }
}
