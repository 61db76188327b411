//! The subcommands of the catalogue and of who may do what: breaches, API keys, the operator
//! key, address subscriptions, domains, the configuration file.

use std::{net::SocketAddr, path::PathBuf};

use clap::Subcommand;
use leakwatch_service::keys::{Quotas, Scopes};

use super::{DataArg, OperatorKeyArg, parse_size};

/// `leakwatch paste ...`.
#[derive(Subcommand)]
pub enum PasteCmd {
    /// Add a paste: every e-mail address in its text is found, normalised and filed (keyed
    /// under the operator key, never in clear); the same source and id again replaces it.
    Add {
        #[command(flatten)]
        data: DataArg,
        /// Where it was posted (Pastebin, Pastie, ...).
        #[arg(long)]
        source: String,
        /// Its id there.
        #[arg(long)]
        id: String,
        /// Its title.
        #[arg(long)]
        title: Option<String>,
        /// When it was posted: RFC 3339 (2014-03-04T19:14:54Z) or YYYY-MM-DD.
        #[arg(long)]
        date: Option<String>,
        #[command(flatten)]
        key: OperatorKeyArg,
        /// The paste's text (`-` for standard input).
        file: PathBuf,
    },
    /// List the pastes (source, id, date, title, addresses).
    List {
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Subcommand)]
pub enum BreachCmd {
    /// Add a breach from flags, or from a JSON/TOML manifest with HIBP's field names.
    Add {
        #[command(flatten)]
        data: DataArg,
        /// Manifest file (.json or .toml); flags override its fields.
        #[arg(long)]
        from: Option<PathBuf>,
        #[command(flatten)]
        fields: BreachFields,
    },
    /// Change fields of a breach (ModifiedDate is set to now).
    Edit {
        #[command(flatten)]
        data: DataArg,
        /// The breach's Name.
        breach: String,
        #[command(flatten)]
        fields: BreachFields,
    },
    /// Import a catalogue in the JSON shape of HIBP's /api/v3/breaches (replaces same names).
    Import {
        #[command(flatten)]
        data: DataArg,
        /// JSON file.
        file: PathBuf,
    },
    /// List breaches (retired ones marked).
    List {
        #[command(flatten)]
        data: DataArg,
        /// Print HIBP's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print one breach as HIBP's JSON.
    Show {
        #[command(flatten)]
        data: DataArg,
        /// The breach's Name.
        breach: String,
    },
    /// Retire a breach: kept on record, never returned again.
    Retire {
        #[command(flatten)]
        data: DataArg,
        /// The breach's Name.
        breach: String,
    },
}

/// Breach fields settable from the command line (HIBP's Breach model).
#[derive(clap::Args)]
pub struct BreachFields {
    /// Name: the stable identifier (letters, digits, - _ .).
    #[arg(long)]
    pub name: Option<String>,
    /// Title: the display name (defaults to the Name).
    #[arg(long)]
    pub title: Option<String>,
    /// Domain of the breached service.
    #[arg(long)]
    pub domain: Option<String>,
    /// BreachDate, YYYY-MM-DD.
    #[arg(long)]
    pub breach_date: Option<String>,
    /// PwnCount (computed by dump imports).
    #[arg(long)]
    pub pwn_count: Option<u64>,
    /// Description (HTML).
    #[arg(long)]
    pub description: Option<String>,
    /// LogoPath.
    #[arg(long)]
    pub logo_path: Option<String>,
    /// DataClasses, comma-separated HIBP names, e.g. "Email addresses,Passwords".
    #[arg(long)]
    pub data_classes: Option<String>,
    /// The vendor through which the data left (supply-chain breaches).
    #[arg(long)]
    pub vendor: Option<String>,
    /// IsVerified (default true).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub verified: Option<bool>,
    /// IsFabricated.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub fabricated: Option<bool>,
    /// IsSensitive: never returned by account searches.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub sensitive: Option<bool>,
    /// IsSpamList.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub spam_list: Option<bool>,
    /// IsMalware.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub malware: Option<bool>,
    /// IsSubscriptionFree.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub subscription_free: Option<bool>,
    /// IsStealerLog.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub stealer_log: Option<bool>,
}

impl BreachFields {
    pub fn apply(self, b: &mut leakwatch_service::breaches::Breach) {
        let set = |field: &mut String, v: Option<String>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut b.name, self.name);
        set(&mut b.title, self.title);
        set(&mut b.domain, self.domain);
        set(&mut b.breach_date, self.breach_date);
        set(&mut b.description, self.description);
        set(&mut b.logo_path, self.logo_path);
        if let Some(n) = self.pwn_count {
            b.pwn_count = n;
        }
        if let Some(c) = self.data_classes {
            b.data_classes = c
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if self.vendor.is_some() {
            b.vendor = self.vendor;
        }
        for (flag, value) in [
            (&mut b.is_verified, self.verified),
            (&mut b.is_fabricated, self.fabricated),
            (&mut b.is_sensitive, self.sensitive),
            (&mut b.is_spam_list, self.spam_list),
            (&mut b.is_malware, self.malware),
            (&mut b.is_subscription_free, self.subscription_free),
            (&mut b.is_stealer_log, self.stealer_log),
        ] {
            if let Some(v) = value {
                *flag = v;
            }
        }
    }
}

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Create a key; it is printed once on standard output and stored only hashed.
    Create {
        #[command(flatten)]
        data: DataArg,
        /// Who the key is for.
        #[arg(long)]
        name: String,
        /// Requests per minute allowed.
        #[arg(long, default_value_t = 10)]
        rpm: u32,
        /// The operator's ceiling for --rpm (setting `[keys] max_rpm`).
        #[arg(long, env = "LEAKWATCH_MAX_RPM", default_value_t = 10_000)]
        max_rpm: u32,
        /// Last valid day, YYYY-MM-DD, or `never` (default: --valid-days from today).
        #[arg(long, value_name = "YYYY-MM-DD|never")]
        expires: Option<String>,
        /// Days a key works when --expires is not given (setting `[keys] valid_days`).
        #[arg(long, env = "LEAKWATCH_KEY_VALID_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..))]
        valid_days: u32,
        /// What the key may do, comma-separated: account, account-range, domain, domain-bulk,
        /// vendors, lookalike, stealerlogs, pastes, credentials, dashboard; or `all` (every
        /// scope, present and future).
        #[arg(long, value_name = "SCOPE[,SCOPE…]", value_parser = parse_scopes)]
        scope: Scopes,
        /// The tenant the key acts for (it sees only that tenant's domains, webhooks and
        /// vendors); a tenant is made by its first key. Default: a tenant of its own.
        #[arg(long)]
        tenant: Option<String>,
        /// Requests per UTC day in a scope, e.g. account=10000,domain=100 (repeatable);
        /// scopes not named have no daily cap beyond --rpm.
        #[arg(long = "quota", value_name = "SCOPE=N[,SCOPE=N…]", value_parser = parse_quotas)]
        quotas: Vec<Quotas>,
    },
    /// List keys (never the keys themselves: id, prefix, name, tenant, allowance, scopes,
    /// the last day each was used, state).
    List {
        #[command(flatten)]
        data: DataArg,
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Issue a successor of a key (same name, rpm, scopes and expiry; printed once) and let
    /// the old one work until the overlap ends.
    Rotate {
        #[command(flatten)]
        data: DataArg,
        /// Id or 6-digit prefix of the key to replace.
        key: String,
        /// Days the old key keeps working beside its successor (0: to the end of today).
        #[arg(long, default_value_t = 7)]
        overlap_days: u32,
    },
    /// Revoke a key by id or prefix, or every key of a tenant (--tenant: the tenant ends,
    /// its domains get no more alerts); the server refuses them within a second.
    Revoke {
        #[command(flatten)]
        data: DataArg,
        /// Id or 6-digit prefix.
        #[arg(required_unless_present = "tenant", conflicts_with = "tenant")]
        key: Option<String>,
        /// Revoke every key of this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List a tenant's dashboard passkeys, or remove one (--remove ID) or all (--remove-all:
    /// the way back in for a tenant that lost every passkey; its keys alone then open the
    /// dashboard again, so check with the tenant first).
    Passkeys {
        #[command(flatten)]
        data: DataArg,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Remove the passkey of this id (as listed).
        #[arg(long, conflicts_with = "remove_all")]
        remove: Option<String>,
        /// Remove every passkey of the tenant.
        #[arg(long)]
        remove_all: bool,
    },
    /// Lift a key's suspension (a key the server suspended for reading in bulk, with
    /// `suspend_on_anomaly`): look at its records first (`audit-log show --key PREFIX`).
    Resume {
        #[command(flatten)]
        data: DataArg,
        /// Id or 6-digit prefix.
        key: String,
    },
}

#[derive(Subcommand)]
pub enum OperatorKeyCmd {
    /// Print a new random operator key (64 hex digits), or write it to a new file readable
    /// only by its owner (--out). Keep it outside the data directory.
    Generate {
        /// Write the key to this new file (mode 0600) instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Re-seal every alias file under the configured (new) key; the old key is read from
    /// --old-key-file. Imports and queries may go on meanwhile; one manifest swap publishes.
    Rotate {
        #[command(flatten)]
        data: DataArg,
        /// File holding the previous operator key.
        #[arg(long)]
        old_key_file: PathBuf,
        #[command(flatten)]
        key: OperatorKeyArg,
        /// Memory budget for sorting, e.g. 512M.
        #[arg(long, default_value = "1G", value_parser = parse_size)]
        memory: usize,
    },
}

#[derive(Subcommand)]
pub enum SubscribeCmd {
    /// Subscribes an address without a confirmation mail (the operator vouches for it).
    Add {
        #[command(flatten)]
        data: DataArg,
        /// The e-mail address.
        email: String,
        #[command(flatten)]
        key: OperatorKeyArg,
    },
    /// Every subscriber: id, what it watches, where alerts go, since when, unsubscribed.
    List {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        key: OperatorKeyArg,
    },
    /// Removes a subscriber by id (from `list`) or address; no more alerts go to it.
    Remove {
        #[command(flatten)]
        data: DataArg,
        /// Subscriber id or e-mail address.
        who: String,
        #[command(flatten)]
        key: OperatorKeyArg,
    },
}

#[derive(Subcommand)]
pub enum DomainCmd {
    /// Registers DOMAIN for a tenant (with --contact) and verifies it: by its DNS TXT
    /// record, or by the operator's word (--trust). Prints the TXT record to publish.
    Verify {
        #[command(flatten)]
        data: DataArg,
        /// The domain (IDN or punycode).
        domain: String,
        /// An API key (its 6-digit prefix or id) whose tenant may then search the domain.
        #[arg(long = "key", required_unless_present = "tenant")]
        api_key: Option<String>,
        /// The tenant that may then search the domain (instead of --key).
        #[arg(long)]
        tenant: Option<String>,
        /// Where alerts for the domain go (needed the first time).
        #[arg(long)]
        contact: Option<String>,
        /// The DNS resolver to ask (default: the system's).
        #[arg(long, env = "LEAKWATCH_DNS_RESOLVER")]
        dns_resolver: Option<SocketAddr>,
        /// Verify without DNS: the operator vouches for the key holder.
        #[arg(long)]
        trust: bool,
        #[command(flatten)]
        key: OperatorKeyArg,
    },
    /// Every registered domain: tenant, API key, domain, contact, verified or not.
    List {
        #[command(flatten)]
        data: DataArg,
        /// Only this tenant's domains.
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        key: OperatorKeyArg,
    },
    /// Every breached address on a domain and its breaches (as `check domain`).
    Search {
        #[command(flatten)]
        data: DataArg,
        /// The domain (IDN or punycode).
        domain: String,
        #[command(flatten)]
        key: OperatorKeyArg,
    },
}

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Print a configuration file with every setting, its variable and its default, commented.
    Example,
    /// Check a configuration file: every unknown setting or bad value, with its line.
    Check {
        /// The file (default: the one leakwatch would read; see --config).
        file: Option<PathBuf>,
    },
}

/// `--quota`: SCOPE=N items, comma-separated.
fn parse_quotas(text: &str) -> Result<Quotas, String> {
    Quotas::parse(text).map_err(|e| match e {
        leakwatch_service::CatalogError::Invalid(why) => why,
        other => other.to_string(),
    })
}

/// `--scope`: a comma-separated list of scope names, or `all`.
fn parse_scopes(text: &str) -> Result<Scopes, String> {
    Scopes::parse(text).map_err(|e| match e {
        leakwatch_service::CatalogError::Invalid(why) => why,
        other => other.to_string(),
    })
}
