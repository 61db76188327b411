//! The vendor inventory, one per tenant: the suppliers an organisation sends data to, which data classes
//! each receives (HIBP's names), how critical it is (1–5), who owns the relationship, and
//! notes. Loading a breach whose Domain or Vendor matches an entry produces an impact report
//! (computed by the server and CLI, not here). Import and export in CSV and JSON.

use crate::sql::{Exec, Row, args};
use crate::{Catalog, CatalogError, Result};

/// One vendor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vendor {
    /// Unique (case-insensitively).
    pub name: String,
    /// Its domains (lower case); a breach of a subdomain matches too.
    #[serde(default)]
    pub domains: Vec<String>,
    /// The data classes it receives from you (HIBP's names, e.g. "Email addresses").
    #[serde(default)]
    pub data_classes: Vec<String>,
    /// 1 (could do without) to 5 (business stops without it).
    pub criticality: u8,
    /// Who owns the relationship; an e-mail address gets the impact alert.
    #[serde(default)]
    pub owner: String,
    /// Anything else.
    #[serde(default)]
    pub notes: String,
}

impl Vendor {
    /// Checks the entry and normalises its domains (lower case, no trailing dot) and lists
    /// (trimmed, no empties, no duplicates).
    pub fn validate(mut self) -> Result<Vendor> {
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() {
            return Err(CatalogError::Invalid("a vendor needs a name".into()));
        }
        if !(1..=5).contains(&self.criticality) {
            return Err(CatalogError::Invalid(format!(
                "vendor {}: criticality must be 1 to 5",
                self.name
            )));
        }
        let clean = |v: Vec<String>, lower: bool| {
            let mut out: Vec<String> = Vec::new();
            for item in v {
                let mut item = item.trim().trim_end_matches('.').to_owned();
                if lower {
                    item = item.to_lowercase();
                }
                if !item.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&item)) {
                    out.push(item);
                }
            }
            out
        };
        self.domains = clean(self.domains, true);
        if let Some(bad) = self
            .domains
            .iter()
            .find(|d| !d.contains('.') || d.contains(char::is_whitespace))
        {
            return Err(CatalogError::Invalid(format!(
                "vendor {}: {bad:?} is not a domain",
                self.name
            )));
        }
        self.data_classes = clean(self.data_classes, false);
        self.owner = self.owner.trim().to_owned();
        Ok(self)
    }

    /// Whether a breach of `domain` (or one naming `vendor` as where the data left) is this
    /// vendor's.
    pub fn matches(&self, domain: &str, vendor: Option<&str>) -> Option<&'static str> {
        let domain = domain.trim().trim_end_matches('.').to_lowercase();
        let by_domain = !domain.is_empty()
            && self
                .domains
                .iter()
                .any(|d| domain == *d || domain.ends_with(&format!(".{d}")));
        if by_domain {
            return Some("domain");
        }
        let vendor = vendor.map(str::trim).filter(|v| !v.is_empty())?;
        let named = vendor.eq_ignore_ascii_case(&self.name)
            || self.domains.iter().any(|d| vendor.eq_ignore_ascii_case(d));
        named.then_some("vendor")
    }
}

/// The CSV header of [`Catalog::vendors`] exports; lists inside a field are `;`-separated.
pub const CSV_HEADER: [&str; 6] = [
    "name",
    "domains",
    "data_classes",
    "criticality",
    "owner",
    "notes",
];

fn split_list(field: &str) -> Vec<String> {
    field
        .split(';')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Vendor {
    /// A CSV record in [`CSV_HEADER`]'s order.
    pub fn to_csv_record(&self) -> [String; 6] {
        [
            self.name.clone(),
            self.domains.join(";"),
            self.data_classes.join(";"),
            self.criticality.to_string(),
            self.owner.clone(),
            self.notes.clone(),
        ]
    }

    /// A vendor from a CSV record in [`CSV_HEADER`]'s order (validated).
    pub fn from_csv_record(record: &[&str]) -> Result<Vendor> {
        let field = |i: usize| record.get(i).copied().unwrap_or("");
        Vendor {
            name: field(0).to_owned(),
            domains: split_list(field(1)),
            data_classes: split_list(field(2)),
            criticality: field(3).trim().parse().map_err(|_| {
                CatalogError::Invalid(format!("vendor {}: criticality must be 1 to 5", field(0)))
            })?,
            owner: field(4).to_owned(),
            notes: field(5).to_owned(),
        }
        .validate()
    }
}

/// A vendor as stored: its tenant, and whether its owner may get impact mails (confirmed by
/// a mailed link, or set by the operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantVendor {
    /// The tenant whose inventory it is in.
    pub tenant: String,
    /// The vendor.
    pub vendor: Vendor,
    /// Its owner confirmed the address (or the operator vouched for it).
    pub owner_confirmed: bool,
}

const VENDOR_COLUMNS: &str =
    "tenant, name, domains, data_classes, criticality, owner, notes, owner_confirmed";

fn vendor_row(r: &Row) -> Result<TenantVendor> {
    let list = |s: String| serde_json::from_str::<Vec<String>>(&s).unwrap_or_default();
    Ok(TenantVendor {
        tenant: r.get(0)?,
        vendor: Vendor {
            name: r.get(1)?,
            domains: list(r.get(2)?),
            data_classes: list(r.get(3)?),
            criticality: r.get(4)?,
            owner: r.get(5)?,
            notes: r.get(6)?,
        },
        owner_confirmed: r.get(7)?,
    })
}

/// Inserts or replaces (by tenant and name) one validated vendor. The owner stays confirmed
/// when it does not change.
fn upsert(conn: &impl Exec, tenant: &str, v: &Vendor, owner_confirmed: bool) -> Result<()> {
    conn.execute(
        "INSERT INTO vendor (tenant, name, domains, data_classes, criticality, owner, notes,
            owner_confirmed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(tenant, name) DO UPDATE SET name = excluded.name,
            domains = excluded.domains, data_classes = excluded.data_classes,
            criticality = excluded.criticality, notes = excluded.notes,
            owner_confirmed = CASE WHEN vendor.owner = excluded.owner
                THEN CASE WHEN vendor.owner_confirmed > excluded.owner_confirmed
                    THEN vendor.owner_confirmed ELSE excluded.owner_confirmed END
                ELSE excluded.owner_confirmed END,
            owner = excluded.owner",
        args![
            tenant,
            v.name,
            serde_json::to_string(&v.domains).expect("strings serialise"),
            serde_json::to_string(&v.data_classes).expect("strings serialise"),
            v.criticality,
            v.owner,
            v.notes,
            owner_confirmed
        ],
    )?;
    Ok(())
}

impl Catalog {
    /// Adds a vendor to `tenant`'s inventory, or replaces the one with its name there
    /// (validated). `owner_confirmed`: its owner may get impact mails (a changed owner
    /// needs it again; an unchanged one keeps it).
    pub fn put_vendor(&mut self, tenant: &str, v: Vendor, owner_confirmed: bool) -> Result<Vendor> {
        let v = v.validate()?;
        upsert(&self.conn, tenant, &v, owner_confirmed)?;
        Ok(v)
    }

    /// Replaces `tenant`'s whole inventory with `vendors` (all validated first; nothing
    /// changes if one is invalid; one transaction). An owner confirmed before for the same
    /// vendor stays confirmed.
    pub fn replace_vendors(
        &mut self,
        tenant: &str,
        vendors: Vec<Vendor>,
        owner_confirmed: bool,
    ) -> Result<usize> {
        let vendors = vendors
            .into_iter()
            .map(Vendor::validate)
            .collect::<Result<Vec<_>>>()?;
        let before = self.tenant_vendors(tenant)?;
        self.conn.transaction(|tx| {
            tx.execute("DELETE FROM vendor WHERE tenant = ?1", args![tenant])?;
            for v in &vendors {
                let kept = before.iter().any(|b| {
                    b.owner_confirmed
                        && b.vendor.name.eq_ignore_ascii_case(&v.name)
                        && b.vendor.owner == v.owner
                });
                upsert(tx, tenant, v, owner_confirmed || kept)?;
            }
            Ok(())
        })?;
        Ok(vendors.len())
    }

    /// `tenant`'s inventory, by name.
    pub fn vendors(&self, tenant: &str) -> Result<Vec<Vendor>> {
        Ok(self
            .tenant_vendors(tenant)?
            .into_iter()
            .map(|v| v.vendor)
            .collect())
    }

    /// `tenant`'s inventory as stored, by name.
    pub fn tenant_vendors(&self, tenant: &str) -> Result<Vec<TenantVendor>> {
        self.conn
            .query(
                &format!(
                    "SELECT {VENDOR_COLUMNS} FROM vendor WHERE tenant = ?1 \
                     ORDER BY lower(name) COLLATE \"binary\""
                ),
                args![tenant],
            )?
            .iter()
            .map(vendor_row)
            .collect()
    }

    /// Every tenant's inventory, by tenant then name.
    pub fn all_vendors(&self) -> Result<Vec<TenantVendor>> {
        self.conn
            .query(
                &format!(
                    "SELECT {VENDOR_COLUMNS} FROM vendor \
                     ORDER BY tenant COLLATE \"binary\", lower(name) COLLATE \"binary\""
                ),
                args![],
            )?
            .iter()
            .map(vendor_row)
            .collect()
    }

    /// Marks the owner of `tenant`'s vendor `name` confirmed, if it is still `owner`;
    /// returns whether it is.
    pub fn confirm_vendor_owner(&mut self, tenant: &str, name: &str, owner: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE vendor SET owner_confirmed = 1 WHERE tenant = ?1 AND name = ?2 AND owner = ?3",
            args![tenant, name.trim(), owner],
        )? == 1)
    }

    /// Names of the breaches whose impact on the inventory has been assessed (and alerted).
    pub fn impact_alerted(&self) -> Result<std::collections::BTreeSet<String>> {
        Ok(self
            .conn
            .column::<String>("SELECT name FROM impact_alerted", args![])?
            .into_iter()
            .collect())
    }

    /// Records that a breach's impact has been assessed.
    pub fn mark_impact_alerted(&mut self, name: &str, now: u64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO impact_alerted (name, at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            args![name, now as i64],
        )?;
        Ok(())
    }

    /// Removes `tenant`'s vendor `name`; returns whether it was there.
    pub fn remove_vendor(&mut self, tenant: &str, name: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM vendor WHERE tenant = ?1 AND name = ?2",
            args![tenant, name.trim()],
        )? == 1)
    }
}
