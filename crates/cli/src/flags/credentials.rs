//! `leakwatch credentials`: build the private credential check's buckets, rotate its OPRF
//! key, and check a login and password against a server without sending either.

use std::path::PathBuf;

use clap::Subcommand;

use super::*;

#[derive(Subcommand)]
pub enum CredentialsCmd {
    /// Build the credential check's buckets from breach dumps and stealer logs: every
    /// (login, password) pair and up to ten variants of its password, evaluated under the
    /// OPRF key (made in --oprf-key-file when the file does not exist) on every core, and
    /// published in one swap. Sources built before under the same key are skipped.
    Build(CredentialsBuildArgs),
    /// A new OPRF key: every bucket rebuilt from the given dumps and logs under it,
    /// published in one swap that retires the old buckets, then the key file replaced. Keep
    /// the dumps for this; the old buckets answer until the swap.
    RotateKey(CredentialsBuildArgs),
    /// Check a login and password against a server: only the login's bucket and a blinded
    /// element are sent. Prints `exact`, `similar` or `not found`; exits 0 when leaked
    /// (exact or similar), 1 when not found, 2 on an error.
    Check(CredentialsCheckArgs),
}

/// Where the OPRF key comes from: `--oprf-key-file` (or `LEAKWATCH_OPRF_KEY_FILE`), a file
/// only its owner may read; never a flag's value or the environment.
#[derive(clap::Args, Clone)]
pub struct OprfKeyArg {
    /// File holding the credential check's OPRF key (64 hex digits, mode 0600).
    #[arg(long, env = "LEAKWATCH_OPRF_KEY_FILE", value_name = "FILE")]
    pub oprf_key_file: Option<PathBuf>,
}

/// The flags of `credentials build` and `credentials rotate-key`.
#[derive(clap::Args)]
pub struct CredentialsBuildArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Breach dumps (combolists, CSV/TSV, JSON Lines; plain, .gz or .zst; `-` for stdin).
    #[arg(value_name = "DUMP")]
    pub dumps: Vec<String>,
    /// Stealer logs: a file, a directory tree of logs, or a .zip, .tar or .tar.gz of one
    /// (repeatable; `-` for standard input).
    #[arg(long, value_name = "PATH")]
    pub stealer: Vec<String>,
    #[command(flatten)]
    pub key: OprfKeyArg,
    /// Dumps' format; `auto` detects it per file.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Where the fields are in a CSV/TSV/JSONL dump: `email=COL,username=COL,password=COL`
    /// (header names or 1-based numbers); default: conventional names.
    #[arg(long, value_name = "FIELD=COL,...")]
    pub map: Option<String>,
    /// What a combolist's identifiers are; detected per file by default.
    #[arg(long, value_enum)]
    pub identifier: Option<KindArg>,
    /// Memory budget, e.g. 512M or 2G.
    #[arg(long, default_value = "2G", value_parser = parse_size)]
    pub memory: usize,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where spill files go (default: the data directory's tmp/).
    #[arg(long, env = "LEAKWATCH_TMP_DIR", value_name = "DIR")]
    pub tmp_dir: Option<PathBuf>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The flags of `credentials check`.
#[derive(clap::Args)]
pub struct CredentialsCheckArgs {
    /// The leakwatch server's base URL, e.g. https://leakwatch.example.
    #[arg(long, env = "LEAKWATCH_SERVER", value_name = "URL")]
    pub server: String,
    /// The login: an e-mail address or a username (normalised as the server's buckets are).
    pub login: String,
    /// File holding the API key (scope `credentials`); default: LEAKWATCH_API_KEY.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Read the password from standard input (its first line) instead of a no-echo prompt.
    /// A password is never taken from the command line.
    #[arg(long)]
    pub password_stdin: bool,
    /// Print `{"login": …, "result": "exact"|"similar"|"not found"}`.
    #[arg(long)]
    pub json: bool,
}
