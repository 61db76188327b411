//! The audit key and audit log commands, and which commands are audited: [`Command::audited`]
//! names, for each privileged command, its data directory, its action, the command as typed
//! without its values, and its target (which the log keeps only as a keyed digest).

use std::path::PathBuf;

use clap::Subcommand;

use super::*;

#[derive(Subcommand)]
pub enum AuditKeyCmd {
    /// Write a new random audit key (64 hex digits) to a new file readable only by its owner.
    /// Keep it outside the data directory, away from whoever runs the server.
    Generate {
        /// The new file (mode 0600; an existing file is never replaced).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum AuditLogCmd {
    /// Check the whole log: every file present, every record in its place and unchanged,
    /// every checkpoint signed by the audit key. Names the file and record of any edit; an
    /// unsealed tail (records a crash left after the last checkpoint) is reported, and the
    /// next start of `serve` or an audited command seals it.
    Verify {
        #[command(flatten)]
        data: DataArg,
    },
    /// Print records, oldest first, as a table or JSON lines (--json).
    Show {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        filter: AuditFilter,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Write every record (after a verify) as JSON lines, to a file or standard output.
    Export {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        filter: AuditFilter,
        /// Where to write (`-`: standard output).
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
}

/// Which records `audit-log show` and `export` print.
#[derive(clap::Args, Clone)]
pub struct AuditFilter {
    /// From this time on (RFC 3339, e.g. 2026-12-03T10:00:00Z, or a day, 2026-12-03).
    #[arg(long, value_parser = parse_time_ms)]
    pub since: Option<u64>,
    /// Before this time (RFC 3339 or a day).
    #[arg(long, value_parser = parse_time_ms)]
    pub until: Option<u64>,
    /// Only this API key's records (its 6-digit prefix or id).
    #[arg(long)]
    pub key: Option<String>,
    /// Only this action (e.g. account.lookup, keys.create).
    #[arg(long)]
    pub action: Option<String>,
    /// Only records about this target (an account, domain, prefix or key prefix: the log
    /// holds its digest, which this computes with the audit key).
    #[arg(long)]
    pub target: Option<String>,
}

/// The bulk-extraction controls of `serve` (the configuration's `[limits]`).
#[derive(clap::Args, Clone)]
pub struct BulkArgs {
    /// Distinct 6-hex account-range prefixes one key may read per hour before it is an
    /// anomaly (0: no limit).
    #[arg(
        long,
        env = "LEAKWATCH_MAX_ACCOUNT_PREFIXES_PER_HOUR",
        default_value_t = 1000
    )]
    pub max_account_prefixes_per_hour: u64,
    /// Distinct accounts one key may look up per hour (0: no limit).
    #[arg(
        long,
        env = "LEAKWATCH_MAX_ACCOUNTS_PER_HOUR",
        default_value_t = 10_000
    )]
    pub max_accounts_per_hour: u64,
    /// Distinct domains one key may search per hour (0: no limit).
    #[arg(long, env = "LEAKWATCH_MAX_DOMAINS_PER_HOUR", default_value_t = 100)]
    pub max_domains_per_hour: u64,
    /// Suspend a key that crosses one of the limits above (401 with the reason) until
    /// `leakwatch keys resume`; without it the anomaly is only recorded, counted and mailed.
    #[arg(long, env = "LEAKWATCH_SUSPEND_ON_ANOMALY")]
    pub suspend_on_anomaly: bool,
    /// The most addresses a `breacheddomain` answer may hold for a key without the
    /// `domain-bulk` scope (403 naming it beyond; 0: no limit).
    #[arg(long, env = "LEAKWATCH_MAX_DOMAIN_ANSWER", default_value_t = 1000)]
    pub max_domain_answer: usize,
    /// Where mail about a key's anomaly goes (needs mail and the operator key).
    #[arg(long, env = "LEAKWATCH_OPERATOR_CONTACT")]
    pub operator_contact: Option<String>,
}

impl BulkArgs {
    /// The thresholds, as the service layer takes them.
    pub fn limits(&self) -> leakwatch_service::bulk::BulkLimits {
        leakwatch_service::bulk::BulkLimits {
            account_prefixes: self.max_account_prefixes_per_hour,
            accounts: self.max_accounts_per_hour,
            domains: self.max_domains_per_hour,
            suspend: self.suspend_on_anomaly,
        }
    }
}

/// Unix milliseconds of `YYYY-MM-DDTHH:MM:SS[.fff]Z` or `YYYY-MM-DD`.
fn parse_time_ms(s: &str) -> Result<u64, String> {
    let bad = || format!("not an RFC 3339 time or a day: {s:?} (e.g. 2026-12-03T10:00:00Z)");
    if let Some(days) = leakwatch_service::parse_date(s) {
        return u64::try_from(days)
            .map(|d| d * 86_400_000)
            .map_err(|_| bad());
    }
    let (whole, millis) = match s.split_once('.') {
        Some((whole, frac)) => {
            let digits = frac.strip_suffix('Z').ok_or_else(bad)?;
            if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad());
            }
            let ms: u64 = format!("{digits:0<3}").parse().map_err(|_| bad())?;
            (format!("{whole}Z"), ms)
        }
        None => (s.to_owned(), 0),
    };
    let seconds = leakwatch_service::parse_date_time(&whole).ok_or_else(bad)?;
    Ok(seconds * 1000 + millis)
}

/// The record of a command on `data` acting on `target`, for no tenant in particular.
fn a(data: &DataArg, action: &'static str, command: &'static str, target: Option<&str>) -> Audited {
    Audited {
        data: data.data.clone(),
        action,
        command,
        target: target.map(str::to_owned),
        tenant: None,
        log_after: false,
    }
}

/// A privileged command, as its audit record names it.
#[derive(Debug)]
pub struct Audited {
    /// Its data directory (where the log is).
    pub data: PathBuf,
    /// The action (`keys.create`).
    pub action: &'static str,
    /// The command without its values (`keys create`).
    pub command: &'static str,
    /// What it acts on, if one thing.
    pub target: Option<String>,
    /// The tenant it acts for, if it names one.
    pub tenant: Option<String>,
    /// Its log is opened only after it ran (`restore` makes the data directory, which
    /// must be empty before).
    pub log_after: bool,
}

impl Command {
    /// The audit record this command leaves, if it is audited (the privileged commands of
    /// issue #19); `None` for the others (serve keeps its own records, one per request).
    pub fn audited(&self) -> Option<Audited> {
        Some(match self {
            Command::Keys { what } => match what {
                KeysCmd::Create { data, tenant, .. } => Audited {
                    tenant: tenant.clone(),
                    ..a(data, "keys.create", "keys create", None)
                },
                KeysCmd::Rotate { data, key, .. } => {
                    a(data, "keys.rotate", "keys rotate", Some(key))
                }
                KeysCmd::Revoke { data, key, tenant } => Audited {
                    tenant: tenant.clone(),
                    ..a(data, "keys.revoke", "keys revoke", key.as_deref())
                },
                KeysCmd::Resume { data, key } => a(data, "keys.resume", "keys resume", Some(key)),
                KeysCmd::Passkeys {
                    data,
                    tenant,
                    remove,
                    remove_all,
                } => Audited {
                    tenant: Some(tenant.clone()),
                    ..if remove.is_some() || *remove_all {
                        a(
                            data,
                            "keys.passkeys.remove",
                            "keys passkeys --remove",
                            remove.as_deref(),
                        )
                    } else {
                        a(data, "keys.passkeys.list", "keys passkeys", None)
                    }
                },
                KeysCmd::List { .. } => return None,
            },
            Command::OperatorKey {
                what: OperatorKeyCmd::Rotate { data, .. },
            } => a(data, "operator-key.rotate", "operator-key rotate", None),
            Command::Check { what } => match what {
                CheckWhat::Account { data, account, .. } => {
                    a(data, "account.check", "check account", Some(account))
                }
                CheckWhat::Domain { data, domain, .. } => {
                    a(data, "domain.check", "check domain", Some(domain))
                }
                CheckWhat::Password { .. } => return None,
            },
            Command::Domain { what } => match what {
                DomainCmd::Verify {
                    data,
                    domain,
                    tenant,
                    trust,
                    ..
                } => Audited {
                    tenant: tenant.clone(),
                    ..if *trust {
                        a(data, "domain.trust", "domain verify --trust", Some(domain))
                    } else {
                        a(data, "domain.verify", "domain verify", Some(domain))
                    }
                },
                DomainCmd::List { data, tenant, .. } => Audited {
                    tenant: tenant.clone(),
                    ..a(data, "domain.list", "domain list", None)
                },
                DomainCmd::Search { data, domain, .. } => {
                    a(data, "domain.search", "domain search", Some(domain))
                }
            },
            Command::Subscribe { what } => match what {
                SubscribeCmd::Add { data, email, .. } => {
                    a(data, "subscribe.add", "subscribe add", Some(email))
                }
                SubscribeCmd::List { data, .. } => {
                    a(data, "subscribe.list", "subscribe list", None)
                }
                SubscribeCmd::Remove { data, who, .. } => {
                    a(data, "subscribe.remove", "subscribe remove", Some(who))
                }
            },
            Command::Breach { what } => match what {
                BreachCmd::Add { data, fields, .. } => {
                    a(data, "breach.add", "breach add", fields.name.as_deref())
                }
                BreachCmd::Edit { data, breach, .. } => {
                    a(data, "breach.edit", "breach edit", Some(breach))
                }
                BreachCmd::Import { data, .. } => a(data, "breach.import", "breach import", None),
                BreachCmd::Retire { data, breach } => {
                    a(data, "breach.retire", "breach retire", Some(breach))
                }
                BreachCmd::List { .. } | BreachCmd::Show { .. } => return None,
            },
            Command::Paste { what } => match what {
                PasteCmd::Add { data, id, .. } => a(data, "paste.add", "paste add", Some(id)),
                PasteCmd::List { .. } => return None,
            },
            Command::Vendors { what } => match what {
                VendorsCmd::Add {
                    data, tenant, name, ..
                } => Audited {
                    tenant: Some(tenant.tenant.clone()),
                    ..a(data, "vendors.add", "vendors add", Some(name))
                },
                VendorsCmd::Import { data, tenant, .. } => Audited {
                    tenant: Some(tenant.tenant.clone()),
                    ..a(data, "vendors.import", "vendors import", None)
                },
                VendorsCmd::Remove { data, tenant, name } => Audited {
                    tenant: Some(tenant.tenant.clone()),
                    ..a(data, "vendors.remove", "vendors remove", Some(name))
                },
                VendorsCmd::Export { .. } | VendorsCmd::List { .. } | VendorsCmd::Impact { .. } => {
                    return None;
                }
            },
            Command::Ingest(args) => a(&args.data, "ingest", "ingest", args.breach.as_deref()),
            Command::Credentials { what } => match what {
                CredentialsCmd::Build(args) => {
                    a(&args.data, "credentials.build", "credentials build", None)
                }
                CredentialsCmd::RotateKey(args) => a(
                    &args.data,
                    "credentials.rotate-key",
                    "credentials rotate-key",
                    None,
                ),
                // A client of a server: the server records the check.
                CredentialsCmd::Check(_) => return None,
            },
            Command::Forget(args) => a(
                &args.data,
                "forget",
                "forget",
                match args.identifiers.as_slice() {
                    [one] => Some(one),
                    _ => None,
                },
            ),
            Command::Backup(args) => a(&args.data, "backup", "backup", None),
            Command::Restore(args) => Audited {
                log_after: true,
                ..a(&args.data, "restore", "restore", None)
            },
            _ => return None,
        })
    }
}
