//! Breaches: the HIBP breach record ([`Breach`]: its fields, validation and manifests) and
//! the catalogue's `breach` table (add, upsert, edit, retire, read, import HIBP JSON, and the
//! store-local ids a shared catalogue allocates).

use serde::{Deserialize, Serialize};

use crate::sql::{self, Exec, Row, args};
use crate::{
    Catalog, CatalogError, Dialect, Result, format_date_time, now_unix, parse_date, parse_date_time,
};

/// A breach, field for field as HIBP's API describes it (JSON names in PascalCase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Breach {
    /// Stable identifier, unique (case-insensitively), used in URLs.
    pub name: String,
    /// Display name.
    #[serde(default)]
    pub title: String,
    /// Domain of the breached service; empty when none.
    #[serde(default)]
    pub domain: String,
    /// When the breach happened: `YYYY-MM-DD`.
    pub breach_date: String,
    /// When it was added to the catalogue: `YYYY-MM-DDTHH:MM:SSZ`.
    #[serde(default)]
    pub added_date: String,
    /// When it was last changed: `YYYY-MM-DDTHH:MM:SSZ`.
    #[serde(default)]
    pub modified_date: String,
    /// Accounts in the breach.
    #[serde(default)]
    pub pwn_count: u64,
    /// HTML description.
    #[serde(default)]
    pub description: String,
    /// URL or path of the logo.
    #[serde(default)]
    pub logo_path: String,
    /// Kinds of data exposed, in HIBP's names ("Email addresses", "Passwords", ...).
    #[serde(default)]
    pub data_classes: Vec<String>,
    /// The breach is verified as real.
    #[serde(default = "yes")]
    pub is_verified: bool,
    /// The data is fabricated.
    #[serde(default)]
    pub is_fabricated: bool,
    /// Sensitive: never returned by account searches.
    #[serde(default)]
    pub is_sensitive: bool,
    /// Retired: removed from every answer.
    #[serde(default)]
    pub is_retired: bool,
    /// A spam list rather than a breach.
    #[serde(default)]
    pub is_spam_list: bool,
    /// From malware.
    #[serde(default)]
    pub is_malware: bool,
    /// Free to subscribe to.
    #[serde(default)]
    pub is_subscription_free: bool,
    /// From a stealer log.
    #[serde(default)]
    pub is_stealer_log: bool,
    /// leakwatch's extension: the vendor through which the data left (supply-chain
    /// breaches), where known. Omitted from JSON when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
}

fn yes() -> bool {
    true
}

impl Breach {
    /// Checks every field and fills what may be derived: `Title` from `Name`, the added and
    /// modified dates from `now`; data classes are trimmed and de-duplicated in order.
    pub fn validate(&mut self, now: u64) -> Result<()> {
        self.name = self.name.trim().to_owned();
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 100
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !name_ok {
            return Err(CatalogError::Invalid(format!(
                "Name {:?} must be 1 to 100 letters, digits, '-', '_' or '.'",
                self.name
            )));
        }
        if self.title.trim().is_empty() {
            self.title = self.name.clone();
        }
        self.domain = self
            .domain
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if self
            .domain
            .contains(|c: char| c.is_whitespace() || c == '/' || c == '@')
        {
            return Err(CatalogError::Invalid(format!(
                "Domain {:?} is not a domain name",
                self.domain
            )));
        }
        parse_date(&self.breach_date).ok_or_else(|| {
            CatalogError::Invalid(format!(
                "BreachDate {:?} is not YYYY-MM-DD",
                self.breach_date
            ))
        })?;
        for (field, value) in [
            ("AddedDate", &mut self.added_date),
            ("ModifiedDate", &mut self.modified_date),
        ] {
            if value.is_empty() {
                *value = format_date_time(now);
            } else {
                let t = parse_date_time(value).ok_or_else(|| {
                    CatalogError::Invalid(format!("{field} {value:?} is not YYYY-MM-DDTHH:MM:SSZ"))
                })?;
                *value = format_date_time(t);
            }
        }
        let mut seen = std::collections::HashSet::new();
        self.data_classes = self
            .data_classes
            .iter()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty() && seen.insert(c.to_lowercase()))
            .collect();
        if let Some(v) = &self.vendor {
            let v = v.trim();
            self.vendor = (!v.is_empty()).then(|| v.to_owned());
        }
        Ok(())
    }

    /// Reads one breach from a JSON or TOML manifest with HIBP's field names.
    pub fn from_manifest(text: &str, is_toml: bool) -> Result<Breach> {
        if is_toml {
            toml::from_str(text).map_err(|e| CatalogError::Invalid(format!("TOML manifest: {e}")))
        } else {
            serde_json::from_str(text)
                .map_err(|e| CatalogError::Invalid(format!("JSON manifest: {e}")))
        }
    }
}

const COLUMNS: &str = "name, title, domain, breach_date, added_date, modified_date, pwn_count, description, \
     logo_path, data_classes, is_verified, is_fabricated, is_sensitive, is_retired, is_spam_list, is_malware, \
     is_subscription_free, is_stealer_log, vendor";

impl Catalog {
    /// Adds a new breach (validated); fails if the name is taken.
    pub fn add(&mut self, mut b: Breach) -> Result<Breach> {
        b.validate(now_unix())?;
        if self.get(&b.name)?.is_some() {
            return Err(CatalogError::Exists(b.name));
        }
        self.write(&b)?;
        Ok(b)
    }

    /// Replaces a breach (validated) by name, or adds it.
    pub fn upsert(&mut self, mut b: Breach) -> Result<Breach> {
        b.validate(now_unix())?;
        self.write(&b)?;
        Ok(b)
    }

    /// Applies `change` to a stored breach, sets ModifiedDate to now, and saves it.
    ///
    /// The read, the change and the write are one transaction, the row locked from the read
    /// on (PostgreSQL `FOR UPDATE`; SQLite has one writer at a time), so edits from many
    /// machines at once follow one another and none is lost.
    pub fn edit(&mut self, name: &str, change: impl FnOnce(&mut Breach)) -> Result<Breach> {
        self.conn.transaction(|tx| {
            let lock = match tx.dialect() {
                Dialect::Postgres => " FOR UPDATE",
                Dialect::Sqlite => "",
            };
            let row = tx.query_opt(
                &format!("SELECT {COLUMNS} FROM breach WHERE name = ?1{lock}"),
                args![name.trim()],
            )?;
            let mut b = match row {
                Some(r) => Self::finish_row(Self::row(&r)?)?,
                None => return Err(CatalogError::NotFound(name.to_owned())),
            };
            let old_name = b.name.clone();
            change(&mut b);
            b.modified_date = format_date_time(now_unix());
            b.validate(now_unix())?;
            Self::update(tx, &old_name, &b).map(|_| b)
        })
    }

    /// The store-local id of breach `name` as this catalogue allocates it, for an import that
    /// adds the breach to the store (`floor`: the first id the store's manifest has free, so
    /// ids the store gave before stay its own). The same name always gets the same id. A
    /// catalogue of one machine (SQLite) allocates nothing (`None`): its store has one writer,
    /// which takes the next id of its manifest.
    pub fn store_breach_id(&self, name: &str, floor: u32) -> Result<Option<u32>> {
        if self.conn.dialect() == Dialect::Sqlite {
            return Ok(None);
        }
        let id: i64 = self.conn.transaction(|tx| {
            // One allocation at a time: the next id depends on every earlier one.
            tx.execute("LOCK TABLE store_breach IN EXCLUSIVE MODE", args![])?;
            if let Some(r) =
                tx.query_opt("SELECT id FROM store_breach WHERE name = ?1", args![name])?
            {
                return r.get(0);
            }
            tx.query_one(
                "INSERT INTO store_breach (name, id) \
                 SELECT ?1, greatest(coalesce(max(id) + 1, 0), ?2) FROM store_breach RETURNING id",
                args![name, i64::from(floor)],
            )?
            .get(0)
        })?;
        u32::try_from(id)
            .map(Some)
            .map_err(|_| CatalogError::Corrupt {
                name: name.to_owned(),
                reason: format!("store breach id {id}"),
            })
    }

    /// Marks a breach retired: it disappears from every answer but stays on record.
    pub fn retire(&mut self, name: &str) -> Result<Breach> {
        self.edit(name, |b| b.is_retired = true)
    }

    /// Writes `b` over the breach of its name in place, or adds it.
    fn write(&mut self, b: &Breach) -> Result<()> {
        self.conn
            .transaction(|tx| match Self::update(tx, &b.name, b)? {
                0 => Self::insert(tx, b),
                _ => Ok(()),
            })
    }

    fn insert(conn: &impl Exec, b: &Breach) -> Result<()> {
        let places = (1..=19).map(|i| format!("?{i}")).collect::<Vec<_>>();
        conn.execute(
            &format!(
                "INSERT INTO breach ({COLUMNS}) VALUES ({})",
                places.join(",")
            ),
            &Self::values(b),
        )?;
        Ok(())
    }

    /// A breach's values in the order of [`COLUMNS`].
    fn values(b: &Breach) -> Vec<sql::Value> {
        let classes = serde_json::to_string(&b.data_classes).unwrap_or_else(|_| "[]".into());
        args![
            b.name,
            b.title,
            b.domain,
            b.breach_date,
            b.added_date,
            b.modified_date,
            b.pwn_count as i64,
            b.description,
            b.logo_path,
            classes,
            b.is_verified,
            b.is_fabricated,
            b.is_sensitive,
            b.is_retired,
            b.is_spam_list,
            b.is_malware,
            b.is_subscription_free,
            b.is_stealer_log,
            b.vendor
        ]
        .to_vec()
    }

    /// Rewrites the row of `old_name` in place (an UPDATE, not DELETE + INSERT: a concurrent
    /// `FOR UPDATE` reader then waits for this row and reads its new version).
    /// Returns how many rows it rewrote (0 or 1).
    fn update(conn: &impl Exec, old_name: &str, b: &Breach) -> Result<usize> {
        let set = COLUMNS
            .split(", ")
            .enumerate()
            .map(|(i, column)| format!("{column} = ?{}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let mut values = Self::values(b);
        values.push(sql::ToValue::to_value(&old_name));
        conn.execute(
            &format!("UPDATE breach SET {set} WHERE name = ?20"),
            &values,
        )
    }

    fn row(r: &Row) -> Result<(Breach, String)> {
        let classes: String = r.get(9)?;
        let pwn: i64 = r.get(6)?;
        Ok((
            Breach {
                name: r.get(0)?,
                title: r.get(1)?,
                domain: r.get(2)?,
                breach_date: r.get(3)?,
                added_date: r.get(4)?,
                modified_date: r.get(5)?,
                pwn_count: pwn.max(0) as u64,
                description: r.get(7)?,
                logo_path: r.get(8)?,
                data_classes: Vec::new(),
                is_verified: r.get(10)?,
                is_fabricated: r.get(11)?,
                is_sensitive: r.get(12)?,
                is_retired: r.get(13)?,
                is_spam_list: r.get(14)?,
                is_malware: r.get(15)?,
                is_subscription_free: r.get(16)?,
                is_stealer_log: r.get(17)?,
                vendor: r.get(18)?,
            },
            classes,
        ))
    }

    fn finish_row((mut b, classes): (Breach, String)) -> Result<Breach> {
        b.data_classes = serde_json::from_str(&classes).map_err(|e| CatalogError::Corrupt {
            name: b.name.clone(),
            reason: format!("DataClasses: {e}"),
        })?;
        Ok(b)
    }

    /// One breach by name (case-insensitive), retired or not.
    pub fn get(&self, name: &str) -> Result<Option<Breach>> {
        let row = self.conn.query_opt(
            &format!("SELECT {COLUMNS} FROM breach WHERE name = ?1"),
            args![name.trim()],
        )?;
        row.as_ref()
            .map(|r| Self::finish_row(Self::row(r)?))
            .transpose()
    }

    /// Every breach, retired ones included, sorted by Title then Name.
    pub fn all(&self) -> Result<Vec<Breach>> {
        // `lower(..) COLLATE "binary"` is SQLite's NOCASE order in both engines.
        let rows = self.conn.query(
            &format!(
                "SELECT {COLUMNS} FROM breach \
                 ORDER BY lower(title) COLLATE \"binary\", lower(name) COLLATE \"binary\""
            ),
            args![],
        )?;
        rows.iter()
            .map(|r| Self::finish_row(Self::row(r)?))
            .collect()
    }

    /// Imports a catalogue in the JSON shape of HIBP's `/breaches` answer, replacing
    /// breaches of the same names. All or nothing: one invalid entry imports none.
    pub fn import_hibp_json(&mut self, json: &str) -> Result<usize> {
        let list: Vec<Breach> = serde_json::from_str(json)
            .map_err(|e| CatalogError::Invalid(format!("not a /breaches JSON array: {e}")))?;
        let now = now_unix();
        let mut valid = Vec::with_capacity(list.len());
        for mut b in list {
            b.validate(now)?;
            valid.push(b);
        }
        self.conn.transaction(|tx| {
            for b in &valid {
                tx.execute("DELETE FROM breach WHERE name = ?1", args![b.name])?;
                Self::insert(tx, b)?;
            }
            Ok(())
        })?;
        Ok(valid.len())
    }
}
