//! The configuration file: one TOML file in which every setting is also an environment
//! variable (`LEAKWATCH_*`) and a flag. Flags win over the environment, the environment over
//! the file, the file over the built-in defaults.
//!
//! The file is applied before the command line is parsed, by setting each `LEAKWATCH_*`
//! variable that the environment does not already set; clap then reads flags and variables
//! as it always does. So [`SETTINGS`] is the only table to keep in step with the flags, and a
//! test checks that every variable in it is one a flag reads.
//!
//! Secrets are not settings: the file names the files that hold them (`operator_key_file`,
//! `smtp_password_file`), so they stay out of the environment and the process list.
//! Deliberately not here: reloading the file while serving (restart the service).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// What a setting's value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Path,
    Text,
    Address,
    Count,
    /// A size with an optional unit (`64M`).
    Size,
    Switch,
    Region,
    SmtpUrl,
    LogFormat,
}

/// One setting: `[section] key` in the file, its variable, its default and what it does.
struct Setting {
    section: &'static str,
    key: &'static str,
    env: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    doc: &'static str,
}

const fn setting(
    section: &'static str,
    key: &'static str,
    env: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    doc: &'static str,
) -> Setting {
    Setting {
        section,
        key,
        env,
        kind,
        default,
        doc,
    }
}

/// Every setting, in the order the example file shows them.
static SETTINGS: &[Setting] = &[
    setting(
        "",
        "data",
        "LEAKWATCH_DATA",
        Kind::Path,
        Some("leakwatch-data"),
        "Data directory: the store, the catalogue, spill space and rejects.",
    ),
    setting(
        "",
        "operator_key_file",
        "LEAKWATCH_OPERATOR_KEY_FILE",
        Kind::Path,
        None,
        "File holding the operator key (64 hex digits; `leakwatch operator-key generate`). It\n\
         seals e-mail aliases, queued mail and subscribers. Keep it outside the data directory.",
    ),
    setting(
        "",
        "oprf_key_file",
        "LEAKWATCH_OPRF_KEY_FILE",
        Kind::Path,
        None,
        "File holding the private credential check's OPRF key (64 hex digits; made by the\n\
         first `leakwatch credentials build`, replaced by `credentials rotate-key`). `serve`\n\
         answers credential checks with it. Keep it as the operator key.",
    ),
    setting(
        "",
        "audit_key_file",
        "LEAKWATCH_AUDIT_KEY_FILE",
        Kind::Path,
        None,
        "File holding the audit key (64 hex digits; `leakwatch audit-key generate --out FILE`)\n\
         that seals the audit log. `serve` and every audited command refuse to run without\n\
         it. Keep it outside the data directory, apart from whoever runs the server.",
    ),
    setting(
        "",
        "audit_syslog",
        "LEAKWATCH_AUDIT_SYSLOG",
        Kind::Path,
        None,
        "A syslog datagram socket (e.g. /dev/log) every audit record is also sent to, as an\n\
         RFC 5424 line, so a log collector keeps a copy the operator cannot edit.",
    ),
    setting(
        "",
        "audit_file_size",
        "LEAKWATCH_AUDIT_FILE_SIZE",
        Kind::Size,
        Some("64M"),
        "Size at which an audit log file is sealed and the next begun (a new UTC day begins\n\
         one too); closed files are never written again.",
    ),
    setting(
        "",
        "operator_contact",
        "LEAKWATCH_OPERATOR_CONTACT",
        Kind::Text,
        None,
        "Where mail about an API key that reads in bulk goes (see [limits]); needs [mail] and\n\
         the operator key.",
    ),
    setting(
        "",
        "default_region",
        "LEAKWATCH_DEFAULT_REGION",
        Kind::Region,
        None,
        "Region (ISO 3166 alpha-2) of phone numbers written without a country code.",
    ),
    setting(
        "serve",
        "listen",
        "LEAKWATCH_LISTEN",
        Kind::Address,
        Some("127.0.0.1:8080"),
        "Address and port to listen on.",
    ),
    setting(
        "serve",
        "metrics_listen",
        "LEAKWATCH_METRICS_LISTEN",
        Kind::Address,
        Some("127.0.0.1:9464"),
        "Address and port of the Prometheus metrics listener (GET /metrics), apart from the\n\
         public one so that metrics are not served to the world; port 0 picks a free port.",
    ),
    setting(
        "serve",
        "credential_page_checks",
        "LEAKWATCH_CREDENTIAL_PAGE_CHECKS",
        Kind::Count,
        Some("60"),
        "Credential checks the web page's \"Check a login\" form may make from one client\n\
         address an hour; 0 switches the form's check off (keyed checks are limited by key).",
    ),
    setting(
        "serve",
        "tls_cert",
        "LEAKWATCH_TLS_CERT",
        Kind::Path,
        None,
        "PEM certificate chain: serve HTTPS (with tls_key).",
    ),
    setting(
        "serve",
        "tls_key",
        "LEAKWATCH_TLS_KEY",
        Kind::Path,
        None,
        "PEM private key of the certificate.",
    ),
    setting(
        "serve",
        "proxy_protocol_from",
        "LEAKWATCH_PROXY_PROTOCOL_FROM",
        Kind::Text,
        None,
        "Load balancers (IP addresses or CIDR networks, comma-separated) whose connections\n\
         open with a PROXY protocol v2 header naming the client; per-IP limits and the audit\n\
         trail's peer are then the client's. Their connections without one are closed.",
    ),
    setting(
        "serve",
        "store_poll_ms",
        "LEAKWATCH_STORE_POLL_MS",
        Kind::Count,
        Some("500"),
        "How often to ask the store for a newer generation, in milliseconds (on an object store\n\
         each ask is a billed request; on a shared catalogue writers also announce what they\n\
         publish, and a replica takes that at once).",
    ),
    setting(
        "serve",
        "insecure_webhooks_to_loopback",
        "LEAKWATCH_INSECURE_WEBHOOKS_TO_LOOPBACK",
        Kind::Switch,
        Some("false"),
        "For tests only: let webhooks go over plain http to loopback addresses. Otherwise a\n\
         webhook is https:// to a host whose every address is public.",
    ),
    setting(
        "serve",
        "access_log",
        "LEAKWATCH_ACCESS_LOG",
        Kind::Switch,
        Some("false"),
        "One line per request on standard error: time, method, route template, status,\n\
         latency; never the prefix, account or domain asked for.",
    ),
    setting(
        "serve",
        "range_cache",
        "LEAKWATCH_RANGE_CACHE",
        Kind::Size,
        Some("256M"),
        "Memory for finished range answers (plain, gzip, brotli), kept by popularity: a\n\
         popular prefix is rendered and compressed once per import. 0 turns it off.",
    ),
    setting(
        "serve",
        "answer_dir",
        "LEAKWATCH_ANSWER_DIR",
        Kind::Path,
        None,
        "Render every range of the served generation ahead into files here (plain, gzip,\n\
         brotli: about four times the store at the public corpus's shape) and answer from\n\
         them. A local directory outside the data directory.",
    ),
    setting(
        "serve",
        "answer_codings",
        "LEAKWATCH_ANSWER_CODINGS",
        Kind::Text,
        Some("gzip,br"),
        "The codings the answer files hold beside plain text, comma-separated: gzip, br, or\n\
         none (each takes about half the plain text's size on disk).",
    ),
    setting(
        "serve",
        "log_format",
        "LEAKWATCH_LOG_FORMAT",
        Kind::LogFormat,
        Some("human"),
        "Log lines on standard error: \"human\" (time, level, message) or \"json\" (one\n\
         object per line, for a log collector).",
    ),
    setting(
        "serve",
        "dns_resolver",
        "LEAKWATCH_DNS_RESOLVER",
        Kind::Address,
        None,
        "DNS resolver (address:port) that domain verification asks for TXT records\n\
         (default: the system's).",
    ),
    setting(
        "mail",
        "smtp_url",
        "LEAKWATCH_SMTP_URL",
        Kind::SmtpUrl,
        None,
        "SMTP server: smtp://HOST:PORT (no TLS: loopback only), smtp://HOST:587?tls=required\n\
         (STARTTLS) or smtps://HOST:465; a user name as USER@ before the host. Without it,\n\
         the mail features answer 503.",
    ),
    setting(
        "mail",
        "smtp_password_file",
        "LEAKWATCH_SMTP_PASSWORD_FILE",
        Kind::Path,
        None,
        "File holding the SMTP password (for the user in smtp_url).",
    ),
    setting(
        "mail",
        "smtp_ca_file",
        "LEAKWATCH_SMTP_CA_FILE",
        Kind::Path,
        None,
        "PEM file of a private CA to trust for the SMTP server's certificate.",
    ),
    setting(
        "mail",
        "from",
        "LEAKWATCH_MAIL_FROM",
        Kind::Text,
        Some("leakwatch <leakwatch@localhost>"),
        "Sender of leakwatch's mails.",
    ),
    setting(
        "mail",
        "public_url",
        "LEAKWATCH_PUBLIC_URL",
        Kind::Text,
        None,
        "The URL people reach this server at, quoted in mails (default: http:// and the\n\
         listen address).",
    ),
    setting(
        "mail",
        "retry_after",
        "LEAKWATCH_MAIL_RETRY_AFTER",
        Kind::Count,
        Some("30"),
        "Seconds before a failed delivery is tried again; doubles each time, up to an hour.",
    ),
    setting(
        "mail",
        "check_limit_per_ip",
        "LEAKWATCH_CHECK_LIMIT_PER_IP",
        Kind::Count,
        Some("10"),
        "Private checks and subscriptions one client IP may ask for per hour.",
    ),
    setting(
        "mail",
        "check_limit_per_address",
        "LEAKWATCH_CHECK_LIMIT_PER_ADDRESS",
        Kind::Count,
        Some("3"),
        "Private checks and subscriptions one address may receive per day.",
    ),
    setting(
        "keys",
        "max_rpm",
        "LEAKWATCH_MAX_RPM",
        Kind::Count,
        Some("10000"),
        "The most requests per minute `keys create --rpm` may give a key; a larger value is\n\
         refused, so a typo cannot hand out an unlimited key.",
    ),
    setting(
        "keys",
        "valid_days",
        "LEAKWATCH_KEY_VALID_DAYS",
        Kind::Count,
        Some("365"),
        "Days a new key works when `keys create` is given no --expires (`--expires never`\n\
         for a key that does not expire).",
    ),
    setting(
        "limits",
        "max_account_prefixes_per_hour",
        "LEAKWATCH_MAX_ACCOUNT_PREFIXES_PER_HOUR",
        Kind::Count,
        Some("1000"),
        "Distinct 6-hex account-range prefixes one API key may read per hour; past it the\n\
         anomaly is recorded in the audit log, counted (leakwatch_key_anomalies_total) and\n\
         mailed to operator_contact. 0: no limit.",
    ),
    setting(
        "limits",
        "max_accounts_per_hour",
        "LEAKWATCH_MAX_ACCOUNTS_PER_HOUR",
        Kind::Count,
        Some("10000"),
        "Distinct accounts one API key may look up per hour (0: no limit).",
    ),
    setting(
        "limits",
        "max_domains_per_hour",
        "LEAKWATCH_MAX_DOMAINS_PER_HOUR",
        Kind::Count,
        Some("100"),
        "Distinct domains one API key may search per hour (0: no limit).",
    ),
    setting(
        "limits",
        "suspend_on_anomaly",
        "LEAKWATCH_SUSPEND_ON_ANOMALY",
        Kind::Switch,
        Some("false"),
        "Suspend a key that crosses one of the limits above (its requests get 401 with the\n\
         reason) until `leakwatch keys resume PREFIX`.",
    ),
    setting(
        "limits",
        "max_domain_answer",
        "LEAKWATCH_MAX_DOMAIN_ANSWER",
        Kind::Count,
        Some("1000"),
        "The most addresses a breacheddomain answer may hold for a key without the\n\
         domain-bulk scope (403 naming the scope beyond). 0: no limit.",
    ),
];

/// Where leakwatch looks for its file when neither `--config` nor `LEAKWATCH_CONFIG` names
/// one: the first that exists.
pub fn search_path() -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from("leakwatch.toml")];
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(dir) = config_home {
        paths.push(dir.join("leakwatch").join("leakwatch.toml"));
    }
    paths.push(PathBuf::from("/etc/leakwatch/leakwatch.toml"));
    paths
}

/// The file to read: `--config FILE` / `--config=FILE` on the command line, else
/// `LEAKWATCH_CONFIG`, else the first of [`search_path`] that exists. A file named
/// explicitly must exist.
pub fn locate(args: &[String]) -> Result<Option<PathBuf>> {
    let mut named = None;
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            named = it.next().map(PathBuf::from);
        } else if let Some(v) = arg.strip_prefix("--config=") {
            named = Some(PathBuf::from(v));
        }
    }
    let named = named.or_else(|| std::env::var_os("LEAKWATCH_CONFIG").map(PathBuf::from));
    match named {
        Some(path) if path.is_file() => Ok(Some(path)),
        Some(path) => bail!("configuration file {} not found", path.display()),
        None => Ok(search_path().into_iter().find(|p| p.is_file())),
    }
}

/// A value read from the file, for one setting.
struct Found {
    setting: &'static Setting,
    value: String,
}

/// Reads and checks `text` (the file at `path`): every problem with its line, or the values.
fn read(path: &Path, text: &str) -> Result<Vec<Found>, Vec<String>> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let name = path.display();
    let (root, errors) = toml::de::DeTable::parse_recoverable(text);
    let mut problems: Vec<(usize, String)> = errors
        .iter()
        .map(|e| {
            let line = e.span().map_or(1, |s| line_of(s.start));
            let message = e.message().lines().next().unwrap_or("").to_owned();
            (line, format!("{name}:{line}: {message}"))
        })
        .collect();
    if !problems.is_empty() {
        // What the parser recovered past a syntax error is a guess: check nothing in it.
        return Err(problems.into_iter().map(|(_, p)| p).collect());
    }
    let mut found = Vec::new();
    let mut visit = |section: &str, table: &toml::de::DeTable<'_>| {
        for (key, value) in table {
            let line = line_of(key.span().start);
            let key: &str = key.get_ref();
            if section.is_empty() && value.get_ref().as_table().is_some() {
                continue; // a section, visited on its own
            }
            let Some(setting) = SETTINGS
                .iter()
                .find(|s| s.section == section && s.key == key)
            else {
                let place = if section.is_empty() {
                    format!("`{key}`")
                } else {
                    format!("`{key}` in [{section}]")
                };
                let hint = SETTINGS
                    .iter()
                    .find(|s| s.key == key)
                    .map(|s| match s.section {
                        "" => " (it belongs before any [section])".to_owned(),
                        other => format!(" (it belongs in [{other}])"),
                    })
                    .unwrap_or_default();
                problems.push((
                    line,
                    format!("{name}:{line}: unknown setting {place}{hint}"),
                ));
                continue;
            };
            let line = line_of(value.span().start);
            match check(setting, value.get_ref()) {
                Ok(value) => found.push(Found { setting, value }),
                Err(why) => {
                    problems.push((line, format!("{name}:{line}: `{}`: {why}", setting.key)))
                }
            }
        }
    };
    let root = root.into_inner();
    visit("", &root);
    let mut unknown_sections = Vec::new();
    for (key, value) in &root {
        let section: &str = key.get_ref();
        let Some(table) = value.get_ref().as_table() else {
            continue;
        };
        if !section.is_empty() && SETTINGS.iter().any(|s| s.section == section) {
            visit(section, table);
        } else {
            let line = line_of(key.span().start);
            unknown_sections.push((line, format!("{name}:{line}: unknown section [{section}]")));
        }
    }
    problems.extend(unknown_sections);
    if problems.is_empty() {
        found.sort_by_key(|f| SETTINGS.iter().position(|s| s.env == f.setting.env));
        Ok(found)
    } else {
        problems.sort();
        Err(problems.into_iter().map(|(_, p)| p).collect())
    }
}

/// The value as the setting's variable would hold it, or why it cannot be one.
fn check(setting: &Setting, value: &toml::de::DeValue<'_>) -> Result<String, String> {
    use toml::de::DeValue;
    let text = match value {
        DeValue::String(s) => s.to_string(),
        DeValue::Integer(i) => i.to_string(),
        DeValue::Boolean(b) => b.to_string(),
        _ => return Err("expected a string, a number or true/false".into()),
    };
    match setting.kind {
        Kind::Path | Kind::Text if text.is_empty() => Err("must not be empty".into()),
        Kind::Path | Kind::Text => Ok(text),
        Kind::Address => text
            .parse::<std::net::SocketAddr>()
            .map(|_| text.clone())
            .map_err(|_| format!("{text:?} is not an address:port such as \"127.0.0.1:8080\"")),
        Kind::Count => match value {
            DeValue::Integer(_) => text
                .parse::<u32>()
                .map(|_| text.clone())
                .map_err(|_| format!("{text} is not a whole number from 0 to 4294967295")),
            _ => Err(format!("expected a number, found {text:?}")),
        },
        Kind::Size => crate::flags::parse_size(&text).map(|_| text.clone()),
        Kind::Switch => match value {
            DeValue::Boolean(_) => Ok(text),
            _ => Err(format!("expected true or false, found {text:?}")),
        },
        Kind::Region => {
            if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
                Ok(text.to_ascii_uppercase())
            } else {
                Err(format!(
                    "{text:?} is not a two-letter region such as \"GB\""
                ))
            }
        }
        Kind::LogFormat => match text.as_str() {
            "human" | "json" => Ok(text),
            _ => Err(format!("{text:?} is not \"human\" or \"json\"")),
        },
        Kind::SmtpUrl => {
            if text.starts_with("smtp://") || text.starts_with("smtps://") {
                Ok(text)
            } else {
                Err("expected an smtp:// or smtps:// URL".into())
            }
        }
    }
}

/// Applies the file at `path`: each of its settings whose variable the environment does not
/// set becomes that variable. Any problem in the file refuses it whole.
///
/// Must run before any other thread starts (it changes the environment).
pub fn apply(path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration file {}", path.display()))?;
    let found = read(path, &text).map_err(|problems| anyhow::anyhow!(problems.join("\n")))?;
    for f in found {
        if std::env::var_os(f.setting.env).is_none() {
            // SAFETY: called from `main` before the command runs, while the process has only
            // its main thread, so no other thread reads or writes the environment meanwhile.
            unsafe { std::env::set_var(f.setting.env, &f.value) };
        }
    }
    Ok(())
}

/// `leakwatch config check FILE`: every problem with its line, or how many settings it sets.
pub fn check_file(path: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration file {}", path.display()))?;
    match read(path, &text) {
        Ok(found) => Ok(found.len()),
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            bail!("{} problem(s) in {}", problems.len(), path.display())
        }
    }
}

/// `leakwatch config example`: every setting, commented, with its default commented out.
pub fn example() -> String {
    let mut out = String::from(
        "# leakwatch configuration (TOML). Every setting is optional. The same setting can be\n\
         # given as an environment variable (shown) or a flag; flags win over the environment,\n\
         # the environment over this file, this file over the defaults shown.\n\
         # `leakwatch --config FILE`; without it: LEAKWATCH_CONFIG, then ./leakwatch.toml,\n\
         # ~/.config/leakwatch/leakwatch.toml, /etc/leakwatch/leakwatch.toml.\n\
         # Check a file with `leakwatch config check FILE`.\n",
    );
    let mut section = "";
    for s in SETTINGS {
        if s.section != section {
            section = s.section;
            out.push_str(&format!("\n[{section}]\n"));
        }
        out.push('\n');
        for line in s.doc.lines() {
            out.push_str(&format!("# {}\n", line.trim()));
        }
        let note = if s.default.is_some() {
            ""
        } else {
            "; no default"
        };
        out.push_str(&format!("# Environment: {}{note}\n", s.env));
        let value = match (s.default, s.kind) {
            (Some(v), Kind::Count | Kind::Switch) => v.to_owned(),
            (Some(v), _) => format!("{v:?}"),
            (None, Kind::Path) => "\"/path/to/file\"".to_owned(),
            (None, Kind::Address) => "\"127.0.0.1:53\"".to_owned(),
            (None, Kind::Region) => "\"GB\"".to_owned(),
            (None, Kind::SmtpUrl) => "\"smtp://mail.example.org:587?tls=required\"".to_owned(),
            (None, _) => "\"https://leakwatch.example.org\"".to_owned(),
        };
        out.push_str(&format!("#{} = {value}\n", s.key));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        read(Path::new("f.toml"), text).err().unwrap_or_default()
    }

    #[test]
    fn the_example_sets_every_setting_once_uncommented() {
        let example = example();
        assert!(problems(&example).is_empty(), "{:?}", problems(&example));
        // Uncomment every setting line: each must be accepted, and all of them found.
        let uncommented: String = example
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => rest.to_owned(),
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let found = read(Path::new("f.toml"), &uncommented).unwrap();
        assert_eq!(found.len(), SETTINGS.len(), "{uncommented}");
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = "data = \"/srv/lw\"\n\
                    listen = \"127.0.0.1:1\"\n\
                    [serve]\n\
                    listen = \"not an address\"\n\
                    access_log = \"yes\"\n\
                    colour = true\n\
                    [mail]\n\
                    retry_after = -5\n\
                    smtp_url = \"http://mail\"\n\
                    [cache]\n\
                    size = 1\n";
        assert_eq!(
            problems(text),
            [
                "f.toml:2: unknown setting `listen` (it belongs in [serve])",
                "f.toml:4: `listen`: \"not an address\" is not an address:port such as \"127.0.0.1:8080\"",
                "f.toml:5: `access_log`: expected true or false, found \"yes\"",
                "f.toml:6: unknown setting `colour` in [serve]",
                "f.toml:8: `retry_after`: -5 is not a whole number from 0 to 4294967295",
                "f.toml:9: `smtp_url`: expected an smtp:// or smtps:// URL",
                "f.toml:10: unknown section [cache]",
            ]
        );
        let broken = problems("data = \"a\"\n[serve\nlisten = 1\n");
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(broken[0].starts_with("f.toml:2: "), "{broken:?}");
    }

    /// The file works by setting variables: each must be one that a flag reads.
    #[test]
    fn every_setting_is_a_variable_some_flag_reads() {
        fn read_by(cmd: &clap::Command, out: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                if let Some(env) = arg.get_env() {
                    out.push(env.to_string_lossy().into_owned());
                }
            }
            for sub in cmd.get_subcommands() {
                read_by(sub, out);
            }
        }
        let mut variables = Vec::new();
        read_by(
            &<crate::Cli as clap::CommandFactory>::command(),
            &mut variables,
        );
        for s in SETTINGS {
            assert!(
                variables.iter().any(|v| v == s.env),
                "no flag reads {}",
                s.env
            );
        }
    }

    #[test]
    fn values_become_what_the_variables_hold() {
        let found = read(
            Path::new("f.toml"),
            "default_region = \"gb\"\n[serve]\naccess_log = true\n[mail]\nretry_after = 5\n",
        )
        .unwrap();
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|f| (f.setting.env, f.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("LEAKWATCH_DEFAULT_REGION", "GB"),
                ("LEAKWATCH_ACCESS_LOG", "true"),
                ("LEAKWATCH_MAIL_RETRY_AFTER", "5"),
            ]
        );
    }
}
