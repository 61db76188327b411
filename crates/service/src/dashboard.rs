//! Dashboard sessions (issue #23): an API key holding the `dashboard` scope is exchanged
//! once for a session token, which then travels only in an `HttpOnly`, `SameSite=Strict`
//! cookie. The catalogue keeps the token's SHA-256 digest, never the token.
//!
//! A session is never worth more than its key: every use looks the key up again and ends
//! the session if the key was revoked, expired, suspended or lost the `dashboard` scope
//! (the catalogue also deletes a key's sessions when it is revoked). The principal a session
//! acts as is its key's, so each dashboard page checks the scope of what it shows as the API
//! does. A session of a tenant that has enrolled a passkey owes one (see [`crate::passkeys`])
//! and shows nothing until it is paid. Each session has a CSRF token, derived from the session token (so it is never
//! stored and dies with the session): every form that changes something carries it.

use leakwatch_catalog::{
    keys::{ApiKey, Scope},
    sessions::StoredSession,
};
use sha2::{Digest, Sha256};

use crate::{Catalog, CatalogHandle, Principal, ServiceError};

/// How long a session lasts: short, so a forgotten browser does not stay signed in.
pub const SESSION_SECS: u64 = 30 * 60;

/// A session just made: its token (for the cookie, shown nowhere else) and when it ends.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// 32 random bytes, hex.
    pub token: String,
    /// Unix seconds.
    pub expires: u64,
    /// The key it stands for.
    pub key: ApiKey,
    /// Whether it owes a passkey before it shows anything (its tenant has enrolled one).
    pub owes_passkey: bool,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("expires", &self.expires)
            .field("key", &self.key.id)
            .field("owes_passkey", &self.owes_passkey)
            .finish_non_exhaustive()
    }
}

/// A live session, as a request presents it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The key it stands for, as the catalogue holds it now.
    pub key: ApiKey,
    /// The principal the dashboard acts as: the key's.
    pub by: Principal,
    /// The CSRF token of its forms.
    pub csrf: String,
    /// Unix seconds.
    pub expires: u64,
    /// Whether it still owes a passkey: such a session may only finish signing in (or sign
    /// out) and shows nothing else.
    pub owes_passkey: bool,
}

/// Why a key cannot sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignInRefused {
    /// No such key, or revoked, expired or suspended.
    #[error("that key is not a valid API key")]
    InvalidKey,
    /// A valid key without the `dashboard` scope.
    #[error("that key does not hold the dashboard scope")]
    NoDashboardScope,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn usable_for_dashboard(key: &ApiKey, now: u64) -> Result<(), SignInRefused> {
    if !key.is_usable(now) || key.suspended.is_some() {
        return Err(SignInRefused::InvalidKey);
    }
    if !key.scopes.allows(Scope::Dashboard) {
        return Err(SignInRefused::NoDashboardScope);
    }
    Ok(())
}

/// Exchanges the API key `presented` for a new session. `Ok(Err(_))` says why the key may
/// not sign in; `Err` is a catalogue failure.
pub fn sign_in(
    catalog: &CatalogHandle,
    presented: &str,
    now: u64,
) -> Result<Result<NewSession, SignInRefused>, ServiceError> {
    let presented = presented.trim();
    let Some(key) = (!presented.is_empty())
        .then(|| catalog.key(presented))
        .flatten()
    else {
        return Ok(Err(SignInRefused::InvalidKey));
    };
    if let Err(why) = usable_for_dashboard(&key, now) {
        return Ok(Err(why));
    }
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| ServiceError::Random(e.to_string()))?;
    let token = crate::auditlog::hex(&raw);
    let expires = now + SESSION_SECS;
    // Whether the tenant has a passkey is read in the same hold as the session is made: a
    // passkey enrolled a moment before is owed.
    let owes_passkey = catalog.write(|c: &mut Catalog| {
        let owes_passkey = !c.passkeys(&key.tenant)?.is_empty();
        c.create_session(
            &digest(&token),
            StoredSession {
                key_id: key.id,
                created: now as i64,
                expires: expires as i64,
                owes_passkey,
            },
        )?;
        Ok::<_, leakwatch_catalog::CatalogError>(owes_passkey)
    })?;
    Ok(Ok(NewSession {
        token,
        expires,
        key,
        owes_passkey,
    }))
}

/// The live session of `token`, if there is one: not expired, and its key still usable and
/// holding the `dashboard` scope (a session whose key lost either is ended here).
pub fn session(
    catalog: &CatalogHandle,
    token: &str,
    now: u64,
) -> Result<Option<Session>, ServiceError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let d = digest(token);
    // One hold of the catalogue: the session, its key, and the end of a dead session.
    let found = catalog.write(|c| -> Result<_, leakwatch_catalog::CatalogError> {
        let Some(stored) = c.session(&d)? else {
            return Ok(None);
        };
        let key = c
            .key_by_id(stored.key_id)?
            .filter(|k| stored.expires > now as i64 && usable_for_dashboard(k, now).is_ok());
        if key.is_none() {
            c.delete_session(&d)?;
        }
        Ok(key.map(|k| (stored, k)))
    })?;
    let Some((stored, key)) = found else {
        return Ok(None);
    };
    Ok(Some(Session {
        by: Principal::api_key(&key),
        csrf: csrf_token(token),
        expires: stored.expires as u64,
        owes_passkey: stored.owes_passkey,
        key,
    }))
}

/// Ends the session of `token`; whether there was one.
pub fn sign_out(catalog: &CatalogHandle, token: &str) -> Result<bool, ServiceError> {
    Ok(catalog.write(|c| c.delete_session(&digest(token)))?)
}

/// The CSRF token of the session of `token`: a digest of it under its own label, so it is
/// unguessable without the (HttpOnly) session token, never stored, and ends with it.
pub fn csrf_token(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"leakwatch dashboard csrf\0");
    h.update(token.as_bytes());
    crate::auditlog::hex(&h.finalize())
}

/// Whether `presented` is the CSRF token of `session` (compared in constant time).
pub fn csrf_matches(session: &Session, presented: &str) -> bool {
    let (a, b) = (session.csrf.as_bytes(), presented.trim().as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The keys of the session's tenant with their state at `now`, oldest first: what the
/// Activity page shows (each key's last use among them).
pub fn tenant_keys(
    catalog: &CatalogHandle,
    session: &Session,
    now: u64,
) -> Result<Vec<(ApiKey, crate::keys::KeyState)>, ServiceError> {
    let tenant = session.by.tenant()?.to_owned();
    Ok(catalog
        .write(|c| c.tenant_keys(&tenant))?
        .into_iter()
        .map(|k| {
            let state = crate::keys::KeyState::of(&k, now);
            (k, state)
        })
        .collect())
}
