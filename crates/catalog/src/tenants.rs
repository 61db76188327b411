//! Tenants: the organisations that share one server without seeing each other. Every API
//! key belongs to one tenant; vendors, domain registrations (with their webhooks) and
//! impact reports belong to the tenant, not to the key that made them, so a second key of
//! the tenant, or a key's successor, keeps them. A tenant is a name: it exists while a key
//! names it, except [`DEFAULT_TENANT`], the operator's own, which always exists (schema
//! version 5 put every key, vendor and domain of an older catalogue there). Nothing here
//! decides who may act for a tenant: the service layer does, from the principal.

use rusqlite::params;

use crate::{CatalogError, Result};

/// The operator's tenant: where the CLI acts without `--tenant`, and where an older
/// catalogue's keys, vendors and domains went when it was migrated.
pub const DEFAULT_TENANT: &str = "default";

/// The prefix of a tenant a key gets of its own (`key-<id>`); nobody may name a new tenant
/// so.
pub const OWN_TENANT_PREFIX: &str = "key-";

/// Checks a tenant name: 1 to 64 lower-case letters, digits, `-`, `_` or `.`, starting with
/// a letter or digit. Returns it trimmed.
pub fn validate(name: &str) -> Result<&str> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(name)
    } else {
        Err(CatalogError::Invalid(format!(
            "tenant {name:?} must be 1 to 64 lower-case letters, digits, '-', '_' or '.'"
        )))
    }
}

/// The tenant a key with row id `id` gets when none is given: one of its own.
pub fn own_tenant(id: i64) -> String {
    format!("{OWN_TENANT_PREFIX}{id}")
}

/// Adds version 5's tenant columns (and `api_key.last_used`), inside the caller's
/// transaction: every key of an older
/// catalogue, every domain registration (a subscriber row with a key) and every vendor go
/// into [`DEFAULT_TENANT`]; vendors become unique per tenant and their owners count as
/// confirmed (the operator set them up, before owners had to be confirmed). A table that
/// has the columns already is left alone.
pub(crate) fn add_tenant_columns(conn: &rusqlite::Connection) -> Result<()> {
    let has = |table: &str, column: &str| -> Result<bool> {
        Ok(conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
            params![table, column],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?)
    };
    if !has("api_key", "tenant")? {
        conn.execute_batch(&format!(
            "ALTER TABLE api_key ADD COLUMN tenant TEXT NOT NULL DEFAULT '{DEFAULT_TENANT}';"
        ))?;
    }
    // Also version 5: the last day each key was used (unknown for older keys), its daily
    // quotas per scope (none for older keys), and the limiter's state across restarts.
    if !has("api_key", "last_used")? {
        conn.execute_batch("ALTER TABLE api_key ADD COLUMN last_used TEXT;")?;
    }
    if !has("api_key", "quotas")? {
        conn.execute_batch("ALTER TABLE api_key ADD COLUMN quotas TEXT NOT NULL DEFAULT '';")?;
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS key_bucket (
            key_id INTEGER PRIMARY KEY,
            tokens REAL NOT NULL,
            at_ms INTEGER NOT NULL
         );
         CREATE TABLE IF NOT EXISTS key_usage (
            key_id INTEGER NOT NULL,
            scope TEXT NOT NULL,
            day INTEGER NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (key_id, scope, day)
         );",
    )?;
    conn.execute_batch("CREATE INDEX IF NOT EXISTS api_key_tenant ON api_key(tenant);")?;
    if !has("subscriber", "tenant")? {
        conn.execute_batch(&format!(
            "ALTER TABLE subscriber ADD COLUMN tenant TEXT;
             UPDATE subscriber SET tenant = '{DEFAULT_TENANT}' WHERE key_id IS NOT NULL;"
        ))?;
    }
    if !has("vendor", "tenant")? {
        conn.execute_batch(&format!(
            "CREATE TABLE vendor_v5 (
                id INTEGER PRIMARY KEY,
                tenant TEXT NOT NULL,
                name TEXT NOT NULL COLLATE NOCASE,
                domains TEXT NOT NULL,
                data_classes TEXT NOT NULL,
                criticality INTEGER NOT NULL,
                owner TEXT NOT NULL,
                owner_confirmed INTEGER NOT NULL DEFAULT 0,
                notes TEXT NOT NULL,
                UNIQUE (tenant, name)
             );
             INSERT INTO vendor_v5 (id, tenant, name, domains, data_classes, criticality, owner,
                owner_confirmed, notes)
                SELECT id, '{DEFAULT_TENANT}', name, domains, data_classes, criticality, owner, 1,
                notes FROM vendor;
             DROP TABLE vendor;
             ALTER TABLE vendor_v5 RENAME TO vendor;"
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Catalog,
        keys::{Quotas, Scopes},
        vendors::Vendor,
    };

    fn vendor(name: &str, owner: &str) -> Vendor {
        Vendor {
            name: name.into(),
            domains: vec!["trackly.example".into()],
            data_classes: vec!["Names".into()],
            criticality: 3,
            owner: owner.into(),
            notes: String::new(),
        }
    }

    #[test]
    fn tenant_names_are_checked_and_own_tenants_are_not_made_up() {
        for good in ["acme", "a", "acme-eu_2.x", &"x".repeat(64)] {
            assert_eq!(validate(good).unwrap(), good);
        }
        for bad in ["", "Acme", "-acme", "a b", "acme/eu", &"x".repeat(65)] {
            assert!(validate(bad).is_err(), "{bad:?} accepted");
        }
        let mut c = Catalog::open_in_memory().unwrap();
        let (own, _) = c
            .create_key("solo", 1, None, &Scopes::All, None, &Quotas::none())
            .unwrap();
        assert_eq!(own.tenant, own_tenant(own.id));
        // Joining a key's own tenant works; inventing one under that prefix does not.
        let (joined, _) = c
            .create_key(
                "second",
                1,
                None,
                &Scopes::All,
                Some(&own.tenant),
                &Quotas::none(),
            )
            .unwrap();
        assert_eq!(joined.tenant, own.tenant);
        assert!(
            c.create_key("x", 1, None, &Scopes::All, Some("key-999"), &Quotas::none())
                .is_err()
        );
        assert!(c.tenant_exists(DEFAULT_TENANT).unwrap());
        assert!(!c.tenant_exists("acme").unwrap());
        c.create_key("a", 1, None, &Scopes::All, Some("acme"), &Quotas::none())
            .unwrap();
        assert!(c.tenant_exists("acme").unwrap());
        let ended = c.revoke_tenant(&own.tenant).unwrap();
        assert_eq!(ended.len(), 2);
        assert!(ended.iter().all(|k| k.revoked.is_some()));
        assert!(c.tenant_keys("acme").unwrap()[0].revoked.is_none());
    }

    #[test]
    fn vendor_names_are_unique_per_tenant_and_a_changed_owner_needs_confirming_again() {
        let mut c = Catalog::open_in_memory().unwrap();
        c.put_vendor("a", vendor("Trackly", "cto@a.example"), true)
            .unwrap();
        c.put_vendor("b", vendor("trackly", "x@b.example"), false)
            .unwrap();
        assert_eq!(c.vendors("a").unwrap()[0].owner, "cto@a.example");
        assert_eq!(c.vendors("b").unwrap()[0].owner, "x@b.example");
        assert_eq!(c.all_vendors().unwrap().len(), 2);
        // The same owner keeps its confirmation; a new owner starts unconfirmed.
        c.put_vendor("a", vendor("Trackly", "cto@a.example"), false)
            .unwrap();
        assert!(c.tenant_vendors("a").unwrap()[0].owner_confirmed);
        c.put_vendor("a", vendor("Trackly", "new@a.example"), false)
            .unwrap();
        assert!(!c.tenant_vendors("a").unwrap()[0].owner_confirmed);
        assert!(
            !c.confirm_vendor_owner("a", "Trackly", "cto@a.example")
                .unwrap()
        );
        assert!(
            c.confirm_vendor_owner("a", "Trackly", "new@a.example")
                .unwrap()
        );
        assert!(c.tenant_vendors("a").unwrap()[0].owner_confirmed);
        // Replacing b's inventory leaves a's alone; removing is per tenant too.
        c.replace_vendors("b", vec![vendor("Mailer", "")], false)
            .unwrap();
        assert_eq!(c.vendors("a").unwrap()[0].name, "Trackly");
        assert!(!c.remove_vendor("b", "Trackly").unwrap());
        assert!(c.remove_vendor("a", "Trackly").unwrap());
        assert_eq!(c.vendors("b").unwrap()[0].name, "Mailer");
    }

    /// A version 4 catalogue (keys with scopes, vendors and domain registrations without
    /// tenants) migrates with everything in the tenant `default`, as it was all shared.
    #[test]
    fn a_version_4_catalogue_puts_everything_into_the_default_tenant() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("catalog.db");
        let mut c = Catalog::open(&path).unwrap();
        c.create_key("old", 5, None, &Scopes::All, None, &Quotas::none())
            .unwrap();
        c.put_subscriber(b"domain", b"sealed", Some(1), Some("x"), Some(1), 1)
            .unwrap();
        c.put_subscriber(b"email", b"sealed", None, None, Some(1), 1)
            .unwrap();
        c.raw()
            .execute_batch(
                "DROP INDEX api_key_tenant; ALTER TABLE api_key DROP COLUMN tenant;
                 ALTER TABLE api_key DROP COLUMN last_used;
                 ALTER TABLE api_key DROP COLUMN quotas;
                 DROP TABLE key_bucket; DROP TABLE key_usage;
                 ALTER TABLE subscriber DROP COLUMN tenant;
                 DROP TABLE vendor;
                 CREATE TABLE vendor (id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE COLLATE NOCASE, domains TEXT NOT NULL,
                    data_classes TEXT NOT NULL, criticality INTEGER NOT NULL,
                    owner TEXT NOT NULL, notes TEXT NOT NULL);
                 INSERT INTO vendor (name, domains, data_classes, criticality, owner, notes)
                    VALUES ('Trackly', '[\"trackly.example\"]', '[]', 4, 'cto@acme.example', '');
                 PRAGMA user_version = 4;",
            )
            .unwrap();
        drop(c);
        assert!(matches!(
            Catalog::open(&path),
            Err(CatalogError::NeedsMigration { found: 4, .. })
        ));
        assert_eq!(Catalog::migrate(&path).unwrap(), Some(4));
        let c = Catalog::open(&path).unwrap();
        assert_eq!(c.keys().unwrap()[0].tenant, DEFAULT_TENANT);
        let subs = c.subscribers().unwrap();
        assert_eq!(subs[0].tenant.as_deref(), Some(DEFAULT_TENANT));
        assert_eq!(subs[1].tenant, None, "an address belongs to no tenant");
        let v = c.tenant_vendors(DEFAULT_TENANT).unwrap();
        assert_eq!(v[0].vendor.name, "Trackly");
        assert!(v[0].owner_confirmed, "the operator set it up");
    }
}
