//! The command line's definitions (clap derive): the commands and their flags, as an operator
//! types them. Nothing here runs anything: `values.rs` turns flag values into the library
//! types, `crate::commands` carries each command out. Only this crate knows flag names.

mod audit;
mod catalog;
mod credentials;
mod shared;
mod tools;
mod values;

use std::{net::SocketAddr, path::PathBuf};

use clap::{Parser, Subcommand};
use leakwatch_api::proxy_protocol::TrustedProxies;

pub use audit::*;
pub use catalog::*;
pub use credentials::*;
pub use shared::*;
pub use tools::*;
pub use values::*;

/// The whole command line.
#[derive(Parser)]
#[command(
    name = "leakwatch",
    version,
    about = "Self-hosted breach exposure: Pwned Passwords-compatible range API over your own leak corpora"
)]
pub struct Cli {
    /// Configuration file (TOML; `leakwatch config example` shows every setting). Without
    /// it: LEAKWATCH_CONFIG, then ./leakwatch.toml, ~/.config/leakwatch/leakwatch.toml,
    /// /etc/leakwatch/leakwatch.toml. Flags win over the environment, the environment over
    /// the file.
    #[arg(long, global = true, env = "LEAKWATCH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// File holding the audit key (64 hex digits, mode 0600; `leakwatch audit-key generate
    /// --out FILE`), kept outside the data directory. `serve` and every audited command
    /// (keys, domain, check account|domain, subscribe, breach changes, vendors changes,
    /// ingest, forget, backup, restore, operator-key rotate) refuse to run without it.
    #[arg(
        long,
        global = true,
        env = "LEAKWATCH_AUDIT_KEY_FILE",
        value_name = "FILE"
    )]
    pub audit_key_file: Option<PathBuf>,
    /// Also send every audit record, as an RFC 5424 line, to this syslog datagram socket
    /// (e.g. /dev/log), so a collector holds a copy the operator cannot edit.
    #[arg(
        long,
        global = true,
        env = "LEAKWATCH_AUDIT_SYSLOG",
        value_name = "SOCKET"
    )]
    pub audit_syslog: Option<PathBuf>,
    /// Size at which an audit log file is closed (sealed) and the next begun; a new UTC day
    /// begins one too. Closed files are never written again.
    #[arg(long, global = true, env = "LEAKWATCH_AUDIT_FILE_SIZE", default_value = "64M", value_parser = parse_size, value_name = "SIZE")]
    pub audit_file_size: usize,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(Box<ServeArgs>),
    /// Import a Pwned Passwords file or directory, a plaintext password list, or (with
    /// --breach) a breach dump: combolist, CSV/TSV, JSON Lines.
    Ingest(IngestArgs),
    /// Mirror the Pwned Passwords corpus from an HIBP-compatible range API, fetching only
    /// the ranges that changed since the last sync (by their ETags).
    ///
    /// All 1,048,576 ranges are asked for; an unchanged one costs a 304. Interrupted (killed,
    /// network down), the next run resumes where it stopped; the store and a server reading
    /// it keep answering from the previous generation until every range is in.
    Sync(SyncArgs),
    /// The breach catalogue: add, edit, import, list, show, retire.
    Breach {
        #[command(subcommand)]
        what: BreachCmd,
    },
    /// Pastes: add one (its addresses become findable with `pasteaccount`), list them.
    Paste {
        #[command(subcommand)]
        what: PasteCmd,
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
    /// The audit key that seals the audit log (kept outside the data directory).
    AuditKey {
        #[command(subcommand)]
        what: AuditKeyCmd,
    },
    /// The audit log: who did what, when, to which (digested) target, with what result.
    AuditLog {
        #[command(subcommand)]
        what: AuditLogCmd,
    },
    /// The private credential check: build its buckets from dumps and stealer logs,
    /// rotate its OPRF key, check a login and password against a server.
    Credentials {
        #[command(subcommand)]
        what: CredentialsCmd,
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
    Audit(AuditArgs),
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
    Stats(StatsArgs),
    /// Merge each namespace's segments into one, and the alias files into one.
    /// With the operator key, the aliases of forgotten accounts leave the alias files too.
    Compact(CompactArgs),
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
    Forget(ForgetArgs),
    /// Copy the data directory into DEST while it serves and imports: one consistent
    /// published generation of the store and an online copy of the catalogue.
    Backup(BackupArgs),
    /// Restore a backup into a new data directory, after checking every checksum in it.
    Restore(RestoreArgs),
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
    Demo(DemoArgs),
}

impl Command {
    /// Whether the command only reads local files and prints, so that a closed standard
    /// output may end it as it ends other Unix tools. The others talk to a network (a range
    /// API, mail servers, webhooks, DNS) or serve one, and must not die of SIGPIPE when a
    /// peer goes away. A new command is not on this list until it is known to be local.
    pub fn only_prints_local_state(&self) -> bool {
        matches!(
            self,
            Command::Gen { .. }
                | Command::Completions { .. }
                | Command::Manpage
                | Command::Stats(_)
                | Command::Verify { .. }
                | Command::Breach { .. }
                | Command::Check { .. }
                | Command::Audit(_)
                | Command::AuditLog { .. }
                | Command::Config { .. }
        )
    }
}

/// The flags of `leakwatch serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Address to listen on.
    #[arg(long, env = "LEAKWATCH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Address of the Prometheus metrics listener (`GET /metrics`), kept off the public
    /// listener; port 0 picks a free one (several servers on one host).
    #[arg(
        long,
        env = "LEAKWATCH_METRICS_LISTEN",
        default_value = "127.0.0.1:9464"
    )]
    pub metrics_listen: SocketAddr,
    /// Region for queried phone numbers without a country code (ISO 3166, e.g. GB).
    #[arg(long, env = "LEAKWATCH_DEFAULT_REGION")]
    pub default_region: Option<String>,
    #[command(flatten)]
    pub mail: MailArgs,
    #[command(flatten)]
    pub key: OperatorKeyArg,
    /// The credential check's OPRF key (`POST /api/v1/credentials/check` answers 503
    /// without it).
    #[command(flatten)]
    pub oprf_key: OprfKeyArg,
    /// Credential checks the web page's "Check a login" form may make from one client address
    /// an hour (`POST /api/v1/credentials/page-check`); 0 switches the form's check off.
    #[arg(long, env = "LEAKWATCH_CREDENTIAL_PAGE_CHECKS", value_name = "N",
          default_value_t = leakwatch_api::DEFAULT_CREDENTIAL_PAGE_CHECKS)]
    pub credential_page_checks: u32,
    /// The DNS resolver domain verification and the webhook egress guard ask (default: the
    /// system's).
    #[arg(long, env = "LEAKWATCH_DNS_RESOLVER")]
    pub dns_resolver: Option<SocketAddr>,
    /// FOR TESTS ONLY: let webhooks go over plain http to loopback addresses. Without it a
    /// webhook is https:// to a public address, nothing else.
    #[arg(long, env = "LEAKWATCH_INSECURE_WEBHOOKS_TO_LOOPBACK")]
    pub insecure_webhooks_to_loopback: bool,
    #[command(flatten)]
    pub bulk: BulkArgs,
    /// Log one line per request to standard error: time, method, route template (never
    /// the prefix or account asked for), status, latency.
    #[arg(long, env = "LEAKWATCH_ACCESS_LOG")]
    pub access_log: bool,
    /// Memory for finished range answers (plain, gzip, brotli), kept by popularity: a
    /// popular prefix is rendered and compressed once per import. 0 turns it off.
    #[arg(long, env = "LEAKWATCH_RANGE_CACHE", default_value = "256M", value_parser = parse_size, value_name = "SIZE")]
    pub range_cache: usize,
    /// Render every range of the served generation ahead into files in DIR (plain, gzip and
    /// brotli; about four times the store's size at the public corpus's shape) and answer
    /// from them: no range is rendered per request once a generation's files are written.
    /// A local directory, outside the data directory; owner-only.
    #[arg(long, env = "LEAKWATCH_ANSWER_DIR", value_name = "DIR")]
    pub answer_dir: Option<PathBuf>,
    /// The codings the answer files hold beside plain text, comma-separated: `gzip`, `br`,
    /// or `none` (each takes about half the plain text's size on disk; a request in one left
    /// out is answered as without --answer-dir).
    #[arg(
        long,
        env = "LEAKWATCH_ANSWER_CODINGS",
        value_delimiter = ',',
        default_value = "gzip,br",
        value_name = "LIST",
        requires = "answer_dir"
    )]
    pub answer_codings: Vec<AnswerCodingArg>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, env = "LEAKWATCH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "LEAKWATCH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// How log lines look on standard error: `human` (a time, a level and a message per
    /// line) or `json` (one JSON object per line, fields as keys, for a log collector).
    #[arg(long, value_enum, env = "LEAKWATCH_LOG_FORMAT", default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Load balancers (IP addresses or CIDR networks, comma-separated) whose connections
    /// open with a PROXY protocol v2 header naming the client (HAProxy's `send-proxy-v2`):
    /// per-IP limits and the audit trail's peer are then the client's. Their connections
    /// without one are closed; nobody else's header is read.
    #[arg(long, env = "LEAKWATCH_PROXY_PROTOCOL_FROM", value_name = "ADDRS", value_parser = TrustedProxies::parse)]
    pub proxy_protocol_from: Option<TrustedProxies>,
    /// How often to ask the store for a newer generation, in milliseconds. On an object store
    /// each ask is a billed request; on a shared catalogue writers also announce what they
    /// publish, and a replica takes that at once, so a long interval only matters when the
    /// announcement is lost.
    #[arg(
        long,
        env = "LEAKWATCH_STORE_POLL_MS",
        default_value_t = 500,
        value_name = "MS"
    )]
    pub store_poll_ms: u64,
}

/// The flags of `leakwatch ingest`.
#[derive(clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Input file (plain, .gz or .zst), a downloader range directory, or `-` for stdin;
    /// for stealer logs also a directory tree of logs or a .zip, .tar or .tar.gz of one.
    pub source: String,
    /// Input format; `auto` detects it (a dump format when --breach is given; `stealer`
    /// when --breach names a stealer-log set).
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Link the dump's accounts to this breach (add it first: `leakwatch breach add`).
    #[arg(long)]
    pub breach: Option<String>,
    /// Where the fields are in a CSV/TSV/JSONL dump: `email=COL,phone=COL,username=COL,
    /// password=COL`, or in stealer-log tables `url=COL,login=COL,password=COL` (header
    /// names or 1-based numbers); default: conventional names.
    #[arg(long, value_name = "FIELD=COL,...")]
    pub map: Option<String>,
    /// What a combolist's identifiers are; detected per file by default.
    #[arg(long, value_enum)]
    pub identifier: Option<KindArg>,
    /// Region for phone numbers without a country code (ISO 3166, e.g. GB).
    #[arg(long, env = "LEAKWATCH_DEFAULT_REGION")]
    pub default_region: Option<String>,
    #[command(flatten)]
    pub key: OperatorKeyArg,
    /// Do not keep the e-mail aliases domain search needs (no operator key required).
    #[arg(long)]
    pub no_aliases: bool,
    /// Memory budget, e.g. 512M or 2G.
    #[arg(long, default_value = "2G", value_parser = parse_size)]
    pub memory: usize,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where to write the sample of rejected lines.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Where the import spills its sorted runs (local disk, about the input's size): a
    /// directory of its own is made in it and removed after. Default: the data (or cache)
    /// directory's tmp/.
    #[arg(long, env = "LEAKWATCH_TMP_DIR", value_name = "DIR")]
    pub tmp_dir: Option<PathBuf>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The flags of `leakwatch sync`.
#[derive(clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// The range API's base URL (`/range/{prefix}` is appended), or a URL template with
    /// `{prefix}` for static per-prefix files, e.g. https://api.pwnedpasswords.com
    #[arg(long)]
    pub from: String,
    /// Which hashes to mirror.
    #[arg(long, value_enum, default_value_t = SyncMode::Sha1)]
    pub mode: SyncMode,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub parallel: usize,
    /// Seconds a request may take, body included, before it is retried.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Retries of one range (with exponential backoff) before the sync stops.
    #[arg(long, default_value_t = 10)]
    pub retries: u32,
    /// Extra root certificates (PEM) to trust, for a private CA or a TLS-inspecting proxy.
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The flags of `leakwatch audit`.
#[derive(clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// The export file, or `-` for standard input.
    pub export: String,
    /// Export format; detected from the first account line by default.
    #[arg(long, value_enum, default_value_t = AuditFormatArg::Auto)]
    pub format: AuditFormatArg,
    /// Report as a table, CSV (exposed accounts) or JSON (everything).
    #[arg(long, value_enum, default_value_t = AuditOutput::Text)]
    pub output: AuditOutput,
    /// Include each exposed account's hash in the report.
    #[arg(long)]
    pub show_hashes: bool,
}

/// The flags of `leakwatch stats`.
#[derive(clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Also decode every segment and compare its size with the information-theoretic
    /// floor, counts' entropy included.
    #[arg(long)]
    pub deep: bool,
}

/// The flags of `leakwatch compact`.
#[derive(clap::Args)]
pub struct CompactArgs {
    #[command(flatten)]
    pub data: DataArg,
    #[command(flatten)]
    pub key: OperatorKeyArg,
}

/// The flags of `leakwatch forget`.
#[derive(clap::Args)]
pub struct ForgetArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Region for phone numbers written without a country code (ISO 3166).
    #[arg(long, env = "LEAKWATCH_DEFAULT_REGION")]
    pub default_region: Option<String>,
    /// Compact the account segments now, so the keys leave the files at once (and, with
    /// the operator key, their e-mail aliases leave the alias files).
    #[arg(long)]
    pub compact: bool,
    #[command(flatten)]
    pub key: OperatorKeyArg,
    /// The identifiers: e-mail addresses, phone numbers, usernames.
    #[arg(required = true)]
    pub identifiers: Vec<String>,
}

/// The flags of `leakwatch backup`.
#[derive(clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Where to put the backup: a new or empty directory, or with --encrypt-to a new file.
    pub dest: PathBuf,
    /// Encrypt the backup to this age recipient (`age1…`, from `age-keygen`); repeatable.
    /// The backup is then one file that only the matching identities open.
    #[arg(long = "encrypt-to", value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
}

/// The flags of `leakwatch restore`.
#[derive(clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// The backup (a directory written by `leakwatch backup`, or the file it wrote with
    /// --encrypt-to).
    pub src: PathBuf,
    /// The age identity file that opens an encrypted backup (`age-keygen -o FILE`).
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

/// The flags of `leakwatch demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Data directory for the demo store.
    #[arg(long, env = "LEAKWATCH_DEMO_DATA")]
    pub data: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}
