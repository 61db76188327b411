//! Bulk extraction made visible and stoppable (issue #19): per API key and UTC hour, how many
//! distinct account-range prefixes, accounts and domains it read. Crossing a threshold (the
//! configuration's `[limits]`) is an [`Anomaly`], told once per key, kind and hour: the edge
//! records it in the audit log, counts it, mails the operator's contact and, with
//! `suspend_on_anomaly`, suspends the key until `keys resume`. The counts are of keyed
//! digests (the audit log's, so no target is held in clear), kept in memory and added to the
//! catalogue by the server's reload loop and at its stop, so a restart forgets nothing, and
//! taken back from it, so servers sharing a catalogue count a key's targets together.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use leakwatch_catalog::{Catalog, CatalogError, keys::ApiKey, watch::SavedWatch};
use leakwatch_identity::OperatorKey;
use leakwatch_notify::Payload;

use crate::{Principal, ServiceError};

/// What kind of target a key reads many of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Watched {
    /// 6-hex prefixes of `breachedaccount/range`.
    AccountPrefixes,
    /// Accounts of `breachedaccount`.
    Accounts,
    /// Domains of `breacheddomain`.
    Domains,
}

impl Watched {
    /// Every kind.
    pub const ALL: [Watched; 3] = [
        Watched::AccountPrefixes,
        Watched::Accounts,
        Watched::Domains,
    ];

    /// Its name in metrics, records and mails.
    pub fn name(self) -> &'static str {
        match self {
            Watched::AccountPrefixes => "account-prefixes",
            Watched::Accounts => "accounts",
            Watched::Domains => "domains",
        }
    }

    fn from_name(name: &str) -> Option<Watched> {
        Watched::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// The thresholds: distinct targets of each kind a key may read per hour (0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    /// Distinct 6-hex account-range prefixes (`max_account_prefixes_per_hour`).
    pub account_prefixes: u64,
    /// Distinct accounts (`max_accounts_per_hour`).
    pub accounts: u64,
    /// Distinct domains (`max_domains_per_hour`).
    pub domains: u64,
    /// Suspend a key that crosses one (`suspend_on_anomaly`).
    pub suspend: bool,
}

impl Default for BulkLimits {
    fn default() -> Self {
        BulkLimits {
            account_prefixes: 1000,
            accounts: 10_000,
            domains: 100,
            suspend: false,
        }
    }
}

impl BulkLimits {
    /// The threshold of `kind` (0: none).
    pub fn of(&self, kind: Watched) -> u64 {
        match kind {
            Watched::AccountPrefixes => self.account_prefixes,
            Watched::Accounts => self.accounts,
            Watched::Domains => self.domains,
        }
    }
}

/// A key that read more distinct targets of a kind in an hour than its threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// The kind.
    pub kind: Watched,
    /// Distinct targets read this hour.
    pub count: u64,
    /// The threshold it crossed.
    pub threshold: u64,
    /// The key is to be suspended.
    pub suspend: bool,
}

impl Anomaly {
    /// The one-line reason a suspended key's requests are refused with.
    pub fn reason(&self) -> String {
        format!(
            "read more than {} distinct {} in an hour",
            self.threshold,
            self.kind.name().replace('-', " ")
        )
    }
}

#[derive(Debug)]
struct Seen {
    hour: i64,
    digests: HashSet<u64>,
    /// Digests this server saw that the catalogue does not have from it yet.
    fresh: Vec<u64>,
    crossed: bool,
}

impl Seen {
    fn new(hour: i64) -> Seen {
        Seen {
            hour,
            digests: HashSet::new(),
            fresh: Vec::new(),
            crossed: false,
        }
    }
}

/// Every key's distinct targets of the current hour, as this server saw them and, merged in
/// at each save, as every server sharing its catalogue did: a key spread over N replicas is
/// held to its threshold over all of them, not N times it.
#[derive(Debug, Default)]
pub struct BulkWatch {
    limits: BulkLimits,
    seen: Mutex<HashMap<(i64, Watched), Seen>>,
    changed: AtomicBool,
    /// When the last merge ran (Unix ms).
    merged_at: AtomicU64,
}

const HOUR_MS: u64 = 3_600_000;
/// How often a save takes in the other servers' digests: reading every key's rows is the
/// costly part (up to a threshold's worth of digests per server, per key and kind), and an
/// hour's count does not need them sooner.
const MERGE_EVERY_MS: u64 = 5_000;

impl BulkWatch {
    /// The watch with `limits`, from the state `catalog` saved for the hour of `now_ms`.
    pub fn load(
        catalog: &Catalog,
        limits: BulkLimits,
        now_ms: u64,
    ) -> Result<BulkWatch, CatalogError> {
        let watch = BulkWatch {
            limits,
            seen: Mutex::new(HashMap::new()),
            changed: AtomicBool::new(false),
            merged_at: AtomicU64::new(now_ms),
        };
        watch.merge(catalog, (now_ms / HOUR_MS) as i64)?;
        Ok(watch)
    }

    /// Takes in what every server saved of `hour`: their digests joined to this server's,
    /// and a crossing any of them told.
    fn merge(&self, catalog: &Catalog, hour: i64) -> Result<(), CatalogError> {
        let rows = catalog.saved_watch(hour)?;
        let mut all = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for row in rows {
            let Some(kind) = Watched::from_name(&row.kind) else {
                continue;
            };
            let seen = all
                .entry((row.key_id, kind))
                .or_insert_with(|| Seen::new(hour));
            if seen.hour != hour {
                *seen = Seen::new(hour);
            }
            seen.crossed |= row.crossed;
            if seen.crossed {
                // Past the threshold targets are no longer kept (the count has done its job).
                seen.digests = HashSet::new();
            } else {
                seen.digests.extend(row.seen);
            }
        }
        Ok(())
    }

    /// The thresholds.
    pub fn limits(&self) -> BulkLimits {
        self.limits
    }

    /// Notes that `key` read the target whose keyed digest is `digest` at `now_ms`: the
    /// anomaly, the first time this hour that its distinct targets of `kind` (on every
    /// server, as of the last save) pass the threshold. Past it, targets are no longer kept.
    pub fn note(&self, key: &ApiKey, kind: Watched, digest: &[u8], now_ms: u64) -> Option<Anomaly> {
        let threshold = self.limits.of(kind);
        if threshold == 0 {
            return None;
        }
        let hour = (now_ms / HOUR_MS) as i64;
        let short = u64::from_le_bytes(digest.get(..8)?.try_into().ok()?);
        let mut all = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let seen = all.entry((key.id, kind)).or_insert_with(|| Seen::new(hour));
        if seen.hour != hour {
            *seen = Seen::new(hour);
        }
        if seen.crossed {
            return None;
        }
        if seen.digests.insert(short) {
            seen.fresh.push(short);
            self.changed.store(true, Ordering::Relaxed);
        }
        // Checked on every request, not only a new target's: other servers' targets merged
        // in at a save may have taken the count past the threshold.
        let count = seen.digests.len() as u64;
        if count <= threshold {
            return None;
        }
        seen.crossed = true;
        seen.digests = HashSet::new();
        self.changed.store(true, Ordering::Relaxed);
        Some(Anomaly {
            kind,
            count,
            threshold,
            suspend: self.limits.suspend,
        })
    }

    /// Adds to `catalog` what this server saw in the hour of `now_ms` since its last save,
    /// then, every [`MERGE_EVERY_MS`], takes in what every server sharing the catalogue saw.
    pub fn save(&self, catalog: &mut Catalog, now_ms: u64) -> Result<(), CatalogError> {
        let hour = (now_ms / HOUR_MS) as i64;
        if self.changed.swap(false, Ordering::Relaxed) {
            let rows: Vec<SavedWatch> = self
                .seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter_mut()
                .filter(|(_, s)| s.hour == hour)
                .map(|(&(key_id, kind), s)| SavedWatch {
                    key_id,
                    kind: kind.name().to_owned(),
                    hour,
                    seen: std::mem::take(&mut s.fresh),
                    crossed: s.crossed,
                })
                .collect();
            if let Err(e) = catalog.add_watch(&rows, hour) {
                // Kept to be added at the next save.
                let mut all = self.seen.lock().unwrap_or_else(|e| e.into_inner());
                for row in rows {
                    if let Some(s) = Watched::from_name(&row.kind)
                        .and_then(|kind| all.get_mut(&(row.key_id, kind)))
                        .filter(|s| s.hour == hour)
                    {
                        s.fresh.extend(row.seen);
                    }
                }
                self.changed.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        if now_ms.saturating_sub(self.merged_at.load(Ordering::Relaxed)) < MERGE_EVERY_MS {
            return Ok(());
        }
        self.merged_at.store(now_ms, Ordering::Relaxed);
        self.merge(catalog, hour)
    }
}

/// Where the operator hears of anomalies: its contact address, and the operator key that
/// seals the mail in the outbox (without either, nothing is mailed and the server logs it).
#[derive(Debug, Clone, Copy)]
pub struct OperatorContact<'a> {
    /// `operator_contact`.
    pub address: &'a str,
    /// The operator key.
    pub key: &'a OperatorKey,
}

/// What [`respond`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The key was suspended, for this reason.
    pub suspended: Option<String>,
    /// A mail to the operator's contact was queued.
    pub mailed: bool,
}

/// What follows `key`'s anomaly, decided by leakwatch itself (`by`): the key suspended when
/// the configuration says so, and the operator's contact mailed through the outbox (once
/// per key, kind and hour, however often this is called).
pub fn respond(
    catalog: &mut Catalog,
    _by: &Principal,
    key: &ApiKey,
    anomaly: &Anomaly,
    contact: Option<OperatorContact<'_>>,
    now_ms: u64,
) -> Result<Response, ServiceError> {
    let suspended = if anomaly.suspend {
        let reason = anomaly.reason();
        catalog.suspend_key(key.id, &reason)?;
        Some(reason)
    } else {
        None
    };
    let mut mailed = false;
    if let Some(contact) = contact {
        let payload = Payload::KeyAnomaly {
            to: contact.address.to_owned(),
            key: key.id,
            watched: anomaly.kind.name().to_owned(),
            count: anomaly.count,
            threshold: anomaly.threshold,
            suspended: suspended.is_some(),
        };
        let dedupe = format!(
            "anomaly:{}:{}:{}",
            key.id,
            anomaly.kind.name(),
            now_ms / HOUR_MS
        );
        catalog.enqueue(
            Some(dedupe.as_bytes()),
            &payload.seal(contact.key),
            now_ms / 1000,
        )?;
        mailed = true;
    }
    Ok(Response { suspended, mailed })
}

/// Lifts the suspension of the key `which` (id or prefix): the operator looked and let it
/// go on. The key, or [`ServiceError::NotSuspended`].
pub fn resume(catalog: &mut Catalog, _by: &Principal, which: &str) -> Result<ApiKey, ServiceError> {
    let key = crate::keys::find(catalog, which)?;
    if !catalog.resume_key(key.id)? {
        return Err(ServiceError::NotSuspended(key.prefix));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakwatch_catalog::keys::{Quotas, Scopes};

    fn key(c: &mut Catalog) -> ApiKey {
        c.create_key("k", 5, None, &Scopes::All, None, &Quotas::none())
            .unwrap()
            .0
    }

    fn d(i: u64) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&i.to_le_bytes());
        out
    }

    #[test]
    fn distinct_targets_past_the_threshold_are_one_anomaly_an_hour_and_survive_a_reload() {
        let mut c = Catalog::open_in_memory().unwrap();
        let k = key(&mut c);
        let limits = BulkLimits {
            account_prefixes: 3,
            suspend: true,
            ..BulkLimits::default()
        };
        let t = 480_000 * HOUR_MS + 10;
        let watch = BulkWatch::load(&c, limits, t).unwrap();
        for i in 0..2 {
            assert_eq!(watch.note(&k, Watched::AccountPrefixes, &d(i), t), None);
        }
        // The same prefix again, or another kind, does not count.
        assert_eq!(watch.note(&k, Watched::AccountPrefixes, &d(1), t), None);
        assert_eq!(watch.note(&k, Watched::Accounts, &d(9), t), None);
        watch.save(&mut c, t).unwrap();
        let again = BulkWatch::load(&c, limits, t + 1000).unwrap();
        assert_eq!(again.note(&k, Watched::AccountPrefixes, &d(2), t), None);
        let anomaly = again.note(&k, Watched::AccountPrefixes, &d(3), t).unwrap();
        assert_eq!(
            anomaly,
            Anomaly {
                kind: Watched::AccountPrefixes,
                count: 4,
                threshold: 3,
                suspend: true
            }
        );
        assert_eq!(
            anomaly.reason(),
            "read more than 3 distinct account prefixes in an hour"
        );
        // Told once this hour, also after a reload.
        assert_eq!(again.note(&k, Watched::AccountPrefixes, &d(4), t), None);
        again.save(&mut c, t).unwrap();
        let later = BulkWatch::load(&c, limits, t + 2000).unwrap();
        assert_eq!(later.note(&k, Watched::AccountPrefixes, &d(5), t), None);
        // The next hour starts from nothing.
        let next = t + HOUR_MS;
        for i in 10..13 {
            assert_eq!(later.note(&k, Watched::AccountPrefixes, &d(i), next), None);
        }
        assert!(
            later
                .note(&k, Watched::AccountPrefixes, &d(13), next)
                .is_some()
        );
        // A threshold of 0 watches nothing.
        let off = BulkWatch::load(
            &c,
            BulkLimits {
                accounts: 0,
                ..limits
            },
            t,
        )
        .unwrap();
        for i in 0..100 {
            assert_eq!(off.note(&k, Watched::Accounts, &d(i), t), None);
        }
    }

    #[test]
    fn servers_sharing_a_catalogue_count_a_keys_targets_together() {
        let mut c = Catalog::open_in_memory().unwrap();
        let k = key(&mut c);
        let limits = BulkLimits {
            accounts: 5,
            ..BulkLimits::default()
        };
        let t = 480_000 * HOUR_MS + 10;
        let (a, b) = (
            BulkWatch::load(&c, limits, t).unwrap(),
            BulkWatch::load(&c, limits, t).unwrap(),
        );
        // Three targets through each, one of them through both: five distinct, none over.
        for i in 0..3 {
            assert_eq!(a.note(&k, Watched::Accounts, &d(i), t), None);
            assert_eq!(b.note(&k, Watched::Accounts, &d(i + 2), t), None);
        }
        // Saved, but not merged within MERGE_EVERY_MS: each still counts its own three.
        a.save(&mut c, t + 100).unwrap();
        b.save(&mut c, t + 100).unwrap();
        assert_eq!(a.note(&k, Watched::Accounts, &d(0), t + 100), None);
        // Merged: a's sixth distinct target (the union's) is the anomaly, on a; b learns
        // it was told at its next merge and does not tell it again.
        let later = t + MERGE_EVERY_MS + 200;
        a.save(&mut c, later).unwrap();
        b.save(&mut c, later).unwrap();
        let anomaly = a.note(&k, Watched::Accounts, &d(9), later).unwrap();
        assert_eq!((anomaly.count, anomaly.threshold), (6, 5));
        a.save(&mut c, later + MERGE_EVERY_MS).unwrap();
        b.save(&mut c, later + MERGE_EVERY_MS).unwrap();
        assert_eq!(b.note(&k, Watched::Accounts, &d(10), later), None);
        // A server started now begins from the union, crossing included.
        let c_started = BulkWatch::load(&c, limits, later + 1).unwrap();
        assert_eq!(
            c_started.note(&k, Watched::Accounts, &d(11), later + 1),
            None
        );
    }
}
