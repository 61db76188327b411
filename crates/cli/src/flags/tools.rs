//! The subcommands of lookups and tools: checks, the vendor inventory, look-alike domains,
//! generated corpora.

use std::path::PathBuf;

use clap::Subcommand;

use super::{
    DataArg, DumpFormatArg, GenFormatArg, ImpactFormat, OperatorKeyArg, SeparatorArg, TenantArg,
    VendorFormat, parse_count,
};

#[derive(Subcommand)]
pub enum CheckWhat {
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
        /// With it, an address in a stealer-log set is shown with the websites its login
        /// was captured on (they are sealed under the operator key).
        #[command(flatten)]
        key: OperatorKeyArg,
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
pub enum VendorsCmd {
    /// Adds a vendor, or replaces the one with this name.
    Add {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        tenant: TenantArg,
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
        #[command(flatten)]
        tenant: TenantArg,
        /// The file (.csv or .json).
        file: PathBuf,
    },
    /// Writes the inventory as CSV or JSON.
    Export {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        tenant: TenantArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = VendorFormat::Csv)]
        format: VendorFormat,
    },
    /// Lists the inventory.
    List {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Removes a vendor.
    Remove {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        tenant: TenantArg,
        /// The vendor's name.
        name: String,
    },
    /// The supply-chain impact of BREACH (or of every breach that hits a vendor): vendors
    /// hit, your data classes exposed, your verified domains' addresses in it, risk, actions.
    Impact {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        tenant: TenantArg,
        /// The breach's Name; all matching breaches when omitted.
        breach: Option<String>,
        /// Text, JSON, or a printable HTML page.
        #[arg(long, value_enum, default_value_t = ImpactFormat::Text)]
        format: ImpactFormat,
        #[command(flatten)]
        key: OperatorKeyArg,
    },
}

#[derive(Subcommand)]
pub enum LookalikeCmd {
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

#[derive(Subcommand)]
pub enum GenWhat {
    /// Password corpora: Pwned Passwords lines, a range directory, or a plaintext list.
    Passwords {
        /// Lines (distinct hashes for sha1/ntlm, passwords for plain).
        #[arg(long, default_value_t = 1000, value_parser = parse_count, conflicts_with = "prefixes")]
        count: u64,
        /// Seed: the same seed gives the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GenFormatArg::Sha1)]
        format: GenFormatArg,
        /// Shape the corpus by its ranges instead of its passwords: this many evenly spaced
        /// 5-hex prefixes, each holding about --lines-per-range random hashes (the public
        /// corpus: 1,048,576 prefixes of ~1,900 lines). For benchmarks at a real range size.
        #[arg(long, requires = "lines_per_range", value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
        prefixes: Option<u32>,
        /// Mean lines per range of a --prefixes corpus.
        #[arg(long, requires = "prefixes", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        lines_per_range: Option<u32>,
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
    /// A tree of fictional stealer logs: RedLine- and Raccoon-style `Passwords.txt` blocks,
    /// URL:login:password lines, CSV and JSON Lines exports, and other files read past.
    Stealer {
        /// Credential units (lines or blocks), malformed ones included.
        #[arg(long, default_value_t = 1000, value_parser = parse_count)]
        count: u64,
        /// Seed: the same seed gives the same tree.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Malformed units, in whole percent.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=100))]
        malformed: u64,
        /// The directory to write (new or empty).
        #[arg(long)]
        out: PathBuf,
        /// Also write the generator's truth as JSON Lines here: one
        /// `{"file","line","website","login","password"}` per capture, and one
        /// `{"file","line","malformed":true}` per malformed unit.
        #[arg(long)]
        truth: Option<PathBuf>,
    },
}
