//! API keys for the HIBP-compatible API (`hibp-api-key` header).
//!
//! A key is 32 random hex digits from the operating system's CSPRNG, shown once when it is
//! created; only its SHA-256 is stored, with a 6-digit prefix to tell keys apart in listings.
//! Each key has a requests-per-minute allowance (enforced by the server) and may expire or be
//! revoked. Nothing here rate-limits or speaks HTTP.

use rusqlite::{OptionalExtension, params};
use sha2::Digest;

use crate::{Catalog, CatalogError, Result, format_date_time, now_unix, parse_date};

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
    /// Creates a key and returns it with the secret, which is not stored and cannot be shown
    /// again.
    pub fn create_key(
        &mut self,
        name: &str,
        rpm: u32,
        expires: Option<&str>,
    ) -> Result<(ApiKey, String)> {
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
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw)
            .map_err(|e| CatalogError::Invalid(format!("no randomness available: {e}")))?;
        let secret: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let created = format_date_time(now_unix());
        self.conn.execute(
            "INSERT INTO api_key (name, prefix, key_sha256, rpm, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![name.trim(), &secret[..6], key_digest(&secret).to_vec(), rpm, created, expires],
        )?;
        let id = self.conn.last_insert_rowid();
        let key = self
            .key_by_id(id)?
            .ok_or_else(|| CatalogError::NotFound(id.to_string()))?;
        Ok((key, secret))
    }

    fn key_by_id(&self, id: i64) -> Result<Option<ApiKey>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {KEY_COLUMNS} FROM api_key WHERE id = ?1"),
                params![id],
                key_row,
            )
            .optional()?)
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> Result<Vec<ApiKey>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {KEY_COLUMNS} FROM api_key ORDER BY id"))?;
        let rows = stmt
            .query_map([], key_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Every key with the digest requests are matched against.
    pub fn keys_by_digest(&self) -> Result<Vec<([u8; 32], ApiKey)>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {KEY_COLUMNS}, key_sha256 FROM api_key"))?;
        let rows = stmt
            .query_map([], |r| {
                let digest: Vec<u8> = r.get(7)?;
                Ok((digest, key_row(r)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(d, k)| {
                let digest: [u8; 32] = d.try_into().map_err(|_| CatalogError::Corrupt {
                    name: format!("api key {}", k.id),
                    reason: "digest is not 32 bytes".into(),
                })?;
                Ok((digest, k))
            })
            .collect()
    }

    /// Revokes a key by id or by its prefix (which must match exactly one key).
    pub fn revoke_key(&mut self, id_or_prefix: &str) -> Result<ApiKey> {
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
        self.conn.execute(
            "UPDATE api_key SET revoked = ?1 WHERE id = ?2 AND revoked IS NULL",
            params![format_date_time(now_unix()), key.id],
        )?;
        self.key_by_id(key.id)?
            .ok_or_else(|| CatalogError::NotFound(id_or_prefix.to_owned()))
    }
}

const KEY_COLUMNS: &str = "id, name, prefix, rpm, created, expires, revoked";

fn key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: r.get(0)?,
        name: r.get(1)?,
        prefix: r.get(2)?,
        rpm: r.get(3)?,
        created: r.get(4)?,
        expires: r.get(5)?,
        revoked: r.get(6)?,
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
        let (k1, secret1) = c.create_key("alice", 10, None).unwrap();
        let (_, secret2) = c.create_key("bob", 100, Some("2030-01-31")).unwrap();
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
        assert!(c.create_key("", 1, None).is_err() && c.create_key("x", 0, None).is_err());
        assert!(c.create_key("x", 1, Some("2030-02-30")).is_err());
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
        };
        let day = parse_date("2030-01-31").unwrap() as u64 * 86_400;
        assert!(key.is_usable(day + 86_399));
        assert!(!key.is_usable(day + 86_400));
    }
}
