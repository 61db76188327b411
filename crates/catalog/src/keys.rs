//! API keys for the HIBP-compatible API (`hibp-api-key` header).
//!
//! A key is 32 random hex digits from the operating system's CSPRNG, shown once when it is
//! created; only its SHA-256 is stored, with a 6-digit prefix to tell keys apart in listings.
//! Each key has a requests-per-minute allowance (enforced by the server), the scopes of what
//! it may do ([`Scopes`]), and may expire or be revoked. Nothing here rate-limits, checks a
//! scope or speaks HTTP.

use sha2::Digest;

use crate::sql::{Exec, Row, args};
use crate::{Catalog, CatalogError, Result, format_date_time, now_unix, parse_date, tenants};

pub use crate::limits::{BucketUse, SavedBucket};
pub use crate::scopes::{Quotas, Scope, Scopes};

/// A key as stored (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Row id.
    pub id: i64,
    /// What the operator called it (who it is for).
    pub name: String,
    /// First 6 hex digits of the key, for telling keys apart.
    pub prefix: String,
    /// Requests per minute allowed.
    pub rpm: u32,
    /// When it was created (`YYYY-MM-DDTHH:MM:SSZ`).
    pub created: String,
    /// Last valid day (`YYYY-MM-DD`), if it expires.
    pub expires: Option<String>,
    /// When it was revoked, if it was.
    pub revoked: Option<String>,
    /// What it may do.
    pub scopes: Scopes,
    /// Its scopes are `all` because it predates scopes (schema version 4): the operator
    /// should narrow them.
    pub scopes_migrated: bool,
    /// The tenant it acts for (see [`crate::tenants`]).
    pub tenant: String,
    /// The last day (`YYYY-MM-DD`, UTC) a request was served with it, if any was.
    pub last_used: Option<String>,
    /// Requests per UTC day it may make in each scope named (the others: no daily cap).
    pub quotas: Quotas,
    /// Why it is suspended (it read in bulk, issue #19), until `keys resume`; requests with
    /// it are refused saying so.
    pub suspended: Option<String>,
}

/// Adds version 4's scope columns to a version 1-3 catalogue's key table (every existing
/// key gets `all`, marked as migrated), inside the caller's transaction; a table that has
/// them already is left alone.
pub(crate) fn add_scope_columns(conn: &rusqlite::Connection) -> Result<()> {
    let has: bool = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('api_key') WHERE name = 'scopes'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has {
        conn.execute_batch(
            "ALTER TABLE api_key ADD COLUMN scopes TEXT NOT NULL DEFAULT 'all';
             ALTER TABLE api_key ADD COLUMN scopes_migrated INTEGER NOT NULL DEFAULT 1;",
        )?;
    }
    Ok(())
}

impl ApiKey {
    /// Whether a request with this key may be served at `now`.
    pub fn is_usable(&self, now: u64) -> bool {
        self.revoked.is_none()
            && self
                .expires
                .as_deref()
                .and_then(parse_date)
                .is_none_or(|last_day| (now / 86_400) as i64 <= last_day)
    }
}

/// The digest a key is stored and looked up by.
pub fn key_digest(key: &str) -> [u8; 32] {
    sha2::Sha256::digest(key.trim().as_bytes()).into()
}

impl Catalog {
    /// Creates a key in `tenant` and returns it with the secret, which is not stored and
    /// cannot be shown again. Without a tenant the key gets one of its own
    /// ([`tenants::own_tenant`]); a tenant named like that must exist already (a key's own
    /// tenant is joined, never made up).
    pub fn create_key(
        &mut self,
        name: &str,
        rpm: u32,
        expires: Option<&str>,
        scopes: &Scopes,
        tenant: Option<&str>,
        quotas: &Quotas,
    ) -> Result<(ApiKey, String)> {
        if matches!(scopes, Scopes::Only(set) if set.is_empty()) {
            return Err(CatalogError::Invalid(
                "a key needs at least one scope".into(),
            ));
        }
        if name.trim().is_empty() {
            return Err(CatalogError::Invalid("a key needs a name".into()));
        }
        if rpm == 0 {
            return Err(CatalogError::Invalid("rpm must be at least 1".into()));
        }
        if let Some(e) = expires {
            parse_date(e)
                .ok_or_else(|| CatalogError::Invalid(format!("expiry {e:?} is not YYYY-MM-DD")))?;
        }
        let tenant = tenant.map(tenants::validate).transpose()?;
        if let Some(t) = tenant
            && t.starts_with(tenants::OWN_TENANT_PREFIX)
            && !self.tenant_exists(t)?
        {
            return Err(CatalogError::Invalid(format!(
                "there is no tenant {t:?}, and names starting with {:?} are kept for the \
                 tenant a key gets of its own",
                tenants::OWN_TENANT_PREFIX
            )));
        }
        let (id, secret) = self
            .conn
            .transaction(|tx| insert_key(tx, name, rpm, expires, scopes, tenant, quotas))?;
        let key = self
            .key_by_id(id)?
            .ok_or_else(|| CatalogError::NotFound(id.to_string()))?;
        Ok((key, secret))
    }

    /// Issues a successor of key `id` (the same name, rpm, expiry, scopes and tenant) and
    /// makes `id` end on `last_day` at the latest, in one transaction: a crash leaves either
    /// both or neither. Returns the old key as it is now, the successor and its secret.
    pub fn rotate_key(&mut self, id: i64, last_day: &str) -> Result<(ApiKey, ApiKey, String)> {
        parse_date(last_day)
            .ok_or_else(|| CatalogError::Invalid(format!("{last_day:?} is not YYYY-MM-DD")))?;
        let old = self
            .key_by_id(id)?
            .ok_or_else(|| CatalogError::NotFound(id.to_string()))?;
        let (new_id, secret) = self.conn.transaction(|tx| {
            let new = insert_key(
                tx,
                &old.name,
                old.rpm,
                old.expires.as_deref(),
                &old.scopes,
                Some(&old.tenant),
                &old.quotas,
            )?;
            tx.execute(
                "UPDATE api_key SET expires = ?1 WHERE id = ?2 AND (expires IS NULL OR expires > ?1)",
                args![last_day, id],
            )?;
            Ok(new)
        })?;
        let get = |id: i64| {
            self.key_by_id(id)?
                .ok_or_else(|| CatalogError::NotFound(id.to_string()))
        };
        Ok((get(id)?, get(new_id)?, secret))
    }

    /// Records that key `id` was used on `day` (`YYYY-MM-DD`); an earlier day never
    /// replaces a later one.
    pub fn touch_key(&mut self, id: i64, day: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE api_key SET last_used = ?1 WHERE id = ?2 AND (last_used IS NULL OR last_used < ?1)",
            args![day, id],
        )?;
        Ok(())
    }

    /// The key with row id `id`, revoked and expired ones included.
    pub fn key_by_id(&self, id: i64) -> Result<Option<ApiKey>> {
        self.conn
            .query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM api_key WHERE id = ?1"),
                args![id],
            )?
            .as_ref()
            .map(key_row)
            .transpose()
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> Result<Vec<ApiKey>> {
        self.conn
            .query(
                &format!("SELECT {KEY_COLUMNS} FROM api_key ORDER BY id"),
                args![],
            )?
            .iter()
            .map(key_row)
            .collect()
    }

    /// Every key with the digest requests are matched against.
    pub fn keys_by_digest(&self) -> Result<Vec<([u8; 32], ApiKey)>> {
        let rows = self.conn.query(
            &format!("SELECT {KEY_COLUMNS}, key_sha256 FROM api_key"),
            args![],
        )?;
        rows.iter()
            .map(|r| {
                // After the key's columns.
                let d: Vec<u8> = r.get(13)?;
                let k = key_row(r)?;
                let digest: [u8; 32] = d.try_into().map_err(|_| CatalogError::Corrupt {
                    name: format!("api key {}", k.id),
                    reason: "digest is not 32 bytes".into(),
                })?;
                Ok((digest, k))
            })
            .collect()
    }

    /// Makes key `id` end on `last_day` (`YYYY-MM-DD`) at the latest: a key that ends
    /// earlier already keeps its day.
    pub fn expire_key_by(&mut self, id: i64, last_day: &str) -> Result<ApiKey> {
        parse_date(last_day)
            .ok_or_else(|| CatalogError::Invalid(format!("{last_day:?} is not YYYY-MM-DD")))?;
        self.conn.execute(
            "UPDATE api_key SET expires = ?1 WHERE id = ?2 AND (expires IS NULL OR expires > ?1)",
            args![last_day, id],
        )?;
        self.key_by_id(id)?
            .ok_or_else(|| CatalogError::NotFound(id.to_string()))
    }

    /// The key with this id, or the one key with this prefix (any case): a prefix that two
    /// keys share is refused, never guessed.
    pub fn find_key(&self, id_or_prefix: &str) -> Result<ApiKey> {
        let matching: Vec<ApiKey> = self
            .keys()?
            .into_iter()
            .filter(|k| {
                k.id.to_string() == id_or_prefix || k.prefix == id_or_prefix.to_ascii_lowercase()
            })
            .collect();
        let [key] = matching.as_slice() else {
            return Err(if matching.is_empty() {
                CatalogError::NotFound(id_or_prefix.to_owned())
            } else {
                CatalogError::Invalid(format!(
                    "{id_or_prefix:?} matches {} keys: give the id",
                    matching.len()
                ))
            });
        };
        Ok(key.clone())
    }

    /// Revokes a key by id or by its prefix (which must match exactly one key).
    /// Its dashboard sessions end with it.
    pub fn revoke_key(&mut self, id_or_prefix: &str) -> Result<ApiKey> {
        let key = self.find_key(id_or_prefix)?;
        self.conn.transaction(|tx| {
            tx.execute(
                "UPDATE api_key SET revoked = ?1 WHERE id = ?2 AND revoked IS NULL",
                args![format_date_time(now_unix()), key.id],
            )?;
            crate::sessions::end_sessions(tx, "key_id = ?1", args![key.id])
        })?;
        self.key_by_id(key.id)?
            .ok_or_else(|| CatalogError::NotFound(id_or_prefix.to_owned()))
    }
}

impl Catalog {
    /// Whether a key (revoked and expired ones included) names `tenant`, or it is the
    /// operator's [`tenants::DEFAULT_TENANT`].
    pub fn tenant_exists(&self, tenant: &str) -> Result<bool> {
        Ok(tenant == tenants::DEFAULT_TENANT
            || self
                .conn
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM api_key WHERE tenant = ?1)",
                    args![tenant],
                )?
                .get(0)?)
    }

    /// Every key of `tenant`, oldest first.
    pub fn tenant_keys(&self, tenant: &str) -> Result<Vec<ApiKey>> {
        self.conn
            .query(
                &format!("SELECT {KEY_COLUMNS} FROM api_key WHERE tenant = ?1 ORDER BY id"),
                args![tenant],
            )?
            .iter()
            .map(key_row)
            .collect()
    }

    /// Revokes every key of `tenant` that is not revoked yet; returns them as they are now.
    /// The tenant ends: none of its keys is usable, so its domains hear nothing more.
    pub fn revoke_tenant(&mut self, tenant: &str) -> Result<Vec<ApiKey>> {
        let ids: Vec<i64> = self.conn.transaction(|tx| {
            let ids = tx.column(
                "SELECT id FROM api_key WHERE tenant = ?1 AND revoked IS NULL ORDER BY id",
                args![tenant],
            )?;
            tx.execute(
                "UPDATE api_key SET revoked = ?1 WHERE tenant = ?2 AND revoked IS NULL",
                args![format_date_time(now_unix()), tenant],
            )?;
            crate::sessions::end_sessions(
                tx,
                "key_id IN (SELECT id FROM api_key WHERE tenant = ?1)",
                args![tenant],
            )?;
            Ok(ids)
        })?;
        ids.into_iter()
            .map(|id| {
                self.key_by_id(id)?
                    .ok_or_else(|| CatalogError::NotFound(id.to_string()))
            })
            .collect()
    }
}

/// Inserts a new key (random secret from the OS's CSPRNG, stored only as its digest) in
/// `tenant`, or in one of its own; returns its id and secret.
fn insert_key(
    tx: &impl Exec,
    name: &str,
    rpm: u32,
    expires: Option<&str>,
    scopes: &Scopes,
    tenant: Option<&str>,
    quotas: &Quotas,
) -> Result<(i64, String)> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw)
        .map_err(|e| CatalogError::Invalid(format!("no randomness available: {e}")))?;
    let secret: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let created = format_date_time(now_unix());
    let id: i64 = tx
        .query_one(
        "INSERT INTO api_key (name, prefix, key_sha256, rpm, created, expires, scopes, \
         scopes_migrated, tenant, quotas) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9) RETURNING id",
        args![
            name.trim(),
            &secret[..6],
            key_digest(&secret).to_vec(),
            rpm,
            created,
            expires,
            scopes.to_string(),
            tenant.unwrap_or(""),
            quotas.to_string()
        ],
    )?
        .get(0)?;
    if tenant.is_none() {
        tx.execute(
            "UPDATE api_key SET tenant = ?1 WHERE id = ?2",
            args![tenants::own_tenant(id), id],
        )?;
    }
    Ok((id, secret))
}

const KEY_COLUMNS: &str = "id, name, prefix, rpm, created, expires, revoked, scopes, \
     scopes_migrated, tenant, last_used, quotas, suspended";

fn key_row(r: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: r.get(0)?,
        name: r.get(1)?,
        prefix: r.get(2)?,
        rpm: r.get(3)?,
        created: r.get(4)?,
        expires: r.get(5)?,
        revoked: r.get(6)?,
        scopes: Scopes::from_stored(&r.get::<String>(7)?),
        scopes_migrated: r.get(8)?,
        tenant: r.get(9)?,
        last_used: r.get(10)?,
        // Written by this code from a parsed value; a scope a later version added is left out.
        quotas: Quotas(
            r.get::<String>(11)?
                .split(',')
                .filter_map(|item| {
                    let (name, n) = item.split_once('=')?;
                    Some((Scope::from_name(name)?, n.parse().ok()?))
                })
                .collect(),
        ),
        suspended: r.get(12)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_hashed_and_can_be_revoked() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("catalog.db");
        let mut c = Catalog::open(&path).unwrap();
        let (k1, secret1) = c
            .create_key("alice", 10, None, &Scopes::All, None, &Quotas::none())
            .unwrap();
        let (_, secret2) = c
            .create_key(
                "bob",
                100,
                Some("2030-01-31"),
                &Scopes::All,
                None,
                &Quotas::none(),
            )
            .unwrap();
        assert_eq!(secret1.len(), 32);
        assert_ne!(secret1, secret2);
        assert_eq!(k1.prefix, &secret1[..6]);
        let by_digest = c.keys_by_digest().unwrap();
        assert_eq!(by_digest[0].0, key_digest(&secret1));
        drop(c);
        let file = std::fs::read(&path).unwrap();
        let wal = std::fs::read(tmp.path().join("catalog.db-wal")).unwrap_or_default();
        for secret in [&secret1, &secret2] {
            assert!(
                !file
                    .windows(32)
                    .chain(wal.windows(32))
                    .any(|w| w == secret.as_bytes()),
                "secret stored in clear"
            );
        }
        let mut c = Catalog::open(&path).unwrap();
        assert!(c.keys().unwrap().iter().all(|k| k.is_usable(now_unix())));
        let revoked = c.revoke_key(&k1.prefix).unwrap();
        assert!(revoked.revoked.is_some() && !revoked.is_usable(now_unix()));
        assert!(matches!(
            c.revoke_key("nope"),
            Err(CatalogError::NotFound(_))
        ));
        assert!(
            c.create_key("", 1, None, &Scopes::All, None, &Quotas::none())
                .is_err()
                && c.create_key("x", 0, None, &Scopes::All, None, &Quotas::none())
                    .is_err()
        );
        assert!(
            c.create_key(
                "x",
                1,
                Some("2030-02-30"),
                &Scopes::All,
                None,
                &Quotas::none()
            )
            .is_err()
        );
    }

    #[test]
    fn keys_keep_their_scopes_and_keys_from_before_scopes_migrate_to_all() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("catalog.db");
        let mut c = Catalog::open(&path).unwrap();
        let narrow = Scopes::parse("account,vendors").unwrap();
        let (k, _) = c
            .create_key("soc", 10, None, &narrow, None, &Quotas::none())
            .unwrap();
        assert_eq!(
            (k.scopes.clone(), k.scopes_migrated),
            (narrow.clone(), false)
        );
        assert!(
            c.create_key(
                "none",
                10,
                None,
                &Scopes::Only(std::collections::BTreeSet::new()),
                None,
                &Quotas::none()
            )
            .is_err()
        );
        // A version 3 key table: no scope columns.
        c.raw()
            .execute_batch(
                "INSERT INTO api_key (name, prefix, key_sha256, rpm, created, scopes) \
                 VALUES ('old', 'abcdef', x'00', 5, '2026-01-01T00:00:00Z', 'x');
                 CREATE TABLE api_key_v3 AS SELECT id, name, prefix, key_sha256, rpm, created, \
                 expires, revoked FROM api_key;
                 DROP TABLE api_key; ALTER TABLE api_key_v3 RENAME TO api_key;
                 PRAGMA user_version = 3;",
            )
            .unwrap();
        drop(c);
        assert!(matches!(
            Catalog::open(&path),
            Err(CatalogError::NeedsMigration { found: 3, .. })
        ));
        assert_eq!(Catalog::migrate(&path).unwrap(), Some(3));
        let c = Catalog::open(&path).unwrap();
        let keys = c.keys().unwrap();
        assert_eq!(keys.len(), 2);
        assert!(
            keys.iter()
                .all(|k| k.scopes == Scopes::All && k.scopes_migrated),
            "{keys:?}"
        );
    }

    /// Regression: the service's key lookup took the first key whose prefix matched, so with
    /// two keys sharing a 6-digit prefix `keys rotate` or `domain verify --key` could act on
    /// the wrong one (`keys revoke` already refused). One lookup now serves all of them.
    #[test]
    fn a_prefix_that_names_two_keys_is_refused_not_guessed() {
        let mut c = Catalog::open_in_memory().unwrap();
        let (a, _) = c
            .create_key("a", 10, None, &Scopes::All, None, &Quotas::none())
            .unwrap();
        let (b, _) = c
            .create_key("b", 10, None, &Scopes::All, None, &Quotas::none())
            .unwrap();
        assert_eq!(c.find_key(&a.prefix.to_uppercase()).unwrap().id, a.id);
        assert_eq!(c.find_key(&b.id.to_string()).unwrap().id, b.id);
        assert!(matches!(
            c.find_key("abcdeg"),
            Err(CatalogError::NotFound(_))
        ));
        // Give b the prefix of a, as a 1-in-16-million draw would.
        c.raw()
            .execute(
                "UPDATE api_key SET prefix = ?1 WHERE id = ?2",
                rusqlite::params![a.prefix, b.id],
            )
            .unwrap();
        assert!(
            matches!(c.find_key(&a.prefix), Err(CatalogError::Invalid(_))),
            "an ambiguous prefix was guessed"
        );
        assert!(c.revoke_key(&a.prefix).is_err());
        assert_eq!(
            c.find_key(&a.id.to_string()).unwrap().id,
            a.id,
            "the id still works"
        );
    }

    #[test]
    fn a_rotation_issues_a_successor_in_the_tenant_and_ends_the_old_key_together() {
        let mut c = Catalog::open_in_memory().unwrap();
        let narrow = Scopes::parse("domain").unwrap();
        let (old, _) = c
            .create_key(
                "soc",
                7,
                Some("2031-01-01"),
                &narrow,
                Some("acme"),
                &Quotas::none(),
            )
            .unwrap();
        let (ended, new, secret) = c.rotate_key(old.id, "2030-06-30").unwrap();
        assert_eq!(ended.expires.as_deref(), Some("2030-06-30"));
        assert_eq!(
            (&new.name, new.rpm, &new.expires, &new.scopes, &new.tenant),
            (&old.name, old.rpm, &old.expires, &old.scopes, &old.tenant)
        );
        assert_eq!(new.prefix, &secret[..6]);
        // A key that ends sooner keeps its day; a bad day or key changes nothing.
        let (ended, _, _) = c.rotate_key(old.id, "2030-12-31").unwrap();
        assert_eq!(ended.expires.as_deref(), Some("2030-06-30"));
        let before = c.keys().unwrap().len();
        assert!(c.rotate_key(old.id, "2030-13-01").is_err());
        assert!(c.rotate_key(999, "2030-01-01").is_err());
        assert_eq!(c.keys().unwrap().len(), before);
    }

    #[test]
    fn the_last_used_day_only_moves_forward() {
        let mut c = Catalog::open_in_memory().unwrap();
        let (k, _) = c
            .create_key("a", 1, None, &Scopes::All, None, &Quotas::none())
            .unwrap();
        assert_eq!(k.last_used, None);
        c.touch_key(k.id, "2030-01-02").unwrap();
        c.touch_key(k.id, "2030-01-01").unwrap();
        assert_eq!(
            c.key_by_id(k.id).unwrap().unwrap().last_used.as_deref(),
            Some("2030-01-02")
        );
    }

    #[test]
    fn expiry_is_inclusive_of_the_last_day() {
        let key = ApiKey {
            id: 1,
            name: "x".into(),
            prefix: "abcdef".into(),
            rpm: 1,
            created: String::new(),
            expires: Some("2030-01-31".into()),
            revoked: None,
            scopes: Scopes::All,
            scopes_migrated: false,
            tenant: "t".into(),
            last_used: None,
            quotas: Quotas::none(),
            suspended: None,
        };
        let day = parse_date("2030-01-31").unwrap() as u64 * 86_400;
        assert!(key.is_usable(day + 86_399));
        assert!(!key.is_usable(day + 86_400));
    }
}
