//! Flag groups several commands share (the data directory, mail, the operator key) and the
//! parsers of sizes and counts.

use std::path::PathBuf;

use anyhow::Result;
use leakwatch_datadir::DataDir;
use leakwatch_identity::OperatorKey;

/// `--data` (and `--cache-dir`, `--catalog`), resolved: the local data directory a command works in.
/// For a store on object storage that is the cache directory, bound to the store's URL
/// (`leakwatch_service::store_location`), so every command that takes a data directory
/// works on either.
#[derive(Clone)]
pub struct DataArg {
    /// The local data directory (the cache directory of a store on object storage).
    pub data: PathBuf,
}

/// `--data`, `--cache-dir` and `--catalog` as given.
#[derive(clap::Args, Clone)]
struct RawDataArg {
    /// Data directory (store, spill space, rejects), or `s3://BUCKET/PREFIX` for a store on
    /// S3-compatible object storage (endpoint and credentials from the usual AWS_*
    /// variables; with --cache-dir).
    #[arg(long, env = "LEAKWATCH_DATA", default_value = "leakwatch-data")]
    data: String,
    /// With `--data s3://…`: this machine's directory for the store (downloaded files,
    /// catalogue, audit trail, spill space); bound to that store on first use.
    #[arg(long, env = "LEAKWATCH_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// The catalogue (breaches, keys, subscribers, outbox, limits) on a PostgreSQL server
    /// shared by every replica and writer: postgres://USER@HOST:PORT/DB, the password from
    /// PGPASSWORD or the password file (PGPASSFILE, ~/.pgpass), never in the URL. The data
    /// directory is bound to it on first use (its catalog-url file), so later commands on
    /// the directory need not repeat it.
    #[arg(long, env = "LEAKWATCH_CATALOG_URL")]
    catalog: Option<String>,
}

impl RawDataArg {
    fn resolve(self) -> Result<DataArg, String> {
        let catalog = self.catalog.clone();
        let resolved = self.resolve_store()?;
        if let Some(url) = catalog {
            leakwatch_service::store_location::bind_catalog(&resolved.data, &url)
                .map_err(|e| e.to_string())?;
        }
        Ok(resolved)
    }

    fn resolve_store(self) -> Result<DataArg, String> {
        use leakwatch_service::store_location::{bind_cache_dir, is_remote};
        if !is_remote(&self.data) {
            return Ok(DataArg {
                data: PathBuf::from(self.data),
            });
        }
        let cache = self.cache_dir.ok_or_else(|| {
            format!(
                "--data {} needs --cache-dir DIR (or LEAKWATCH_CACHE_DIR): this machine's \
                 directory for the store",
                self.data
            )
        })?;
        bind_cache_dir(&cache, &self.data).map_err(|e| e.to_string())?;
        Ok(DataArg { data: cache })
    }
}

impl clap::FromArgMatches for DataArg {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        RawDataArg::from_arg_matches(matches)?
            .resolve()
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ValueValidation, e + "\n"))
    }
    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for DataArg {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        RawDataArg::augment_args(cmd)
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        RawDataArg::augment_args_for_update(cmd)
    }
}

impl DataArg {
    /// The data directory's layout.
    pub fn dir(&self) -> DataDir {
        DataDir::new(&self.data)
    }
}

/// `--tenant`: the tenant whose rows an operator command reads and changes.
#[derive(clap::Args, Clone)]
pub struct TenantArg {
    /// The tenant to act for (a key's tenant; `default` is the operator's own).
    #[arg(long, default_value = leakwatch_service::DEFAULT_TENANT)]
    pub tenant: String,
}

/// Mail delivery for the private check and alerts.
#[derive(clap::Args, Clone)]
pub struct MailArgs {
    /// SMTP server: smtp://HOST:PORT (no TLS: loopback only), smtp://HOST:587?tls=required
    /// (STARTTLS), smtps://HOST:465 (implicit TLS); USER:PASSWORD@ before the host for
    /// credentials. Needs the operator key, which seals queued mail. Without it, mail
    /// features answer 503.
    #[arg(long, env = "LEAKWATCH_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// PEM file of a private CA to trust for the SMTP server's TLS certificate (besides the
    /// public roots).
    #[arg(long, env = "LEAKWATCH_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,
    /// File holding the SMTP password for the user named in --smtp-url (USER@HOST), so the
    /// password is in neither the environment nor the process list.
    #[arg(long, env = "LEAKWATCH_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// Checks and subscriptions one client IP may ask for per hour.
    #[arg(long, env = "LEAKWATCH_CHECK_LIMIT_PER_IP", default_value_t = 10)]
    pub check_limit_per_ip: u32,
    /// Checks and subscriptions one address may receive per day.
    #[arg(long, env = "LEAKWATCH_CHECK_LIMIT_PER_ADDRESS", default_value_t = 3)]
    pub check_limit_per_address: u32,
    /// Sender of leakwatch's mails.
    #[arg(
        long,
        env = "LEAKWATCH_MAIL_FROM",
        default_value = "leakwatch <leakwatch@localhost>"
    )]
    pub mail_from: String,
    /// The URL people reach this server at, quoted in mails (default: http:// and the
    /// address it listens on).
    #[arg(long, env = "LEAKWATCH_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Seconds before a failed delivery is tried again; doubles with each failure, up to
    /// an hour.
    #[arg(long, env = "LEAKWATCH_MAIL_RETRY_AFTER", default_value_t = 30)]
    pub mail_retry_after: u64,
    /// Seconds a delivery worker holds a notification it claimed before another worker may
    /// take it (and send it again, with the same Message-ID): where servers share a
    /// catalogue, how long a dead server's mail in flight waits. Keep it above the SMTP
    /// timeout (30 s).
    #[arg(long, env = "LEAKWATCH_MAIL_LEASE", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub mail_lease: u64,
}

/// Where the operator key comes from: `--operator-key-file` (or
/// `LEAKWATCH_OPERATOR_KEY_FILE`), a file only its owner may read. Never a plain flag (the
/// process list would show it), and not the environment (`/proc/PID/environ`, crash reports
/// and child processes would): `LEAKWATCH_OPERATOR_KEY` is read only with the test setting
/// `LEAKWATCH_INSECURE_OPERATOR_KEY_ENV=1`, and refused without it.
#[derive(clap::Args, Clone)]
pub struct OperatorKeyArg {
    /// File holding the operator key (64 hex digits) that seals e-mail aliases.
    #[arg(long, env = "LEAKWATCH_OPERATOR_KEY_FILE")]
    pub operator_key_file: Option<PathBuf>,
}

impl OperatorKeyArg {
    pub fn load(&self) -> Result<Option<OperatorKey>> {
        let text = match &self.operator_key_file {
            Some(path) => read_private(path)?,
            None => match std::env::var("LEAKWATCH_OPERATOR_KEY") {
                Ok(v) if insecure_key_env_allowed() => v,
                Ok(_) => anyhow::bail!(
                    "LEAKWATCH_OPERATOR_KEY is read only for tests (with \
                     LEAKWATCH_INSECURE_OPERATOR_KEY_ENV=1): put the key in a file only you may \
                     read (`leakwatch operator-key generate --out FILE`) and pass \
                     --operator-key-file FILE"
                ),
                Err(_) => return Ok(None),
            },
        };
        Ok(Some(OperatorKey::from_hex(&text)?))
    }
}

/// The test setting that lets the operator key come from `LEAKWATCH_OPERATOR_KEY`.
fn insecure_key_env_allowed() -> bool {
    std::env::var("LEAKWATCH_INSECURE_OPERATOR_KEY_ENV").is_ok_and(|v| v == "1")
}

/// Reads a key file, refusing one that group or others may read (as ssh refuses a private
/// key): a key that others can read is a key others may have.
pub fn read_private(path: &std::path::Path) -> Result<String> {
    Ok(leakwatch_service::key_files::read_private(path)?)
}

pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let unit = s[i..].to_ascii_uppercase();
            let mult: usize = match unit.trim_end_matches("IB").trim_end_matches('B') {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => return Err(format!("unknown size unit in {s:?} (use K, M, G)")),
            };
            (&s[..i], mult)
        }
        None => (s, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a size: {s:?}"))?;
    Ok((n * mult as f64) as usize)
}

pub fn parse_count(s: &str) -> Result<u64, String> {
    let s = s.replace('_', "");
    let (num, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1_000),
        Some('m' | 'M') => (&s[..s.len() - 1], 1_000_000),
        Some('g' | 'G' | 'b' | 'B') => (&s[..s.len() - 1], 1_000_000_000),
        _ => (&s[..], 1),
    };
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|_| format!("not a count: {s:?}"))
}
