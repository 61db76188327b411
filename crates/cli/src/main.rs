//! The `leakwatch` command: argument parsing and glue. Every capability lives in a library
//! crate (store, ingest, api, gen); this file only wires them to flags and prints results.
//! It deliberately holds no logic a test would need to reach except through the binary.

mod config;

use std::{
    io::{IsTerminal, Read, Write},
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use leakwatch_api::{AppState, ServerLimits, StoreHandle};
use leakwatch_gen::GenFormat;
use leakwatch_identity::OperatorKey;
use leakwatch_ingest::{ColumnMap, Format, IngestOptions, Source};
use leakwatch_store::{Directory, MmapDirectory, Namespace, Snapshot, StoreWriter};

#[derive(Parser)]
#[command(
    name = "leakwatch",
    version,
    about = "Self-hosted breach exposure: Pwned Passwords-compatible range API over your own leak corpora"
)]
struct Cli {
    /// Configuration file (TOML; `leakwatch config example` shows every setting). Without
    /// it: LEAKWATCH_CONFIG, then ./leakwatch.toml, ~/.config/leakwatch/leakwatch.toml,
    /// /etc/leakwatch/leakwatch.toml. Flags win over the environment, the environment over
    /// the file.
    #[arg(long, global = true, env = "LEAKWATCH_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct DataArg {
    /// Data directory (store, spill space, rejects).
    #[arg(long, env = "LEAKWATCH_DATA", default_value = "leakwatch-data")]
    data: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum SyncMode {
    Sha1,
    Ntlm,
    Both,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[command(flatten)]
        data: DataArg,
        /// Address to listen on.
        #[arg(long, env = "LEAKWATCH_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Region for queried phone numbers without a country code (ISO 3166, e.g. GB).
        #[arg(long, env = "LEAKWATCH_DEFAULT_REGION")]
        default_region: Option<String>,
        #[command(flatten)]
        mail: MailArgs,
        #[command(flatten)]
        key: OperatorKeyArg,
        /// The DNS resolver domain verification asks (default: the system's).
        #[arg(long, env = "LEAKWATCH_DNS_RESOLVER")]
        dns_resolver: Option<SocketAddr>,
        /// Log one line per request to standard error: time, method, route template (never
        /// the prefix or account asked for), status, latency.
        #[arg(long, env = "LEAKWATCH_ACCESS_LOG")]
        access_log: bool,
        /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
        #[arg(long, env = "LEAKWATCH_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, env = "LEAKWATCH_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// How log lines look on standard error: `human` (a time, a level and a message per
        /// line) or `json` (one JSON object per line, fields as keys, for a log collector).
        #[arg(long, value_enum, env = "LEAKWATCH_LOG_FORMAT", default_value_t = LogFormat::Human)]
        log_format: LogFormat,
    },
    /// Import a Pwned Passwords file or directory, a plaintext password list, or (with
    /// --breach) a breach dump: combolist, CSV/TSV, JSON Lines.
    Ingest {
        #[command(flatten)]
        data: DataArg,
        /// Input file (plain, .gz or .zst), a downloader range directory, or `-` for stdin.
        source: String,
        /// Input format; `auto` detects it (a dump format when --breach is given).
        #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
        format: FormatArg,
        /// Link the dump's accounts to this breach (add it first: `leakwatch breach add`).
        #[arg(long)]
        breach: Option<String>,
        /// Where the fields are in a CSV/TSV/JSONL dump: `email=COL,phone=COL,username=COL,
        /// password=COL` (header names or 1-based numbers); default: conventional names.
        #[arg(long)]
        map: Option<ColumnMap>,
        /// What a combolist's identifiers are; detected per file by default.
        #[arg(long, value_enum)]
        identifier: Option<KindArg>,
        /// Region for phone numbers without a country code (ISO 3166, e.g. GB).
        #[arg(long, env = "LEAKWATCH_DEFAULT_REGION")]
        default_region: Option<String>,
        #[command(flatten)]
        key: OperatorKeyArg,
        /// Do not keep the e-mail aliases domain search needs (no operator key required).
        #[arg(long)]
        no_aliases: bool,
        /// Memory budget, e.g. 512M or 2G.
        #[arg(long, default_value = "2G", value_parser = parse_size)]
        memory: usize,
        /// Worker threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// Where to write the sample of rejected lines.
        #[arg(long)]
        rejects: Option<PathBuf>,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Mirror the Pwned Passwords corpus from an HIBP-compatible range API, fetching only
    /// the ranges that changed since the last sync (by their ETags).
    ///
    /// All 1,048,576 ranges are asked for; an unchanged one costs a 304. Interrupted (killed,
    /// network down), the next run resumes where it stopped; the store and a server reading
    /// it keep answering from the previous generation until every range is in.
    Sync {
        #[command(flatten)]
        data: DataArg,
        /// The range API's base URL (`/range/{prefix}` is appended), or a URL template with
        /// `{prefix}` for static per-prefix files, e.g. https://api.pwnedpasswords.com
        #[arg(long)]
        from: String,
        /// Which hashes to mirror.
        #[arg(long, value_enum, default_value_t = SyncMode::Sha1)]
        mode: SyncMode,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 64)]
        parallel: usize,
        /// Seconds a request may take, body included, before it is retried.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Retries of one range (with exponential backoff) before the sync stops.
        #[arg(long, default_value_t = 10)]
        retries: u32,
        /// Extra root certificates (PEM) to trust, for a private CA or a TLS-inspecting proxy.
        #[arg(long)]
        ca_cert: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// The breach catalogue: add, edit, import, list, show, retire.
    Breach {
        #[command(subcommand)]
        what: BreachCmd,
    },
    /// API keys for the HIBP-compatible API (`hibp-api-key` header).
    Keys {
        #[command(subcommand)]
        what: KeysCmd,
    },
    /// The operator key that seals e-mail aliases in the store.
    OperatorKey {
        #[command(subcommand)]
        what: OperatorKeyCmd,
    },
    /// Look something up in the store.
    Check {
        #[command(subcommand)]
        what: CheckWhat,
    },
    /// Domains of verified owners: register and verify by DNS, list, search.
    Domain {
        #[command(subcommand)]
        what: DomainCmd,
    },
    /// Alert subscriptions of e-mail addresses (people subscribe themselves on the web page
    /// or with `POST /api/v1/subscriptions`; this is for the operator).
    Subscribe {
        #[command(subcommand)]
        what: SubscribeCmd,
    },
    /// Which accounts of a password-hash export (pwdump/secretsdump `user:rid:lm:ntlm:::`,
    /// `user,ntlm` CSV, or SHA-1 list) use a password seen in a breach, how often it was seen,
    /// and which accounts share a password. Hashes are not printed unless --show-hashes.
    Audit {
        #[command(flatten)]
        data: DataArg,
        /// The export file, or `-` for standard input.
        export: String,
        /// Export format; detected from the first account line by default.
        #[arg(long, value_enum, default_value_t = AuditFormatArg::Auto)]
        format: AuditFormatArg,
        /// Report as a table, CSV (exposed accounts) or JSON (everything).
        #[arg(long, value_enum, default_value_t = AuditOutput::Text)]
        output: AuditOutput,
        /// Include each exposed account's hash in the report.
        #[arg(long)]
        show_hashes: bool,
    },
    /// The vendor inventory and the supply-chain impact of breaches on it.
    Vendors {
        #[command(subcommand)]
        what: VendorsCmd,
    },
    /// Look-alike domains: every typo, homoglyph/IDN, bit-flip and TLD variant of a domain,
    /// or a verdict for one sender.
    Lookalike {
        #[command(subcommand)]
        what: LookalikeCmd,
    },
    /// Shell completions for bash, zsh, fish, elvish or PowerShell, on standard output
    /// (e.g. `leakwatch completions bash > /etc/bash_completion.d/leakwatch`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The manual page (roff) on standard output (e.g. `leakwatch manpage > leakwatch.1`).
    Manpage,
    /// Segments, hashes and bytes per hash.
    Stats {
        #[command(flatten)]
        data: DataArg,
        /// Also decode every segment and compare its size with the information-theoretic
        /// floor, counts' entropy included.
        #[arg(long)]
        deep: bool,
    },
    /// Merge each namespace's segments into one, and the alias files into one.
    /// With the operator key, the aliases of forgotten accounts leave the alias files too.
    Compact {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        key: OperatorKeyArg,
    },
    /// Check every checksum of every store file and every catalogue page.
    Verify {
        #[command(flatten)]
        data: DataArg,
    },
    /// Erase account identifiers from every breach: from the next publication on they are
    /// never answered (searches, ranges, domain search, alerts), the next compaction drops
    /// them from the files, and a later import of a dump that holds them cannot bring them
    /// back. Every reading of an identifier is forgotten (a phone-like string is also a
    /// username).
    Forget {
        #[command(flatten)]
        data: DataArg,
        /// Region for phone numbers written without a country code (ISO 3166).
        #[arg(long, env = "LEAKWATCH_DEFAULT_REGION")]
        default_region: Option<String>,
        /// Compact the account segments now, so the keys leave the files at once (and, with
        /// the operator key, their e-mail aliases leave the alias files).
        #[arg(long)]
        compact: bool,
        #[command(flatten)]
        key: OperatorKeyArg,
        /// The identifiers: e-mail addresses, phone numbers, usernames.
        #[arg(required = true)]
        identifiers: Vec<String>,
    },
    /// Copy the data directory into DEST while it serves and imports: one consistent
    /// published generation of the store and an online copy of the catalogue.
    Backup {
        #[command(flatten)]
        data: DataArg,
        /// Where to put the backup: a new or empty directory.
        dest: PathBuf,
    },
    /// Restore a backup into a new data directory, after checking every checksum in it.
    Restore {
        #[command(flatten)]
        data: DataArg,
        /// The backup (a directory written by `leakwatch backup`).
        src: PathBuf,
    },
    /// The configuration file: an example with every setting, or a check of one.
    Config {
        #[command(subcommand)]
        what: ConfigCmd,
    },
    /// Bring the data directory's formats up to this build's versions (back up first).
    ///
    /// leakwatch never upgrades a file on its own: a catalogue written by an older release
    /// is refused (`serve` does not start) until this converts it. Store files of every
    /// released format are read as they are and need nothing.
    Migrate {
        #[command(flatten)]
        data: DataArg,
    },
    /// Generate synthetic, fictional corpora.
    Gen {
        #[command(subcommand)]
        what: GenWhat,
    },
    /// Build a small demo store on first run, then serve it.
    Demo {
        /// Data directory for the demo store.
        #[arg(long, env = "LEAKWATCH_DEMO_DATA")]
        data: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
}

#[derive(Subcommand)]
enum BreachCmd {
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

#[derive(Subcommand)]
enum KeysCmd {
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
        /// Last valid day, YYYY-MM-DD.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List keys (never the keys themselves: id, prefix, name, allowance, state).
    List {
        #[command(flatten)]
        data: DataArg,
    },
    /// Revoke a key by id or prefix; the server refuses it within a second.
    Revoke {
        #[command(flatten)]
        data: DataArg,
        /// Id or 6-digit prefix.
        key: String,
    },
}

/// Breach fields settable from the command line (HIBP's Breach model).
#[derive(clap::Args)]
struct BreachFields {
    /// Name: the stable identifier (letters, digits, - _ .).
    #[arg(long)]
    name: Option<String>,
    /// Title: the display name (defaults to the Name).
    #[arg(long)]
    title: Option<String>,
    /// Domain of the breached service.
    #[arg(long)]
    domain: Option<String>,
    /// BreachDate, YYYY-MM-DD.
    #[arg(long)]
    breach_date: Option<String>,
    /// PwnCount (computed by dump imports).
    #[arg(long)]
    pwn_count: Option<u64>,
    /// Description (HTML).
    #[arg(long)]
    description: Option<String>,
    /// LogoPath.
    #[arg(long)]
    logo_path: Option<String>,
    /// DataClasses, comma-separated HIBP names, e.g. "Email addresses,Passwords".
    #[arg(long)]
    data_classes: Option<String>,
    /// The vendor through which the data left (supply-chain breaches).
    #[arg(long)]
    vendor: Option<String>,
    /// IsVerified (default true).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    verified: Option<bool>,
    /// IsFabricated.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    fabricated: Option<bool>,
    /// IsSensitive: never returned by account searches.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    sensitive: Option<bool>,
    /// IsSpamList.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    spam_list: Option<bool>,
    /// IsMalware.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    malware: Option<bool>,
    /// IsSubscriptionFree.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    subscription_free: Option<bool>,
    /// IsStealerLog.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    stealer_log: Option<bool>,
}

impl BreachFields {
    fn apply(self, b: &mut leakwatch_catalog::Breach) {
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

/// Mail delivery for the private check and alerts.
#[derive(clap::Args, Clone)]
struct MailArgs {
    /// SMTP server: smtp://HOST:PORT (no TLS: loopback only), smtp://HOST:587?tls=required
    /// (STARTTLS), smtps://HOST:465 (implicit TLS); USER:PASSWORD@ before the host for
    /// credentials. Needs the operator key, which seals queued mail. Without it, mail
    /// features answer 503.
    #[arg(long, env = "LEAKWATCH_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// PEM file of a private CA to trust for the SMTP server's TLS certificate (besides the
    /// public roots).
    #[arg(long, env = "LEAKWATCH_SMTP_CA_FILE")]
    smtp_ca_file: Option<PathBuf>,
    /// File holding the SMTP password for the user named in --smtp-url (USER@HOST), so the
    /// password is in neither the environment nor the process list.
    #[arg(long, env = "LEAKWATCH_SMTP_PASSWORD_FILE")]
    smtp_password_file: Option<PathBuf>,
    /// Checks and subscriptions one client IP may ask for per hour.
    #[arg(long, env = "LEAKWATCH_CHECK_LIMIT_PER_IP", default_value_t = 10)]
    check_limit_per_ip: u32,
    /// Checks and subscriptions one address may receive per day.
    #[arg(long, env = "LEAKWATCH_CHECK_LIMIT_PER_ADDRESS", default_value_t = 3)]
    check_limit_per_address: u32,
    /// Sender of leakwatch's mails.
    #[arg(
        long,
        env = "LEAKWATCH_MAIL_FROM",
        default_value = "leakwatch <leakwatch@localhost>"
    )]
    mail_from: String,
    /// The URL people reach this server at, quoted in mails (default: http:// and the
    /// address it listens on).
    #[arg(long, env = "LEAKWATCH_PUBLIC_URL")]
    public_url: Option<String>,
    /// Seconds before a failed delivery is tried again; doubles with each failure, up to
    /// an hour.
    #[arg(long, env = "LEAKWATCH_MAIL_RETRY_AFTER", default_value_t = 30)]
    mail_retry_after: u64,
}

/// Where the operator key comes from: `--operator-key-file` (or
/// `LEAKWATCH_OPERATOR_KEY_FILE`), else `LEAKWATCH_OPERATOR_KEY`. Never a plain flag: the
/// process list would show it.
#[derive(clap::Args, Clone)]
struct OperatorKeyArg {
    /// File holding the operator key (64 hex digits) that seals e-mail aliases.
    #[arg(long, env = "LEAKWATCH_OPERATOR_KEY_FILE")]
    operator_key_file: Option<PathBuf>,
}

impl OperatorKeyArg {
    fn load(&self) -> Result<Option<OperatorKey>> {
        let text = match &self.operator_key_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading the operator key from {}", path.display()))?,
            None => match std::env::var("LEAKWATCH_OPERATOR_KEY") {
                Ok(v) => v,
                Err(_) => return Ok(None),
            },
        };
        Ok(Some(OperatorKey::from_hex(&text)?))
    }
}

/// The server's log format (`serve --log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// Sends the server's log events (`tracing`) to standard error in `format`: its own lines,
/// the access log (`--access-log`, target `leakwatch::access`), the outbox worker's. Events
/// carry route templates, counts and error kinds, never a queried value.
fn start_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print a configuration file with every setting, its variable and its default, commented.
    Example,
    /// Check a configuration file: every unknown setting or bad value, with its line.
    Check {
        /// The file (default: the one leakwatch would read; see --config).
        file: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Email,
    Phone,
    Username,
}

#[derive(Subcommand)]
enum OperatorKeyCmd {
    /// Print a new random operator key (64 hex digits). Keep it outside the data directory.
    Generate,
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
enum VendorsCmd {
    /// Adds a vendor, or replaces the one with this name.
    Add {
        #[command(flatten)]
        data: DataArg,
        /// The vendor's name.
        name: String,
        /// Its domains (comma-separated or repeated).
        #[arg(long = "domain", value_delimiter = ',')]
        domains: Vec<String>,
        /// The data classes you send it, HIBP's names, comma-separated.
        #[arg(long, value_delimiter = ',')]
        data_classes: Vec<String>,
        /// 1 (could do without) to 5 (business stops without it).
        #[arg(long)]
        criticality: u8,
        /// Who owns the relationship (an e-mail address gets the impact alerts).
        #[arg(long, default_value = "")]
        owner: String,
        /// Notes.
        #[arg(long, default_value = "")]
        notes: String,
    },
    /// Replaces the inventory with a CSV (name,domains,data_classes,criticality,owner,notes;
    /// lists `;`-separated) or JSON file (an array), by extension; all or nothing.
    Import {
        #[command(flatten)]
        data: DataArg,
        /// The file (.csv or .json).
        file: PathBuf,
    },
    /// Writes the inventory as CSV or JSON.
    Export {
        #[command(flatten)]
        data: DataArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = VendorFormat::Csv)]
        format: VendorFormat,
    },
    /// Lists the inventory.
    List {
        #[command(flatten)]
        data: DataArg,
    },
    /// Removes a vendor.
    Remove {
        #[command(flatten)]
        data: DataArg,
        /// The vendor's name.
        name: String,
    },
    /// The supply-chain impact of BREACH (or of every breach that hits a vendor): vendors
    /// hit, your data classes exposed, your verified domains' addresses in it, risk, actions.
    Impact {
        #[command(flatten)]
        data: DataArg,
        /// The breach's Name; all matching breaches when omitted.
        breach: Option<String>,
        /// Text, JSON, or a printable HTML page.
        #[arg(long, value_enum, default_value_t = ImpactFormat::Text)]
        format: ImpactFormat,
        #[command(flatten)]
        key: OperatorKeyArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum VendorFormat {
    Csv,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ImpactFormat {
    Text,
    Json,
    Html,
}

#[derive(Subcommand)]
enum LookalikeCmd {
    /// Every variant of DOMAIN with its kind, in Unicode and punycode.
    Generate {
        /// The domain (IDN or punycode).
        domain: String,
        /// Words for the dictionary kind, one per line.
        #[arg(long)]
        dictionary: Option<PathBuf>,
        /// Top-level domains for the TLD-swap kind, one per line.
        #[arg(long)]
        tld: Option<PathBuf>,
        /// Print JSON instead of `kind<TAB>unicode<TAB>punycode` lines.
        #[arg(long)]
        json: bool,
    },
    /// Whether SENDER (a domain or an address) imitates one of the protected domains, and how.
    Check {
        /// The sender's domain or address.
        sender: String,
        /// A domain to protect (repeat for several).
        #[arg(long = "protect", required = true)]
        protect: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum AuditFormatArg {
    Auto,
    Pwdump,
    Csv,
    Sha1,
}

#[derive(Clone, Copy, ValueEnum)]
enum AuditOutput {
    Text,
    Csv,
    Json,
}

#[derive(Subcommand)]
enum SubscribeCmd {
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
enum DomainCmd {
    /// Registers DOMAIN for an API key (with --contact) and verifies it: by its DNS TXT
    /// record, or by the operator's word (--trust). Prints the TXT record to publish.
    Verify {
        #[command(flatten)]
        data: DataArg,
        /// The domain (IDN or punycode).
        domain: String,
        /// The API key (its 6-digit prefix or id) that may then search the domain.
        #[arg(long = "key")]
        api_key: String,
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
    /// Every registered domain: API key, domain, contact, verified or not.
    List {
        #[command(flatten)]
        data: DataArg,
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
enum CheckWhat {
    /// The breaches an account (e-mail, phone number, username) appears in, with their data
    /// classes. Offline: reads the store and catalogue directly.
    Account {
        #[command(flatten)]
        data: DataArg,
        /// The account.
        account: String,
        /// Region for a phone number without a country code (ISO 3166, e.g. GB).
        #[arg(long, env = "LEAKWATCH_DEFAULT_REGION")]
        default_region: Option<String>,
        /// Print the breaches as HIBP's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every breached address on a domain and its breaches, as HIBP's domain search answers
    /// (`{"alias": ["Breach", ...]}`); needs the operator key. Retired breaches are left
    /// out; sensitive ones are listed, as for a verified domain owner.
    Domain {
        #[command(flatten)]
        data: DataArg,
        /// The domain (IDN or punycode).
        domain: String,
        #[command(flatten)]
        key: OperatorKeyArg,
    },
    /// How often a password was seen. Reads it from standard input, or asks without echo;
    /// never from the command line, where other users and shell history could see it.
    Password {
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Subcommand)]
enum GenWhat {
    /// Password corpora: Pwned Passwords lines, a range directory, or a plaintext list.
    Passwords {
        /// Lines (distinct hashes for sha1/ntlm, passwords for plain).
        #[arg(long, default_value_t = 1000, value_parser = parse_count)]
        count: u64,
        /// Seed: the same seed gives the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GenFormatArg::Sha1)]
        format: GenFormatArg,
        /// Output file (`-` = stdout); a directory for `--dir`.
        #[arg(long, default_value = "-")]
        out: PathBuf,
        /// Write a downloader-style range directory instead of one file.
        #[arg(long)]
        dir: bool,
    },
    /// A breach dump of fictional accounts: e-mail, username, phone, password.
    Dump {
        /// Lines (accounts), not counting a header.
        #[arg(long, default_value_t = 1000, value_parser = parse_count)]
        count: u64,
        /// Seed: the same seed gives the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DumpFormatArg::Combo)]
        format: DumpFormatArg,
        /// Separator of combo lines.
        #[arg(long, value_enum, default_value_t = SeparatorArg::Colon)]
        separator: SeparatorArg,
        /// Malformed lines, in percent.
        #[arg(long, default_value_t = 5.0)]
        malformed: f64,
        /// Output file (`-` = stdout).
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DumpFormatArg {
    /// `email<sep>password` lines.
    Combo,
    /// CSV with a header.
    Csv,
    /// TSV with a header.
    Tsv,
    /// JSON Lines.
    Jsonl,
}

#[derive(Clone, Copy, ValueEnum)]
enum SeparatorArg {
    Colon,
    Semicolon,
    Pipe,
    Tab,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Auto,
    Hibp,
    HibpDir,
    Plain,
    Combo,
    Csv,
    Tsv,
    Jsonl,
}

#[derive(Clone, Copy, ValueEnum)]
enum GenFormatArg {
    Sha1,
    Ntlm,
    Plain,
}

fn parse_size(s: &str) -> Result<usize, String> {
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

fn parse_count(s: &str) -> Result<u64, String> {
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

fn store_dir(data: &Path) -> Result<Arc<dyn Directory>> {
    let dir = MmapDirectory::open(data.join("store"))
        .with_context(|| format!("opening store in {}", data.display()))?;
    Ok(Arc::new(dir))
}

/// Lets a closed pipe end the program quietly (`leakwatch gen … | head`, `leakwatch breach
/// list | less`), as it ends other Unix tools, instead of a panic in `println!`. Not for
/// `serve`: there a peer that hangs up must cost one connection, not the process.
#[cfg(unix)]
fn die_quietly_on_closed_pipe() {
    // SAFETY: `signal` with SIG_DFL for SIGPIPE installs no Rust code as a handler, and it
    // runs before this program starts any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // `config check` reads the file itself: a broken file must not stop it.
    let checking_config =
        args.iter().skip(1).find(|a| !a.starts_with('-')) == Some(&"config".to_owned());
    if !checking_config {
        let applied = config::locate(&args).and_then(|file| match file {
            Some(file) => config::apply(&file),
            None => Ok(()),
        });
        if let Err(e) = applied {
            eprint!("{}", error_report(&e));
            return std::process::ExitCode::FAILURE;
        }
    }
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprint!("{}", error_report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error as an operator reads it: `Error:` and the message, then each cause the message
/// does not already quote, then a hint for what the operator can fix (a full disk). No
/// backtrace: that is for a debugger, not for a terminal.
fn error_report(e: &anyhow::Error) -> String {
    let mut report = format!("Error: {e}\n");
    let mut said = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !said.contains(&cause) {
            report.push_str(&format!("  caused by: {cause}\n"));
            said.push_str(&cause);
        }
    }
    let disk_full = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        })
    });
    if disk_full {
        report.push_str(
            "hint: the disk is full (or a quota is reached). What was being written was not published and its partial \
             files were removed, so the data directory answers as it did before. Free some \
             space and run the command again.\n",
        );
    }
    report
}

fn run(cli: Cli) -> Result<()> {
    #[cfg(unix)]
    if !matches!(cli.command, Command::Serve { .. } | Command::Demo { .. }) {
        die_quietly_on_closed_pipe();
    }
    match cli.command {
        Command::Serve {
            data,
            listen,
            default_region,
            mail,
            key,
            dns_resolver,
            tls_cert,
            tls_key,
            access_log,
            log_format,
        } => {
            start_logging(log_format);
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => {
                    Some(leakwatch_api::tls_config(&cert, &key).map_err(anyhow::Error::msg)?)
                }
                _ => None,
            };
            serve(
                &data.data,
                Serving {
                    listen,
                    default_region,
                    access_log,
                    mail: Some(mail),
                    key,
                    dns_resolver,
                    tls,
                    banner: None,
                },
            )
        }
        Command::Ingest {
            data,
            source,
            format,
            breach,
            map,
            identifier,
            default_region,
            key,
            no_aliases,
            memory,
            threads,
            rejects,
            quiet,
        } => {
            let mut opts = IngestOptions::new(&data.data);
            opts.format = match format {
                FormatArg::Auto => None,
                FormatArg::Hibp => Some(Format::Hibp),
                FormatArg::HibpDir => Some(Format::HibpDir),
                FormatArg::Plain => Some(Format::Plain),
                FormatArg::Combo => Some(Format::Combo),
                FormatArg::Csv => Some(Format::Csv),
                FormatArg::Tsv => Some(Format::Tsv),
                FormatArg::Jsonl => Some(Format::Jsonl),
            };
            opts.dump.map = map;
            opts.dump.identifier = identifier.map(|k| match k {
                KindArg::Email => leakwatch_identity::Kind::Email,
                KindArg::Phone => leakwatch_identity::Kind::Phone,
                KindArg::Username => leakwatch_identity::Kind::Username,
            });
            opts.dump.default_region = default_region;
            if let Some(name) = &breach {
                if catalog(&data.data)?.get(name)?.is_none() {
                    bail!(
                        "no breach named {name:?} in the catalogue: add it first with `leakwatch breach add --name {name} --breach-date YYYY-MM-DD ...`"
                    );
                }
                if !no_aliases {
                    opts.operator_key = Some(key.load()?.context(
                        "a dump import seals e-mail aliases (for domain search) under the operator key: \
                         set LEAKWATCH_OPERATOR_KEY or --operator-key-file (make one with \
                         `leakwatch operator-key generate`), or pass --no-aliases",
                    )?);
                }
            }
            opts.breach = breach;
            opts.memory = memory;
            if let Some(t) = threads {
                opts.threads = t;
            }
            if let Some(r) = rejects {
                opts.rejects_path = r;
            }
            opts.progress = !quiet;
            ingest(&data.data, &Source::from_arg(&source), &opts)
        }
        Command::Breach { what } => breach(what),
        Command::Keys { what } => keys(what),
        Command::OperatorKey {
            what: OperatorKeyCmd::Generate,
        } => {
            println!("{}", OperatorKey::generate_hex());
            Ok(())
        }
        Command::OperatorKey {
            what:
                OperatorKeyCmd::Rotate {
                    data,
                    old_key_file,
                    key,
                    memory,
                },
        } => {
            let new = key
                .load()?
                .context("set the new key in LEAKWATCH_OPERATOR_KEY or --operator-key-file")?;
            let old = OperatorKeyArg {
                operator_key_file: Some(old_key_file),
            }
            .load()?
            .context("reading the old key")?;
            if old.id() == new.id() {
                bail!("the old and the new key are the same");
            }
            let mut writer = StoreWriter::open(store_dir(&data.data)?)?;
            let s =
                leakwatch_ingest::reseal(&mut writer, &old, &new, &data.data.join("tmp"), memory)?;
            if s.files == 0 {
                println!(
                    "nothing to re-seal: every alias file is under key {}",
                    new.id()
                );
            } else {
                println!(
                    "re-sealed {} alias files ({} records) from key {} to key {}; published generation {}",
                    s.files,
                    s.records,
                    old.id(),
                    new.id(),
                    s.generation
                );
            }
            Ok(())
        }
        Command::Check {
            what: CheckWhat::Password { data },
        } => check_password(&data.data),
        Command::Check {
            what:
                CheckWhat::Account {
                    data,
                    account,
                    default_region,
                    json,
                },
        } => check_account(&data.data, &account, default_region.as_deref(), json),
        Command::Check {
            what: CheckWhat::Domain { data, domain, key },
        } => check_domain(&data.data, &domain, &key),
        Command::Domain { what } => domain_cmd(what),
        Command::Subscribe { what } => subscribe_cmd(what),
        Command::Lookalike { what } => lookalike_cmd(what),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "leakwatch",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Manpage => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Vendors { what } => vendors_cmd(what),
        Command::Audit {
            data,
            export,
            format,
            output,
            show_hashes,
        } => audit_cmd(&data.data, &export, format, output, show_hashes),
        Command::Stats { data, deep } => stats(&data.data, deep),
        Command::Sync {
            data,
            from,
            mode,
            parallel,
            timeout,
            retries,
            ca_cert,
            json,
            quiet,
        } => {
            let options = leakwatch_mirror::SyncOptions {
                source: leakwatch_mirror::Source::parse(&from)?,
                namespaces: match mode {
                    SyncMode::Sha1 => vec![Namespace::Sha1],
                    SyncMode::Ntlm => vec![Namespace::Ntlm],
                    SyncMode::Both => vec![Namespace::Sha1, Namespace::Ntlm],
                },
                parallel,
                timeout: std::time::Duration::from_secs(timeout.max(1)),
                retries,
                ca_cert,
                progress: !quiet,
                work_dir: data.data.join("sync"),
            };
            let reports = leakwatch_mirror::sync(store_dir(&data.data)?, &options)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
                return Ok(());
            }
            for r in &reports {
                let what = match r.published_generation {
                    Some(g) => format!("published generation {g}"),
                    None => "nothing changed, nothing published".to_owned(),
                };
                println!(
                    "{}: {} ranges changed, {} ETags refreshed; {} fetched ({} not modified, {} resumed from an interrupted sync), {:.1} MB received, {} retries, {} rejected lines; {} hashes; {what} in {:.1} s",
                    r.namespace,
                    r.changed,
                    r.etags_only,
                    r.fetched,
                    r.not_modified,
                    r.resumed,
                    r.bytes as f64 / 1e6,
                    r.retries,
                    r.rejected_lines,
                    r.hashes,
                    r.seconds
                );
            }
            Ok(())
        }
        Command::Compact { data, key } => {
            let mut w = StoreWriter::open(store_dir(&data.data)?)?;
            for ns in Namespace::ALL {
                match w.compact(ns)? {
                    Some(s) => println!(
                        "{ns}: merged {} segments into one: {} hashes, {} -> {} bytes",
                        s.merged, s.hashes, s.bytes_before, s.bytes_after
                    ),
                    None => println!("{ns}: nothing to compact"),
                }
            }
            compact_aliases(&mut w, &data.data, &key)
        }
        Command::Verify { data } => {
            let snap = Snapshot::open(store_dir(&data.data)?.as_ref())?;
            snap.verify().context("verification failed")?;
            let m = snap.manifest();
            println!(
                "ok: manifest, {} segments and {} alias files verified (generation {})",
                m.segments.len(),
                m.aliases.len(),
                snap.generation()
            );
            let path = data.data.join("catalog.db");
            if path.exists() {
                let check = match catalog(&data.data) {
                    Ok(c) => c.verify(&path).context("verification failed")?,
                    Err(e) => {
                        // Too damaged to open: the page scan may still say where.
                        leakwatch_catalog::checksums::verify_file(&path)
                            .context("verification failed")?;
                        return Err(e.context("verification failed"));
                    }
                };
                println!(
                    "ok: catalogue, {} pages of {} bytes verified",
                    check.pages, check.page_size
                );
            }
            Ok(())
        }
        Command::Forget {
            data,
            default_region,
            compact,
            key,
            identifiers,
        } => {
            let mut keys = Vec::new();
            for raw in &identifiers {
                let readings =
                    leakwatch_identity::lookup_candidates(raw, default_region.as_deref())
                        .map_err(|e| anyhow::anyhow!("an identifier: {e}"))?;
                keys.extend(
                    readings
                        .iter()
                        .map(|c| leakwatch_api::account::account_key(c.as_str())),
                );
            }
            let mut writer = StoreWriter::open(store_dir(&data.data)?)?;
            let forgotten = keys.len();
            let generation = writer.forget(keys)?.generation;
            println!(
                "forgot {} identifier(s) ({forgotten} key(s)): never answered from generation {generation} on",
                identifiers.len(),
            );
            if compact {
                writer.compact(Namespace::Account)?;
                println!("account segments compacted: the keys are gone from the files");
                compact_aliases(&mut writer, &data.data, &key)?;
            } else {
                println!("they leave the segment files at the next `leakwatch compact`");
            }
            Ok(())
        }
        Command::Backup { data, dest } => backup(&data.data, &dest),
        Command::Restore { data, src } => restore(&src, &data.data),
        Command::Config { what } => match what {
            ConfigCmd::Example => {
                print!("{}", config::example());
                Ok(())
            }
            ConfigCmd::Check { file } => {
                let args: Vec<String> = std::env::args().collect();
                let file = match file {
                    Some(f) => f,
                    None => config::locate(&args)?
                        .context("no configuration file: none given and none in the search path")?,
                };
                let n = config::check_file(&file)?;
                println!("{}: ok, {n} setting(s)", file.display());
                Ok(())
            }
        },
        Command::Migrate { data } => {
            let path = data.data.join("catalog.db");
            match leakwatch_catalog::Catalog::migrate(&path)
                .with_context(|| format!("migrating {}", path.display()))?
            {
                Some(found) => println!(
                    "catalogue: schema version {found} → {}",
                    leakwatch_catalog::SCHEMA_VERSION
                ),
                None => println!(
                    "catalogue: schema version {}, nothing to do",
                    leakwatch_catalog::SCHEMA_VERSION
                ),
            }
            let snap = Snapshot::open(store_dir(&data.data)?.as_ref())?;
            println!(
                "store: generation {}, manifest format {}: read as it is",
                snap.generation(),
                snap.manifest().format_version
            );
            Ok(())
        }
        Command::Gen {
            what:
                GenWhat::Passwords {
                    count,
                    seed,
                    format,
                    out,
                    dir,
                },
        } => {
            let format = match format {
                GenFormatArg::Sha1 => GenFormat::Sha1,
                GenFormatArg::Ntlm => GenFormat::Ntlm,
                GenFormatArg::Plain => GenFormat::Plain,
            };
            if dir {
                if format == GenFormat::Plain {
                    bail!("--dir writes hashes: use --format sha1 or ntlm");
                }
                return Ok(leakwatch_gen::write_range_dir(&out, format, count, seed)?);
            }
            let result = if out.as_os_str() == "-" {
                leakwatch_gen::write_passwords(&mut std::io::stdout().lock(), format, count, seed)
            } else {
                leakwatch_gen::write_passwords(
                    &mut std::fs::File::create(&out)?,
                    format,
                    count,
                    seed,
                )
            };
            match result {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => Ok(other?),
            }
        }
        Command::Gen {
            what:
                GenWhat::Dump {
                    count,
                    seed,
                    format,
                    separator,
                    malformed,
                    out,
                },
        } => {
            let sep = match separator {
                SeparatorArg::Colon => b':',
                SeparatorArg::Semicolon => b';',
                SeparatorArg::Pipe => b'|',
                SeparatorArg::Tab => b'\t',
            };
            let format = match format {
                DumpFormatArg::Combo => leakwatch_gen::DumpFormat::Combo(sep),
                DumpFormatArg::Csv => leakwatch_gen::DumpFormat::Csv,
                DumpFormatArg::Tsv => leakwatch_gen::DumpFormat::Tsv,
                DumpFormatArg::Jsonl => leakwatch_gen::DumpFormat::Jsonl,
            };
            if !(0.0..=100.0).contains(&malformed) {
                bail!("--malformed is a percentage from 0 to 100");
            }
            let per_mille = (malformed * 10.0).round() as u64;
            write_to(&out, |w| {
                leakwatch_gen::write_dump(w, format, count, seed, per_mille)
            })
        }
        Command::Demo { data, listen } => demo(data, listen),
    }
}

fn catalog(data: &Path) -> Result<leakwatch_catalog::Catalog> {
    let path = data.join("catalog.db");
    leakwatch_catalog::Catalog::open(&path).with_context(|| format!("opening {}", path.display()))
}

fn breach(cmd: BreachCmd) -> Result<()> {
    use leakwatch_catalog::Breach;
    let show = |b: &Breach| -> Result<()> {
        println!("{}", serde_json::to_string_pretty(b)?);
        Ok(())
    };
    match cmd {
        BreachCmd::Add { data, from, fields } => {
            let mut b = match &from {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let is_toml = path
                        .extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
                    Breach::from_manifest(&text, is_toml)?
                }
                None => {
                    let (Some(name), Some(date)) = (&fields.name, &fields.breach_date) else {
                        bail!("give --name and --breach-date, or --from MANIFEST");
                    };
                    Breach::from_manifest(
                        &serde_json::json!({ "Name": name, "BreachDate": date }).to_string(),
                        false,
                    )?
                }
            };
            fields.apply(&mut b);
            show(&catalog(&data.data)?.add(b)?)
        }
        BreachCmd::Edit {
            data,
            breach,
            fields,
        } => {
            // The store links accounts to breaches by Name: renaming one it knows would
            // orphan those links.
            if let Some(new) = &fields.name
                && new != &breach
                && Snapshot::open(store_dir(&data.data)?.as_ref())?
                    .manifest()
                    .breach_id(&breach)
                    .is_some()
            {
                bail!(
                    "{breach:?} has accounts loaded in the store, which links them by Name: it cannot be renamed to {new:?} (its Title can change freely)"
                );
            }
            show(&catalog(&data.data)?.edit(&breach, |b| fields.apply(b))?)
        }
        BreachCmd::Import { data, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let n = catalog(&data.data)?.import_hibp_json(&text)?;
            println!("imported {n} breaches from {}", file.display());
            Ok(())
        }
        BreachCmd::List { data, json } => {
            let all = catalog(&data.data)?.all()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!(
                    "{:<24} {:<12} {:>12}  {:<28} FLAGS",
                    "NAME", "DATE", "PWNCOUNT", "DOMAIN"
                );
                for b in &all {
                    let flags: Vec<&str> = [
                        (b.is_retired, "retired"),
                        (b.is_sensitive, "sensitive"),
                        (!b.is_verified, "unverified"),
                        (b.is_spam_list, "spam-list"),
                        (b.is_fabricated, "fabricated"),
                        (b.is_malware, "malware"),
                        (b.is_stealer_log, "stealer-log"),
                    ]
                    .into_iter()
                    .filter_map(|(on, label)| on.then_some(label))
                    .collect();
                    println!(
                        "{:<24} {:<12} {:>12}  {:<28} {}",
                        b.name,
                        b.breach_date,
                        b.pwn_count,
                        b.domain,
                        flags.join(",")
                    );
                }
            }
            Ok(())
        }
        BreachCmd::Show { data, breach } => {
            let b = catalog(&data.data)?
                .get(&breach)?
                .with_context(|| format!("no breach named {breach:?}"))?;
            show(&b)
        }
        BreachCmd::Retire { data, breach } => show(&catalog(&data.data)?.retire(&breach)?),
    }
}

fn keys(cmd: KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::Create {
            data,
            name,
            rpm,
            expires,
        } => {
            let (key, secret) = catalog(&data.data)?.create_key(&name, rpm, expires.as_deref())?;
            println!("{secret}");
            eprintln!(
                "created key {} (prefix {}) for {:?}, {} requests per minute{}; it is shown only now",
                key.id,
                key.prefix,
                key.name,
                key.rpm,
                key.expires
                    .map(|e| format!(", valid until {e}"))
                    .unwrap_or_default()
            );
        }
        KeysCmd::List { data } => {
            println!(
                "{:>4}  {:<8} {:<24} {:>6}  {:<20}  STATE",
                "ID", "PREFIX", "NAME", "RPM", "CREATED"
            );
            let now = leakwatch_catalog::now_unix();
            for k in catalog(&data.data)?.keys()? {
                let state = match (&k.revoked, k.is_usable(now)) {
                    (Some(when), _) => format!("revoked {when}"),
                    (None, false) => "expired".to_owned(),
                    (None, true) => k
                        .expires
                        .as_ref()
                        .map(|e| format!("active until {e}"))
                        .unwrap_or("active".into()),
                };
                println!(
                    "{:>4}  {:<8} {:<24} {:>6}  {:<20}  {state}",
                    k.id, k.prefix, k.name, k.rpm, k.created
                );
            }
        }
        KeysCmd::Revoke { data, key } => {
            let k = catalog(&data.data)?.revoke_key(&key)?;
            println!("revoked key {} (prefix {}) of {:?}", k.id, k.prefix, k.name);
        }
    }
    Ok(())
}

/// Runs a generator into a file or, for `-`, standard output (a closed pipe is not an error).
fn write_to(
    out: &Path,
    generate: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let result = if out.as_os_str() == "-" {
        generate(&mut std::io::stdout().lock())
    } else {
        generate(
            &mut std::fs::File::create(out)
                .with_context(|| format!("creating {}", out.display()))?,
        )
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn ingest(data: &Path, source: &Source, opts: &IngestOptions) -> Result<()> {
    let mut writer = StoreWriter::open(store_dir(data)?)?;
    let s = leakwatch_ingest::ingest(&mut writer, source, opts)?;
    if s.already_imported {
        println!(
            "{}: already imported ({}); the store is unchanged",
            source.label(),
            s.fingerprint
        );
        // A crash between publishing and updating the catalogue is repaired here.
        if let Some(breach) = &s.breach {
            record_breach_import(data, breach, &s)?;
        }
        return Ok(());
    }
    println!(
        "{}: {} lines read, {} accepted, {} rejected in {:.1}s ({:.0} lines/s), format {:?}",
        source.label(),
        s.lines,
        s.accepted,
        s.rejected,
        s.seconds,
        s.lines as f64 / s.seconds.max(1e-9),
        s.format
    );
    for (ns, n) in [
        (Namespace::Sha1, s.sha1),
        (Namespace::Ntlm, s.ntlm),
        (Namespace::Account, s.accounts),
    ] {
        if n.distinct > 0 {
            println!(
                "  {ns}: {} distinct hashes, {} new, segment {} bytes",
                n.distinct, n.new, n.bytes
            );
        }
    }
    if s.aliases > 0 {
        println!("  {} sealed alias and domain records", s.aliases);
    }
    if let Some(path) = &s.rejects_file {
        println!("  rejected lines sampled to {}", path.display());
    }
    println!("  published generation {}", s.generation);
    if let Some(breach) = &s.breach {
        record_breach_import(data, breach, &s)?;
    }
    Ok(())
}

/// Brings the catalogue entry up to date after a dump import: PwnCount is the number of
/// distinct accounts the store links to the breach (all its imports), and the data classes
/// gain what the dump was seen to hold.
fn record_breach_import(data: &Path, breach: &str, s: &leakwatch_ingest::Summary) -> Result<()> {
    let seen = s.fields_seen;
    let update = |b: &mut leakwatch_catalog::Breach| {
        b.pwn_count = s.breach_accounts;
        for (n, class) in [
            (seen.emails, "Email addresses"),
            (seen.phones, "Phone numbers"),
            (seen.usernames, "Usernames"),
            (seen.passwords, "Passwords"),
        ] {
            if n > 0 && !b.data_classes.iter().any(|c| c == class) {
                b.data_classes.push(class.to_owned());
            }
        }
        b.data_classes.sort();
    };
    let mut catalog = catalog(data)?;
    let current = catalog
        .get(breach)?
        .with_context(|| format!("breach {breach:?} left the catalogue during the import"))?;
    let mut wanted = current.clone();
    update(&mut wanted);
    // Only a real change touches ModifiedDate (a repeated import changes nothing).
    let b = if wanted == current {
        current
    } else {
        catalog.edit(breach, update)?
    };
    println!(
        "  breach {}: PwnCount {}, data classes {}",
        b.name,
        b.pwn_count,
        b.data_classes.join(", ")
    );
    Ok(())
}

fn vendors_cmd(cmd: VendorsCmd) -> Result<()> {
    use leakwatch_catalog::vendors::{CSV_HEADER, Vendor};
    let mut out = std::io::stdout().lock();
    match cmd {
        VendorsCmd::Add {
            data,
            name,
            domains,
            data_classes,
            criticality,
            owner,
            notes,
        } => {
            let v = catalog(&data.data)?.put_vendor(Vendor {
                name,
                domains,
                data_classes,
                criticality,
                owner,
                notes,
            })?;
            writeln!(out, "vendor {} stored", v.name)?;
        }
        VendorsCmd::Import { data, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let is_json = file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let vendors: Vec<Vendor> = if is_json {
                serde_json::from_str(&text).context("the JSON must be an array of vendors")?
            } else {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .from_reader(text.as_bytes());
                let mut v = Vec::new();
                for (i, record) in reader.records().enumerate() {
                    let record = record.with_context(|| format!("CSV record {}", i + 1))?;
                    let fields: Vec<&str> = record.iter().collect();
                    v.push(
                        Vendor::from_csv_record(&fields)
                            .with_context(|| format!("CSV record {}", i + 1))?,
                    );
                }
                v
            };
            let n = catalog(&data.data)?.replace_vendors(vendors)?;
            writeln!(out, "{n} vendors imported (the inventory was replaced)")?;
        }
        VendorsCmd::Export { data, format } => {
            let vendors = catalog(&data.data)?.vendors()?;
            match format {
                VendorFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &vendors)?;
                    writeln!(out)?;
                }
                VendorFormat::Csv => {
                    let mut w = csv::Writer::from_writer(out);
                    w.write_record(CSV_HEADER)?;
                    for v in &vendors {
                        w.write_record(v.to_csv_record())?;
                    }
                    w.flush()?;
                }
            }
        }
        VendorsCmd::List { data } => {
            writeln!(out, "name\tcriticality\tdomains\tdata classes\towner")?;
            for v in catalog(&data.data)?.vendors()? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    v.name,
                    v.criticality,
                    v.domains.join(","),
                    v.data_classes.join(","),
                    v.owner
                )?;
            }
        }
        VendorsCmd::Remove { data, name } => {
            anyhow::ensure!(
                catalog(&data.data)?.remove_vendor(&name)?,
                "no vendor {name}"
            );
            writeln!(out, "vendor {name} removed")?;
        }
        VendorsCmd::Impact {
            data,
            breach,
            format,
            key,
        } => {
            let store = StoreHandle::open(store_dir(&data.data)?)?;
            let handle = leakwatch_api::CatalogHandle::new(catalog(&data.data)?)?;
            let mut state = AppState::new(store, handle, ServerLimits::default());
            state.operator_key = key.load()?;
            let cat = catalog(&data.data)?;
            let names: Vec<String> = match breach {
                Some(b) => vec![b],
                None => state
                    .catalog
                    .breaches()
                    .iter()
                    .map(|b| b.name.clone())
                    .collect(),
            };
            let mut reports = Vec::new();
            for name in &names {
                if let Some(r) =
                    leakwatch_api::impact_report(&state, &cat, name).map_err(anyhow::Error::msg)?
                {
                    reports.push(r);
                }
            }
            if reports.is_empty() {
                anyhow::bail!("no vendor in the inventory is hit by {}", names.join(", "));
            }
            match format {
                ImpactFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &reports)?;
                    writeln!(out)?;
                }
                ImpactFormat::Html => {
                    for r in &reports {
                        write!(out, "{}", leakwatch_api::impact::render_html(r))?;
                    }
                }
                ImpactFormat::Text => {
                    for r in &reports {
                        writeln!(out, "{}", leakwatch_api::impact::render_text(r))?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn lookalike_cmd(cmd: LookalikeCmd) -> Result<()> {
    let lines = |path: &Option<PathBuf>| -> Result<Vec<String>> {
        Ok(match path {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("reading {}", p.display()))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        })
    };
    let mut out = std::io::stdout().lock();
    match cmd {
        LookalikeCmd::Generate {
            domain,
            dictionary,
            tld,
            json,
        } => {
            let options = leakwatch_lookalike::Options {
                dictionary: lines(&dictionary)?,
                tlds: lines(&tld)?,
            };
            let variants = leakwatch_lookalike::generate(&domain, &options)
                .map_err(|e| anyhow::anyhow!("{domain}: {e}"))?;
            if json {
                serde_json::to_writer(&mut out, &variants)?;
                writeln!(out)?;
            } else {
                for v in variants {
                    writeln!(out, "{}\t{}\t{}", v.kind, v.unicode, v.punycode)?;
                }
            }
        }
        LookalikeCmd::Check {
            sender,
            protect,
            json,
        } => {
            let verdict = leakwatch_lookalike::check(&sender, &protect)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                serde_json::to_writer(&mut out, &verdict)?;
                writeln!(out)?;
            } else {
                match verdict {
                    leakwatch_lookalike::Verdict::Legitimate { protected } => {
                        writeln!(out, "legitimate: {protected} itself")?
                    }
                    leakwatch_lookalike::Verdict::Lookalike {
                        protected,
                        trick,
                        distance,
                    } => writeln!(
                        out,
                        "LOOK-ALIKE of {protected}: {trick}{}",
                        distance
                            .map(|d| format!(" (edit distance {d})"))
                            .unwrap_or_default()
                    )?,
                    _ => writeln!(out, "clean: imitates none of the protected domains")?,
                }
            }
        }
    }
    Ok(())
}

fn audit_cmd(
    data: &Path,
    export: &str,
    format: AuditFormatArg,
    output: AuditOutput,
    show_hashes: bool,
) -> Result<()> {
    use leakwatch_audit::ExportFormat;
    let format = match format {
        AuditFormatArg::Auto => None,
        AuditFormatArg::Pwdump => Some(ExportFormat::Pwdump),
        AuditFormatArg::Csv => Some(ExportFormat::Csv),
        AuditFormatArg::Sha1 => Some(ExportFormat::Sha1),
    };
    let parsed = if export == "-" {
        leakwatch_audit::read_export(std::io::stdin().lock(), format)?
    } else {
        let file = std::fs::File::open(export).with_context(|| format!("opening {export}"))?;
        leakwatch_audit::read_export(file, format)?
    };
    if parsed.rejected > 0 {
        eprintln!(
            "warning: {} line(s) did not parse and were skipped (lines {:?}{})",
            parsed.rejected,
            parsed.rejected_lines,
            if parsed.rejected as usize > parsed.rejected_lines.len() {
                " …"
            } else {
                ""
            }
        );
    }
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    let report = leakwatch_audit::audit(&snap, &parsed)?;
    let ns = match parsed.format {
        Some(ExportFormat::Sha1) => Namespace::Sha1,
        _ => Namespace::Ntlm,
    };
    let rid = |a: &leakwatch_audit::Account| a.rid.map(|r| r.to_string()).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    match output {
        AuditOutput::Text => {
            writeln!(
                out,
                "{} accounts audited: {} use a password seen in a breach ({:.1}%); {} groups of accounts share a password",
                report.accounts,
                report.exposed.len(),
                100.0 * report.exposed.len() as f64 / report.accounts.max(1) as f64,
                report.shared.len()
            )?;
            for f in &report.exposed {
                write!(
                    out,
                    "{}\t{}\tseen {}\tshared by {}",
                    f.account.user,
                    rid(&f.account),
                    f.seen,
                    f.shared_by
                )?;
                if show_hashes {
                    write!(out, "\t{}", f.account.hash.to_hex(ns))?;
                }
                writeln!(out)?;
            }
        }
        AuditOutput::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let mut header = vec!["user", "rid", "seen", "shared_by"];
            if show_hashes {
                header.push("hash");
            }
            w.write_record(&header)?;
            for f in &report.exposed {
                let mut row = vec![
                    f.account.user.clone(),
                    rid(&f.account),
                    f.seen.to_string(),
                    f.shared_by.to_string(),
                ];
                if show_hashes {
                    row.push(f.account.hash.to_hex(ns));
                }
                w.write_record(&row)?;
            }
            w.flush()?;
        }
        AuditOutput::Json => {
            let exposed: Vec<serde_json::Value> = report
                .exposed
                .iter()
                .map(|f| {
                    let mut v = serde_json::json!({
                        "user": f.account.user,
                        "rid": f.account.rid,
                        "seen": f.seen,
                        "sharedBy": f.shared_by,
                    });
                    if show_hashes {
                        v["hash"] = f.account.hash.to_hex(ns).into();
                    }
                    v
                })
                .collect();
            let shared: Vec<serde_json::Value> = report
                .shared
                .iter()
                .map(|(users, exposed)| serde_json::json!({"users": users, "exposed": exposed}))
                .collect();
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({
                    "format": parsed.format,
                    "accounts": report.accounts,
                    "exposed": exposed,
                    "shared": shared,
                    "rejectedLines": parsed.rejected,
                }),
            )?;
            writeln!(out)?;
        }
    }
    Ok(())
}

fn subscribe_cmd(cmd: SubscribeCmd) -> Result<()> {
    use leakwatch_notify::Subscription;
    let need_key = |key: &OperatorKeyArg| {
        key.load()?.context(
            "subscribers are sealed with the operator key: set LEAKWATCH_OPERATOR_KEY or --operator-key-file",
        )
    };
    let normalize = |email: &str| {
        leakwatch_identity::normalize_email(email)
            .map_err(|e| anyhow::anyhow!("not an e-mail address: {e}"))
    };
    let now = leakwatch_catalog::now_unix();
    match cmd {
        SubscribeCmd::Add { data, email, key } => {
            let operator = need_key(&key)?;
            let s = Subscription::Email {
                email: normalize(&email)?,
            };
            let id = catalog(&data.data)?.put_subscriber(
                &s.digest(&operator),
                &s.seal(&operator),
                None,
                Some(now),
                now,
            )?;
            println!("subscriber {id}: alerts for breaches published from now on");
        }
        SubscribeCmd::List { data, key } => {
            let operator = need_key(&key)?;
            println!("id\twatches\talerts to\tsince\tunsubscribed");
            for row in catalog(&data.data)?.subscribers()? {
                let (watches, to) = match Subscription::open(&row.sealed, &operator) {
                    Some(Subscription::Email { email }) => (email.clone(), email),
                    Some(Subscription::Domain {
                        domain,
                        contact,
                        webhook,
                        ..
                    }) => (format!("*@{domain}"), webhook.map_or(contact, |w| w.url)),
                    _ => (
                        "(does not open under this operator key)".into(),
                        String::new(),
                    ),
                };
                let when =
                    |t: Option<u64>| t.map_or("-".into(), leakwatch_catalog::format_date_time);
                println!(
                    "{}\t{watches}\t{to}\t{}\t{}",
                    row.id,
                    if row.verified.is_some() {
                        when(row.verified)
                    } else {
                        "unverified".into()
                    },
                    when(row.unsubscribed)
                );
            }
        }
        SubscribeCmd::Remove { data, who, key } => {
            let mut catalog = catalog(&data.data)?;
            let id = match who.parse::<i64>() {
                Ok(id) => id,
                Err(_) => {
                    let operator = need_key(&key)?;
                    let s = Subscription::Email {
                        email: normalize(&who)?,
                    };
                    catalog
                        .subscriber_by_digest(&s.digest(&operator))?
                        .context("no subscriber with that address")?
                        .id
                }
            };
            anyhow::ensure!(catalog.remove_subscriber(id)?, "no subscriber {id}");
            println!("subscriber {id} removed");
        }
    }
    Ok(())
}

fn domain_cmd(cmd: DomainCmd) -> Result<()> {
    use leakwatch_notify::Subscription;
    let need_key = |key: &OperatorKeyArg| {
        key.load()?.context(
            "domains are sealed with the operator key: set LEAKWATCH_OPERATOR_KEY or --operator-key-file",
        )
    };
    match cmd {
        DomainCmd::Search { data, domain, key } => check_domain(&data.data, &domain, &key),
        DomainCmd::List { data, key } => {
            let operator = need_key(&key)?;
            let catalog = catalog(&data.data)?;
            let keys = catalog.keys()?;
            println!("key\tdomain\tcontact\tverified");
            for row in catalog.subscribers()? {
                let Some(Subscription::Domain {
                    domain,
                    contact,
                    key,
                    ..
                }) = Subscription::open(&row.sealed, &operator)
                else {
                    continue;
                };
                let prefix = keys
                    .iter()
                    .find(|k| k.id == key)
                    .map_or("(removed)", |k| k.prefix.as_str());
                let verified = row
                    .verified
                    .map_or("no".to_owned(), leakwatch_catalog::format_date_time);
                println!("{prefix}\t{domain}\t{contact}\t{verified}");
            }
            Ok(())
        }
        DomainCmd::Verify {
            data,
            domain,
            api_key,
            contact,
            dns_resolver,
            trust,
            key,
        } => {
            let operator = need_key(&key)?;
            let domain = leakwatch_identity::normalize_domain(&domain)
                .map_err(|e| anyhow::anyhow!("not a domain: {e}"))?;
            let mut catalog = catalog(&data.data)?;
            let holder = catalog
                .keys()?
                .into_iter()
                .find(|k| k.prefix == api_key || k.id.to_string() == api_key)
                .with_context(|| format!("no API key {api_key} (see `leakwatch keys list`)"))?;
            let probe = Subscription::Domain {
                domain: domain.clone(),
                contact: String::new(),
                key: holder.id,
                webhook: None,
            };
            let existing = catalog
                .subscriber_by_digest(&probe.digest(&operator))?
                .and_then(|row| Some((row.clone(), Subscription::open(&row.sealed, &operator)?)));
            let webhook = match &existing {
                Some((_, Subscription::Domain { webhook, .. })) => webhook.clone(),
                _ => None,
            };
            let contact = match (contact, &existing) {
                (Some(c), _) => leakwatch_identity::normalize_email(&c)
                    .map_err(|e| anyhow::anyhow!("--contact: {e}"))?,
                (None, Some((_, Subscription::Domain { contact, .. }))) => contact.clone(),
                _ => anyhow::bail!("the first registration of a domain needs --contact ADDRESS"),
            };
            let subscription = Subscription::Domain {
                domain: domain.clone(),
                contact,
                key: holder.id,
                webhook,
            };
            let now = leakwatch_catalog::now_unix();
            let id = catalog.put_subscriber(
                &subscription.digest(&operator),
                &subscription.seal(&operator),
                Some(holder.id),
                None,
                now,
            )?;
            let record = leakwatch_api::dns_token(&operator, holder.id, &domain);
            if !trust {
                let resolver = dns_resolver.unwrap_or_else(leakwatch_api::dns::system_resolver);
                let found = leakwatch_api::dns::txt_records(
                    resolver,
                    &domain,
                    std::time::Duration::from_secs(3),
                )?;
                if !found.iter().any(|r| r.trim() == record) {
                    anyhow::bail!(
                        "{domain} has no TXT record {record:?} (asked {resolver}): publish it and run this again"
                    );
                }
            }
            catalog.verify_subscriber(id, now)?;
            println!("{domain} verified for API key {}", holder.prefix);
            Ok(())
        }
    }
}

fn check_domain(data: &Path, domain: &str, key: &OperatorKeyArg) -> Result<()> {
    let key = key.load()?.context(
        "domain search opens the sealed aliases: set LEAKWATCH_OPERATOR_KEY or --operator-key-file",
    )?;
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    let found = leakwatch_api::domain::breached_domain(&snap, &key, domain)?;
    let retired: std::collections::HashSet<String> = catalog(data)?
        .all()?
        .into_iter()
        .filter(|b| b.is_retired)
        .map(|b| b.name)
        .collect();
    let shown: std::collections::BTreeMap<String, Vec<String>> = found
        .into_iter()
        .map(|(alias, names)| {
            let names: Vec<String> = names.into_iter().filter(|n| !retired.contains(n)).collect();
            (alias, names)
        })
        .filter(|(_, names)| !names.is_empty())
        .collect();
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

fn check_account(data: &Path, account: &str, region: Option<&str>, json: bool) -> Result<()> {
    let candidates = leakwatch_identity::lookup_candidates(account, region)
        .map_err(|e| anyhow::anyhow!("not an account leakwatch can look up: {e}"))?;
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    let ids = leakwatch_api::account::breach_ids(&snap, &candidates)?;
    let catalog = catalog(data)?;
    let mut found = Vec::new();
    for id in ids {
        let name = snap
            .breach_name(id)
            .context("the store names a breach id its manifest lacks")?;
        match catalog.get(name)? {
            Some(b) => found.push(b),
            None => eprintln!(
                "warning: the store links this account to {name:?}, which the catalogue does not hold"
            ),
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
    if found.is_empty() {
        println!("not found in any breach loaded here");
        return Ok(());
    }
    println!("found in {} breach(es):", found.len());
    for b in &found {
        let mut flags = Vec::new();
        if b.is_retired {
            flags.push("retired: hidden from the API");
        }
        if b.is_sensitive {
            flags.push("sensitive: hidden from the API");
        }
        if !b.is_verified {
            flags.push("unverified");
        }
        println!(
            "  {} ({}), breached {}{}\n    data: {}",
            b.name,
            b.domain,
            b.breach_date,
            if flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", flags.join("; "))
            },
            b.data_classes.join(", ")
        );
    }
    Ok(())
}

fn read_secret() -> Result<String> {
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password (not echoed): ")?
    } else {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    };
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    Ok(pw.strip_suffix('\r').unwrap_or(pw).to_owned())
}

fn check_password(data: &Path) -> Result<()> {
    let pw = read_secret()?;
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    let sha1 = snap.count(
        Namespace::Sha1,
        leakwatch_ingest::parse::sha1_key(pw.as_bytes()),
    )?;
    let ntlm = snap.count(Namespace::Ntlm, leakwatch_ingest::parse::ntlm_key(&pw))?;
    // SHA-1 is the canonical count; a store loaded only with NTLM data answers from NTLM.
    let count = if snap.segments(Namespace::Sha1).is_empty() {
        ntlm
    } else {
        sha1
    };
    println!("{count}");
    if std::io::stderr().is_terminal() {
        if count > 0 {
            eprintln!(
                "This password has been seen {count} times in breaches loaded here: do not use it."
            );
        } else {
            eprintln!("This password was not found in the breaches loaded here.");
        }
    }
    Ok(())
}

/// Bytes the best possible encoding of `n` distinct `key_bits`-bit keys with these counts
/// needs: log2 C(2^key_bits, n) ≈ n (key_bits − log2 n + log2 e) bits, plus n times the
/// empirical entropy of the counts.
fn floor_bytes(key_bits: u32, counts: &std::collections::HashMap<u64, u64>) -> (f64, f64) {
    let n: u64 = counts.values().sum();
    let nf = n.max(1) as f64;
    let entropy: f64 = counts
        .values()
        .map(|&f| {
            let p = f as f64 / nf;
            -p * p.log2()
        })
        .sum();
    let key_bits_per_hash = key_bits as f64 - nf.log2() + std::f64::consts::LOG2_E;
    (nf * (key_bits_per_hash + entropy) / 8.0, entropy)
}

/// Alias compaction, leaving out forgotten accounts' aliases when the operator key is given.
fn compact_aliases(w: &mut StoreWriter, data: &Path, key: &OperatorKeyArg) -> Result<()> {
    let key = key.load()?;
    let done = leakwatch_ingest::compact_aliases(w, &data.join("tmp"), 1 << 30, key.as_ref())?;
    match done.files {
        0 => println!("aliases: nothing to compact"),
        n => println!(
            "aliases: merged {n} alias file(s) into one, leaving out {} alias(es) of forgotten accounts",
            done.erased
        ),
    }
    let m = w.manifest();
    if key.is_none() && !m.forgotten.is_empty() && !m.aliases.is_empty() {
        println!(
            "aliases of forgotten accounts stay sealed in the alias files (never answered): give the operator key to remove them"
        );
    }
    Ok(())
}

fn stats(data: &Path, deep: bool) -> Result<()> {
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    println!(
        "generation {}  sources {}",
        snap.generation(),
        snap.manifest().sources.len()
    );
    for ns in Namespace::ALL {
        let segs = snap.segments(ns);
        let hashes: u64 = segs.iter().map(|s| s.hashes()).sum();
        let bytes: u64 = segs.iter().map(|s| s.bytes()).sum();
        if segs.is_empty() {
            println!("{ns}: empty");
            continue;
        }
        let n = hashes.max(1) as f64;
        let floor = (ns.key_bits() as f64 - n.log2() + std::f64::consts::LOG2_E) / 8.0;
        println!(
            "{ns}: {} segments, {hashes} hashes (before merging), {bytes} bytes, {:.2} B/hash (key floor {:.2} B/hash without counts)",
            segs.len(),
            bytes as f64 / n,
            floor
        );
        if let Some(m) = snap.manifest().mirror(ns) {
            let ago = leakwatch_store::unix_now().saturating_sub(m.synced_unix);
            println!(
                "  mirror of {} in {} (last changed by a sync {} h ago)",
                m.source,
                m.segment,
                ago / 3600
            );
        }
        if deep {
            for seg in segs {
                let mut freq = std::collections::HashMap::<u64, u64>::new();
                seg.for_each(|_, c| {
                    *freq.entry(c).or_default() += 1;
                    true
                })?;
                let (floor, entropy) = floor_bytes(ns.key_bits(), &freq);
                let n = seg.hashes().max(1) as f64;
                println!(
                    "  {}: hashes={} bytes={} bytes_per_hash={:.3} floor_bytes_per_hash={:.3} count_entropy_bits={:.3} ratio_to_floor={:.4}",
                    seg.name(),
                    seg.hashes(),
                    seg.bytes(),
                    seg.bytes() as f64 / n,
                    floor / n,
                    entropy,
                    seg.bytes() as f64 / floor.max(1.0)
                );
            }
        }
    }
    Ok(())
}

/// How `serve` (and `demo`) run the server.
struct Serving {
    listen: SocketAddr,
    default_region: Option<String>,
    access_log: bool,
    /// Mail setup; `None` for the demo.
    mail: Option<MailArgs>,
    key: OperatorKeyArg,
    dns_resolver: Option<SocketAddr>,
    tls: Option<Arc<leakwatch_api::TlsConfig>>,
    /// Printed to stdout once listening, `{addr}` replaced.
    banner: Option<String>,
}

fn serve(data: &Path, how: Serving) -> Result<()> {
    let Serving {
        listen,
        default_region,
        access_log,
        mail,
        key,
        dns_resolver,
        tls,
        banner,
    } = how;
    let store = StoreHandle::open(store_dir(data)?)?;
    let catalog = leakwatch_api::CatalogHandle::new(catalog(data)?)?;
    let mut state = AppState::new(store, catalog, ServerLimits::default());
    state.default_region = default_region;
    state.operator_key = key.load()?;
    state.access_log = access_log;
    let scheme = if tls.is_some() { "https" } else { "http" };
    state.tls = tls;
    if let Some(resolver) = dns_resolver {
        state.dns_resolver = resolver;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        if let Some((mail, url)) = mail.as_ref().and_then(|m| Some((m, m.smtp_url.as_ref()?))) {
            anyhow::ensure!(
                state.operator_key.is_some(),
                "mail needs the operator key, which seals queued mail: set LEAKWATCH_OPERATOR_KEY \
                 or --operator-key-file"
            );
            let ca = match &mail.smtp_ca_file {
                Some(path) => Some(
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
                ),
                None => None,
            };
            let url = match &mail.smtp_password_file {
                Some(path) => {
                    let password = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    with_password(url, password.trim_end_matches(['\r', '\n']))?
                }
                None => url.clone(),
            };
            let mailer = leakwatch_notify::Mailer::new(&url, &mail.mail_from, ca.as_deref())
                .map_err(anyhow::Error::msg)?;
            let public_url = mail
                .public_url
                .clone()
                .unwrap_or_else(|| format!("{scheme}://{addr}"));
            tracing::info!("mail goes through {}", mailer.server());
            let mut setup =
                leakwatch_api::MailSetup::new(mailer, data.join("catalog.db"), public_url);
            setup.retry.first_retry = std::time::Duration::from_secs(mail.mail_retry_after.max(1));
            setup.limits = leakwatch_api::CheckLimits {
                per_ip_per_hour: mail.check_limit_per_ip,
                per_address_per_day: mail.check_limit_per_address,
            };
            state.mail = Some(setup);
        }
        let state = Arc::new(state);
        tracing::info!(
            "leakwatch serving {scheme}://{addr}/ (generation {})",
            state.store.snapshot().generation()
        );
        if let Some(b) = banner {
            println!("{}", b.replace("{addr}", &addr.to_string()));
            std::io::stdout().flush()?;
        }
        leakwatch_api::serve(listener, state, shutdown_signal()).await?;
        tracing::info!("shut down cleanly");
        Ok(())
    })
}

/// Makes `dir` if needed; refuses one that holds anything.
fn empty_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} is not empty", dir.display());
    }
    Ok(())
}

/// `leakwatch backup`: the catalogue first, then the store's published generation. In that
/// order a backup taken during a dump import can hold a store newer than its catalogue (the
/// import's PwnCount not yet written), which importing the same file again repairs, as after
/// a crash at that instant; never a catalogue ahead of its store.
fn backup(data: &Path, dest: &Path) -> Result<()> {
    empty_dir(dest)?;
    let started = std::time::Instant::now();
    let catalogue = data.join("catalog.db");
    if catalogue.exists() {
        catalog(data)?
            .backup_to(&dest.join("catalog.db"))
            .context("backing up the catalogue")?;
    }
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    let bytes = snap
        .copy_to(&MmapDirectory::open(dest.join("store"))?)
        .context("backing up the store")?;
    println!(
        "backup of generation {} in {}: {} store files, {} bytes{} in {:.1}s",
        snap.generation(),
        dest.display(),
        snap.manifest().live_files().count(),
        bytes,
        if catalogue.exists() {
            ", and the catalogue"
        } else {
            ""
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `leakwatch restore`: checks every checksum of the backup, writes it beside `data` under a
/// temporary name and renames it into place, so an interrupted restore leaves no half data
/// directory behind.
fn restore(src: &Path, data: &Path) -> Result<()> {
    anyhow::ensure!(
        src.join("store").is_dir(),
        "{} holds no backup",
        src.display()
    );
    let snap = Snapshot::open(&MmapDirectory::open(src.join("store"))?)?;
    snap.verify().context("the backup's store is damaged")?;
    let src_catalogue = src.join("catalog.db");
    let catalogue = if src_catalogue.exists() {
        let c = leakwatch_catalog::Catalog::open(&src_catalogue)?;
        c.verify(&src_catalogue)
            .context("the backup's catalogue is damaged")?;
        Some(c)
    } else {
        None
    };
    if data.exists() {
        empty_dir(data)?;
        std::fs::remove_dir(data)?;
    }
    let name = data
        .file_name()
        .context("the data directory needs a name")?
        .to_string_lossy();
    let staging = data.with_file_name(format!(".{name}.restoring"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    if let Some(c) = &catalogue {
        c.backup_to(&staging.join("catalog.db"))?;
    }
    snap.copy_to(&MmapDirectory::open(staging.join("store"))?)?;
    std::fs::rename(&staging, data)
        .with_context(|| format!("moving the restored files to {}", data.display()))?;
    if let Some(parent) = data.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    println!(
        "restored generation {} into {} (every checksum verified)",
        snap.generation(),
        data.display()
    );
    Ok(())
}

/// `url` (smtp://USER@HOST…) with `password` added to its user, percent-encoded.
fn with_password(url: &str, password: &str) -> Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .context("the SMTP URL has no scheme")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((user, host)) = authority.rsplit_once('@') else {
        bail!("--smtp-password-file needs a user name in the SMTP URL: {scheme}://USER@HOST");
    };
    if user.contains(':') {
        bail!("the SMTP URL has a password already; give it in one place only");
    }
    let encoded: String = password
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    Ok(format!("{scheme}://{user}:{encoded}@{host}{tail}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn demo(data: Option<PathBuf>, listen: SocketAddr) -> Result<()> {
    let data = data.unwrap_or_else(|| {
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("leakwatch").join("demo")
    });
    let dir = store_dir(&data)?;
    if Snapshot::open(dir.as_ref())?.generation() == 0 {
        eprintln!(
            "leakwatch demo: building a demo store in {} from generated, fictional data...",
            data.display()
        );
        let mut writer = StoreWriter::open(dir)?;
        let mut opts = IngestOptions::new(&data);
        opts.progress = false;
        for (format, count, seed) in [
            (GenFormat::Plain, 300_000u64, 1u64),
            (GenFormat::Sha1, 200_000, 2),
            (GenFormat::Ntlm, 100_000, 3),
        ] {
            let file = data.join("demo-input.txt");
            leakwatch_gen::write_passwords(
                &mut std::fs::File::create(&file)?,
                format,
                count,
                seed,
            )?;
            let s = leakwatch_ingest::ingest(&mut writer, &Source::File(file.clone()), &opts)?;
            std::fs::remove_file(&file)?;
            eprintln!(
                "  {:?}: {} lines, {} SHA-1 and {} NTLM hashes",
                format, s.lines, s.sha1.distinct, s.ntlm.distinct
            );
        }
    } else {
        eprintln!("leakwatch demo: using the demo store in {}", data.display());
    }
    start_logging(LogFormat::Human);
    let banner = "\nDemo ready. Try:\n  curl http://{addr}/range/5BAA6                       # SHA-1 prefix of \"password\"\n  curl -H 'Add-Padding: true' http://{addr}/range/5BAA6\n  curl 'http://{addr}/range/8846F?mode=ntlm'           # NTLM prefix of \"password\"\nPress Ctrl-C to stop.".to_string();
    serve(
        &data,
        Serving {
            listen,
            default_region: None,
            access_log: false,
            mail: None,
            key: OperatorKeyArg {
                operator_key_file: None,
            },
            dns_resolver: None,
            tls: None,
            banner: Some(banner),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::with_password;

    #[test]
    fn a_password_from_a_file_joins_the_user_in_the_smtp_url_percent_encoded() {
        let check = |url: &str, password: &str, want: Result<&str, &str>| {
            let got = with_password(url, password).map_err(|e| e.to_string());
            match want {
                Ok(w) => assert_eq!(got.as_deref(), Ok(w), "{url}"),
                Err(part) => assert!(got.as_ref().is_err_and(|e| e.contains(part)), "{got:?}"),
            }
        };
        check(
            "smtp://alerts@mail.example.org:587?tls=required",
            "p@ss:w/rd 1",
            Ok("smtp://alerts:p%40ss%3Aw%2Frd%201@mail.example.org:587?tls=required"),
        );
        check("smtps://u@h:465", "plain", Ok("smtps://u:plain@h:465"));
        check("smtp://mail.example.org:25", "x", Err("needs a user name"));
        check("smtp://u:old@h:25", "x", Err("has a password already"));
    }
}
