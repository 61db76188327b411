//! What an API key may do: its scopes ([`Scope`], [`Scopes`]: `--scope`, stored as names)
//! and its daily quotas per scope ([`Quotas`]: `--quota SCOPE=N`). Parsing, display and the
//! stored form; nothing here checks a request (the service layer does).

use std::{collections::BTreeSet, fmt};

use crate::{CatalogError, Result};

/// Daily quotas per scope: how many requests a key may make in a scope per UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quotas(pub std::collections::BTreeMap<Scope, u64>);

impl Quotas {
    /// No daily quota in any scope.
    pub fn none() -> Quotas {
        Quotas::default()
    }

    /// The quota of `scope`, if it has one.
    pub fn of(&self, scope: Scope) -> Option<u64> {
        self.0.get(&scope).copied()
    }

    /// Reads `SCOPE=N` items, comma-separated (`account=1000,domain=50`); an unknown scope,
    /// a scope named twice or N = 0 is refused.
    pub fn parse(text: &str) -> Result<Quotas> {
        let mut out = std::collections::BTreeMap::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad =
                || CatalogError::Invalid(format!("quota {item:?} is not SCOPE=N (N at least 1)"));
            let (name, n) = item.split_once('=').ok_or_else(bad)?;
            let scope = Scope::from_name(name.trim()).ok_or_else(|| {
                CatalogError::Invalid(format!("unknown scope {:?} in a quota", name.trim()))
            })?;
            let n: u64 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
            if out.insert(scope, n).is_some() {
                return Err(CatalogError::Invalid(format!(
                    "scope {scope} has two quotas"
                )));
            }
        }
        Ok(Quotas(out))
    }
}

impl fmt::Display for Quotas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(|(s, n)| format!("{s}={n}")).collect();
        f.write_str(&items.join(","))
    }
}

/// One thing a key may do. Routes and actions name the scope they need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// Look up one account (`breachedaccount/{account}`).
    Account,
    /// The k-anonymity account range (`breachedaccount/range/{prefix}`).
    AccountRange,
    /// Register and verify domains, search and list them.
    Domain,
    /// Domain answers above the bulk threshold.
    DomainBulk,
    /// The vendor inventory and its impact reports.
    Vendors,
    /// Look-alike domains.
    Lookalike,
    /// Stealer logs.
    StealerLogs,
    /// Pastes.
    Pastes,
    /// The private credential check.
    Credentials,
    /// Signing in to the organisation dashboard.
    Dashboard,
}

impl Scope {
    /// Every scope there is, in the order they are listed.
    pub const ALL: [Scope; 10] = [
        Scope::Account,
        Scope::AccountRange,
        Scope::Domain,
        Scope::DomainBulk,
        Scope::Vendors,
        Scope::Lookalike,
        Scope::StealerLogs,
        Scope::Pastes,
        Scope::Credentials,
        Scope::Dashboard,
    ];

    /// Its name, as written in `--scope` and stored.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::AccountRange => "account-range",
            Scope::Domain => "domain",
            Scope::DomainBulk => "domain-bulk",
            Scope::Vendors => "vendors",
            Scope::Lookalike => "lookalike",
            Scope::StealerLogs => "stealerlogs",
            Scope::Pastes => "pastes",
            Scope::Credentials => "credentials",
            Scope::Dashboard => "dashboard",
        }
    }

    /// The scope of this name.
    pub fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a key may do: every scope, present and future (`all`, only when written out), or
/// the scopes listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scopes {
    /// Every scope, including those a later version adds.
    All,
    /// These scopes only.
    Only(BTreeSet<Scope>),
}

impl Scopes {
    /// Whether a key with these scopes may do what `scope` covers.
    pub fn allows(&self, scope: Scope) -> bool {
        match self {
            Scopes::All => true,
            Scopes::Only(set) => set.contains(&scope),
        }
    }

    /// Reads a comma-separated list of scope names (`all` alone for every scope); an
    /// unknown name or an empty list is refused.
    pub fn parse(text: &str) -> Result<Scopes> {
        let names: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Err(CatalogError::Invalid(
                "a key needs at least one scope".into(),
            ));
        }
        if names.contains(&"all") {
            return if names.len() == 1 {
                Ok(Scopes::All)
            } else {
                Err(CatalogError::Invalid(
                    "`all` is every scope: give it alone".into(),
                ))
            };
        }
        let mut set = BTreeSet::new();
        for name in names {
            set.insert(Scope::from_name(name).ok_or_else(|| {
                CatalogError::Invalid(format!(
                    "unknown scope {name:?} (scopes: all, {})",
                    Scope::ALL.map(Scope::name).join(", ")
                ))
            })?);
        }
        Ok(Scopes::Only(set))
    }

    /// Reads scopes as stored; names this version does not know (written by a later one)
    /// grant nothing here.
    pub(crate) fn from_stored(text: &str) -> Scopes {
        if text == "all" {
            return Scopes::All;
        }
        Scopes::Only(text.split(',').filter_map(Scope::from_name).collect())
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scopes::All => f.write_str("all"),
            Scopes::Only(set) => {
                let names: Vec<&str> = set.iter().map(|s| s.name()).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_listed_or_all_alone_and_unknown_names_are_refused() {
        let only = |names: &[Scope]| Scopes::Only(names.iter().copied().collect());
        assert_eq!(Scopes::parse("all").unwrap(), Scopes::All);
        assert_eq!(
            Scopes::parse("vendors, account").unwrap(),
            only(&[Scope::Account, Scope::Vendors])
        );
        for bad in ["", " , ", "all,account", "acount", "ALL"] {
            assert!(Scopes::parse(bad).is_err(), "{bad:?} accepted");
        }
        for scope in Scope::ALL {
            assert_eq!(Scope::from_name(scope.name()), Some(scope));
            assert!(Scopes::All.allows(scope));
            assert!(only(&[scope]).allows(scope));
            let others: Vec<Scope> = Scope::ALL.into_iter().filter(|s| *s != scope).collect();
            assert!(!only(&others).allows(scope));
        }
        // Stored and read back; a name a later version wrote grants nothing here.
        let s = only(&[Scope::Domain, Scope::AccountRange]);
        assert_eq!(Scopes::from_stored(&s.to_string()), s);
        assert_eq!(
            Scopes::from_stored("domain,time-travel"),
            only(&[Scope::Domain])
        );
    }
}
