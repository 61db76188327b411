//! `leakwatch demo`: a fictional world built once into a demo directory, then served with a
//! demo mailbox.
//!
//! The world is about twenty breaches of every kind (a retailer's insider breach, an
//! analytics vendor's breach that reaches its customers, a spam list, a sensitive, a
//! fabricated, a malware and a retired breach, a stealer-log set), 100,000 fictional people
//! spread over them, a password corpus, a paste, the tenant Example Corp with its verified
//! domain, five vendors and a few alert subscriptions. Everything is made the way an operator
//! would make it: each step is a `leakwatch` command line run by this same binary against the
//! demo's data directory, so each goes through the service layer as the operator and leaves
//! its audit record. Mail goes to a Maildir inside the demo directory, shown at
//! `/demo/mailbox` to loopback clients.
//!
//! The demo directory holds `data/` (the data directory), its own `operator.key` and
//! `audit.key` (0600), `mailbox/`, and `demo-version`: a directory built by another version
//! of the world is rebuilt. A directory that is neither empty nor a demo's is refused, never
//! removed.

use std::{
    collections::BTreeSet,
    io::Write,
    net::SocketAddr,
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{Context, Result};

use super::serve::{Serving, serve, start_logging};
use crate::flags::*;

/// The version of the world below: a demo directory built with another one is rebuilt.
const WORLD_VERSION: &str = "2";

/// The tenant the dashboard shows, its domain and its security team's address.
const TENANT: &str = "example-corp";
const TENANT_DOMAIN: &str = "examplecorp.example";
const TENANT_CONTACT: &str = "soc@examplecorp.example";

/// The three addresses the banner suggests, each in several breaches.
pub const TRY_ADDRESSES: [&str; 3] = [
    "alex.rivera@mail.example",
    "sam.okafor@examplecorp.example",
    "jo.nguyen@inbox.example",
];

/// People in the world.
const PEOPLE: u64 = 100_000;

/// Example Corp's employees, `first.lastN@examplecorp.example`.
const EMPLOYEES: u64 = 400;

/// One breach of the world.
struct DemoBreach {
    name: &'static str,
    title: &'static str,
    domain: &'static str,
    date: &'static str,
    classes: &'static str,
    /// Share of the world's people in it, per mille.
    per_mille: u64,
    /// Example Corp employees in it.
    employees: u64,
    /// Which of [`TRY_ADDRESSES`] are in it.
    tries: [bool; 3],
    /// Further `breach add` flags (`--sensitive`, `--vendor NAME`, ...).
    flags: &'static [&'static str],
    description: &'static str,
}

const fn breach(
    name: &'static str,
    domain: &'static str,
    date: &'static str,
    classes: &'static str,
    per_mille: u64,
) -> DemoBreach {
    DemoBreach {
        name,
        title: name,
        domain,
        date,
        classes,
        per_mille,
        employees: 0,
        tries: [false; 3],
        flags: &[],
        description: "",
    }
}

const CLASSES_BASIC: &str = "Email addresses,Passwords,Usernames";

/// The breaches, oldest first (the timeline spans 2013 to 2026).
const BREACHES: [DemoBreach; 19] = [
    DemoBreach {
        title: "Old Forum",
        tries: [false, false, true],
        flags: &["--verified", "false"],
        description: "A hobby forum's database, retired from the catalogue once it turned out to be a copy of another breach.",
        ..breach(
            "OldForum",
            "oldforum.example",
            "2013-04-02",
            CLASSES_BASIC,
            30,
        )
    },
    DemoBreach {
        title: "GameHub",
        tries: [true, false, false],
        description: "An online games portal: accounts with unsalted SHA-1 passwords.",
        ..breach(
            "GameHub",
            "gamehub.example",
            "2014-09-18",
            "Email addresses,Passwords,Usernames,IP addresses",
            120,
        )
    },
    DemoBreach {
        title: "RecipeBox",
        ..breach(
            "RecipeBox",
            "recipebox.example",
            "2015-06-11",
            "Email addresses,Names,Passwords",
            60,
        )
    },
    DemoBreach {
        title: "PhotoShare",
        ..breach(
            "PhotoShare",
            "photoshare.example",
            "2016-02-27",
            "Email addresses,Passwords,Geographic locations",
            80,
        )
    },
    DemoBreach {
        title: "Quiet Dating",
        tries: [false, false, true],
        flags: &["--sensitive"],
        description: "A dating site. Sensitive: it is not found by a public search, only by a verified owner of the address.",
        ..breach(
            "QuietDating",
            "quietdating.example",
            "2016-11-05",
            "Email addresses,Names,Sexual orientations,Passwords",
            20,
        )
    },
    DemoBreach {
        title: "SpamCannon",
        tries: [true, false, false],
        flags: &["--spam-list"],
        description: "A spam list: addresses collected for sending spam, not stolen from a service.",
        ..breach(
            "SpamCannon",
            "spamcannon.example",
            "2017-08-30",
            "Email addresses,Names",
            250,
        )
    },
    DemoBreach {
        title: "CityBikes",
        ..breach(
            "CityBikes",
            "citybikes.example",
            "2018-03-15",
            "Email addresses,Phone numbers,Passwords",
            40,
        )
    },
    DemoBreach {
        title: "FakeLeaks",
        flags: &["--fabricated"],
        description: "Sold as a breach of a bank; the addresses were made up or collected elsewhere.",
        ..breach(
            "FakeLeaks",
            "fakeleaks.example",
            "2018-12-01",
            "Email addresses,Passwords",
            30,
        )
    },
    DemoBreach {
        title: "FitTrack",
        employees: 25,
        ..breach(
            "FitTrack",
            "fittrack.example",
            "2019-05-20",
            "Email addresses,Genders,Dates of birth,Passwords",
            70,
        )
    },
    DemoBreach {
        title: "CodeCamp",
        employees: 40,
        ..breach(
            "CodeCamp",
            "codecamp.example",
            "2020-01-09",
            "Email addresses,Names,Usernames,Passwords",
            50,
        )
    },
    DemoBreach {
        title: "TravelNest",
        ..breach(
            "TravelNest",
            "travelnest.example",
            "2020-10-22",
            "Email addresses,Names,Phone numbers,Passport numbers",
            45,
        )
    },
    DemoBreach {
        title: "PetPals",
        ..breach(
            "PetPals",
            "petpals.example",
            "2021-07-14",
            "Email addresses,Names,Physical addresses",
            35,
        )
    },
    DemoBreach {
        title: "InfoStealer drop",
        flags: &["--malware"],
        description: "Credentials a malware campaign's operators left on an open server.",
        ..breach(
            "InfoStealerDrop",
            "",
            "2022-03-03",
            "Email addresses,Passwords",
            25,
        )
    },
    DemoBreach {
        title: "StreamFlix",
        tries: [true, false, false],
        ..breach(
            "StreamFlix",
            "streamflix.example",
            "2022-09-08",
            "Email addresses,Passwords,Partial credit card data",
            110,
        )
    },
    DemoBreach {
        title: "BookClub",
        ..breach(
            "BookClub",
            "bookclub.example",
            "2023-04-17",
            "Email addresses,Names,Passwords",
            40,
        )
    },
    DemoBreach {
        title: "TalentPool",
        employees: 60,
        tries: [false, true, false],
        description: "A recruiting platform Example Corp uses: candidates' and hiring managers' profiles.",
        ..breach(
            "TalentPool",
            "talentpool.example",
            "2024-02-12",
            "Email addresses,Names,Employers,Job titles",
            35,
        )
    },
    DemoBreach {
        title: "Newsletterly",
        employees: 80,
        tries: [true, true, false],
        flags: &["--vendor", "MailBlast"],
        description: "A newsletter list that left through the mailing service MailBlast.",
        ..breach(
            "Newsletterly",
            "newsletterly.example",
            "2024-11-29",
            "Email addresses,Names",
            90,
        )
    },
    DemoBreach {
        title: "Marketly",
        employees: 120,
        tries: [true, true, true],
        description: "An online retailer. A former employee of its authentication team exported the customer table before leaving.",
        ..breach(
            "Marketly",
            "marketly.example",
            "2025-06-03",
            "Email addresses,Names,Passwords,Physical addresses,Purchases",
            150,
        )
    },
    DemoBreach {
        title: "Trackwise",
        employees: 150,
        tries: [false, true, false],
        description: "An analytics vendor. Its customers' visitor records left with it, Example Corp's staff among them.",
        ..breach(
            "Trackwise",
            "trackwise.example",
            "2026-01-21",
            "Email addresses,Names,IP addresses,Browser user agent details,Geographic locations",
            60,
        )
    },
];

/// The stealer-log set, loaded from a generated tree of logs.
const STEALER_SET: &str = "StealerLogs2026";

/// Example Corp's vendors: CSV as `vendors import` reads it.
const VENDORS: &str = "name,domains,data_classes,criticality,owner,notes
Trackwise,trackwise.example,Email addresses;Names;IP addresses;Browser user agent details,4,cto@examplecorp.example,web analytics on every page
PayDay Payroll,payday.example,Names;Bank account numbers;Salaries;Passwords,5,hr@examplecorp.example,payroll
MailBlast,mailblast.example,Email addresses;Names,2,marketing@examplecorp.example,newsletters
TalentPool,talentpool.example,Names;Email addresses;Employers;Job titles,3,hr@examplecorp.example,recruiting
CloudDesk,clouddesk.example,Email addresses;Names;Phone numbers,3,support@examplecorp.example,customer support tickets
";

/// The demo directory's parts.
struct DemoDir {
    root: PathBuf,
}

impl DemoDir {
    fn data(&self) -> PathBuf {
        self.root.join("data")
    }
    fn operator_key(&self) -> PathBuf {
        self.root.join("operator.key")
    }
    fn audit_key(&self) -> PathBuf {
        self.root.join("audit.key")
    }
    fn mailbox(&self) -> PathBuf {
        self.root.join("mailbox")
    }
    fn version(&self) -> PathBuf {
        self.root.join("demo-version")
    }
    /// The (empty) configuration file of the commands the demo runs: nothing of the
    /// caller's configuration reaches the demo.
    fn config(&self) -> PathBuf {
        self.root.join("demo.toml")
    }
    fn demo_key_id(&self) -> PathBuf {
        self.root.join("demo-key-prefix")
    }
    fn scratch(&self) -> PathBuf {
        self.root.join("scratch")
    }

    /// Whether the world in it is this build's.
    fn is_current(&self) -> bool {
        std::fs::read_to_string(self.version()).is_ok_and(|v| v.trim() == WORLD_VERSION)
    }

    /// Empties the directory for a new world: only what a demo (of any version) puts there
    /// is removed, and a directory holding anything else is refused.
    fn clear(&self) -> Result<()> {
        const OURS: [&str; 14] = [
            // This layout.
            "data",
            "operator.key",
            "audit.key",
            "mailbox",
            "demo-version",
            "demo-key-prefix",
            "demo.toml",
            "scratch",
            // Version 1 served the directory itself as its data directory.
            "store",
            "catalog.db",
            "tmp",
            "audit",
            "spill",
            "rejects",
        ];
        if !self.root.exists() {
            return Ok(());
        }
        let entries: Vec<_> = std::fs::read_dir(&self.root)
            .with_context(|| format!("reading {}", self.root.display()))?
            .collect::<std::io::Result<_>>()?;
        let foreign: Vec<String> = entries
            .iter()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !OURS.contains(&n.as_str()) && !n.starts_with("catalog.db"))
            .collect();
        anyhow::ensure!(
            foreign.is_empty(),
            "{} is not a demo directory (it holds {}): give `leakwatch demo --data` a new or empty directory",
            self.root.display(),
            foreign.join(", ")
        );
        for e in entries {
            let path = e.path();
            if e.file_type()?.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            }
            .with_context(|| format!("removing {}", path.display()))?;
        }
        Ok(())
    }

    /// This binary, run against the demo's data directory with the demo's keys and nothing
    /// of the caller's environment or configuration.
    fn leakwatch(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(std::env::current_exe().unwrap_or_else(|_| "leakwatch".into()));
        cmd.env_clear();
        for var in ["PATH", "HOME", "TMPDIR", "LANG"] {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        cmd.env("LEAKWATCH_CONFIG", self.config())
            .env("LEAKWATCH_DATA", self.data())
            .env("LEAKWATCH_AUDIT_KEY_FILE", self.audit_key())
            .env("LEAKWATCH_OPERATOR_KEY_FILE", self.operator_key())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a `leakwatch` command line; its standard output, or an error with its standard
    /// error.
    fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .leakwatch(args)
            .output()
            .with_context(|| format!("running leakwatch {}", args.join(" ")))?;
        anyhow::ensure!(
            out.status.success(),
            "leakwatch {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// `leakwatch demo`.
pub fn demo(
    data: Option<PathBuf>,
    listen: SocketAddr,
    audit: &super::auditlog::AuditSetup,
) -> Result<()> {
    let root = data.unwrap_or_else(|| {
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("leakwatch").join("demo")
    });
    let dir = DemoDir { root };
    if dir.is_current() {
        eprintln!(
            "leakwatch demo: using the demo world in {}",
            dir.root.display()
        );
    } else {
        dir.clear()?;
        let started = std::time::Instant::now();
        eprintln!(
            "leakwatch demo: building a fictional world in {} ...",
            dir.root.display()
        );
        build_world(&dir)?;
        eprintln!(
            "leakwatch demo: built in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let key = fresh_demo_key(&dir)?;
    let mut audit = audit.clone();
    audit.key_file = Some(dir.audit_key());
    let audit = audit.open("demo", &dir.data())?;
    start_logging(LogFormat::Human);
    let banner = format!(
        "\nleakwatch demo: a fictional world, served.\n\
         \n  The public page:     {{url}}/\
         \n  The demo mailbox:    {{url}}/demo/mailbox   (every mail the demo sends lands here)\
         \n  The dashboard:       {{url}}/dashboard      (sign in with the key below)\
         \n  The API:             {{url}}/api/v3/breaches\
         \n  Demo API key (Example Corp, every scope; shown only now, revoked by the next run):\
         \n    {key}\
         \n\n  Addresses to try (\"Mail me the result\" on the page, then open the mailbox):\
         \n    {}\n    {}\n    {}\
         \n\n  curl -H 'hibp-api-key: {key}' -H 'user-agent: demo' {{url}}/api/v3/breachedaccount/{}\
         \n  curl {{url}}/range/5BAA6\
         \n\nPress Ctrl-C to stop.",
        TRY_ADDRESSES[0], TRY_ADDRESSES[1], TRY_ADDRESSES[2], TRY_ADDRESSES[0]
    );
    serve(
        &dir.data(),
        Serving {
            range_cache: leakwatch_api::DEFAULT_RANGE_CACHE,
            listen,
            metrics_listen: "127.0.0.1:0".parse().expect("an address"),
            default_region: None,
            access_log: false,
            mail: None,
            key: OperatorKeyArg {
                operator_key_file: Some(dir.operator_key()),
            },
            dns_resolver: None,
            insecure_webhooks_to_loopback: false,
            tls: None,
            banner: Some(banner),
            demo_mailbox: Some(dir.mailbox()),
            audit: Some(audit),
            bulk: None,
            proxy_protocol: None,
            store_poll: std::time::Duration::from_millis(500),
        },
    )
}

/// Revokes the previous run's demo key and makes a new one, for Example Corp with every
/// scope: a key is shown once, so each run shows its own.
fn fresh_demo_key(dir: &DemoDir) -> Result<String> {
    if let Ok(prefix) = std::fs::read_to_string(dir.demo_key_id()) {
        let prefix = prefix.trim();
        // Already revoked (or gone with a rebuilt world) is fine.
        let _ = dir.run(&["keys", "revoke", prefix]);
    }
    let key = dir
        .run(&[
            "keys",
            "create",
            "--name",
            "demo",
            "--tenant",
            TENANT,
            "--scope",
            "all",
            "--rpm",
            "600",
            "--valid-days",
            "30",
        ])?
        .trim()
        .to_owned();
    anyhow::ensure!(
        key.len() >= 6 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "keys create printed no key"
    );
    std::fs::write(dir.demo_key_id(), &key[..6])?;
    Ok(key)
}

/// A 64-bit mix of `i` and `j` (splitmix64's finaliser), for choosing who is in which breach.
fn mix(i: u64, j: u64) -> u64 {
    let mut z = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(j.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Example Corp's employee `n`.
fn employee(n: u64) -> String {
    const FIRST: [&str; 8] = ["ana", "ben", "chloe", "dev", "eli", "fay", "gus", "hana"];
    const LAST: [&str; 8] = [
        "ito", "jones", "kim", "lopez", "moreau", "novak", "ortiz", "patel",
    ];
    format!(
        "{}.{}{n}@{TENANT_DOMAIN}",
        FIRST[(n % 8) as usize],
        LAST[(n / 8 % 8) as usize]
    )
}

/// Builds the world into `dir` (empty but for what [`DemoDir::clear`] left).
fn build_world(dir: &DemoDir) -> Result<()> {
    std::fs::create_dir_all(dir.scratch())?;
    // Keys first: the demo's own, private, inside the demo directory.
    super::keys::write_private(
        &dir.audit_key(),
        &leakwatch_service::auditlog::AuditKey::generate_hex(),
    )?;
    std::fs::write(dir.config(), "")?;
    dir.run(&[
        "operator-key",
        "generate",
        "--out",
        dir.operator_key().to_str().context("a UTF-8 path")?,
    ])?;
    build_passwords(dir)?;
    build_tenant(dir)?;
    build_breaches(dir)?;
    build_stealer_logs_and_paste(dir)?;
    // One segment a namespace: the range API's fast path.
    dir.run(&["compact"])?;
    std::fs::remove_dir_all(dir.scratch())?;
    std::fs::write(dir.version(), WORLD_VERSION)?;
    Ok(())
}

/// A file in the scratch directory, as an argument.
fn scratch_file(dir: &DemoDir, name: &str) -> String {
    dir.scratch().join(name).to_string_lossy().into_owned()
}

/// The password corpus: plaintext, SHA-1 and NTLM lists.
fn build_passwords(dir: &DemoDir) -> Result<()> {
    let path = |name: &str| scratch_file(dir, name);
    for (format, count, seed) in [
        (leakwatch_gen::GenFormat::Plain, 200_000u64, 1u64),
        (leakwatch_gen::GenFormat::Sha1, 100_000, 2),
        (leakwatch_gen::GenFormat::Ntlm, 50_000, 3),
    ] {
        let file = path("passwords.txt");
        leakwatch_gen::write_passwords(
            &mut std::io::BufWriter::new(std::fs::File::create(&file)?),
            format,
            count,
            seed,
        )?;
        dir.run(&["ingest", "-q", &file])?;
    }
    Ok(())
}

/// Example Corp: its first key makes the tenant; its domain, verified; its vendors; and the
/// alert subscriptions of two addresses to try.
fn build_tenant(dir: &DemoDir) -> Result<()> {
    dir.run(&[
        "keys",
        "create",
        "--name",
        "Example Corp SOC",
        "--tenant",
        TENANT,
        "--scope",
        "dashboard,domain,vendors,lookalike,stealerlogs,pastes",
    ])?;
    dir.run(&[
        "domain",
        "verify",
        TENANT_DOMAIN,
        "--trust",
        "--tenant",
        TENANT,
        "--contact",
        TENANT_CONTACT,
    ])?;
    let vendors = scratch_file(dir, "vendors.csv");
    std::fs::write(&vendors, VENDORS)?;
    dir.run(&["vendors", "import", &vendors, "--tenant", TENANT])?;
    for address in [TRY_ADDRESSES[0], TRY_ADDRESSES[2]] {
        dir.run(&["subscribe", "add", address])?;
    }
    // Alerts go to those who subscribed no later than a breach's AddedDate (whole seconds).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    Ok(())
}

/// The breaches: one generated dump of the world's people, shared out among them, with
/// Example Corp's employees and the addresses to try planted.
fn build_breaches(dir: &DemoDir) -> Result<()> {
    let mut people = Vec::new();
    leakwatch_gen::write_dump(
        &mut people,
        leakwatch_gen::DumpFormat::Combo(b':'),
        PEOPLE,
        11,
        0,
    )?;
    let people: Vec<&[u8]> = people
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let passwords = [
        "Summer2024!",
        "letmein",
        "hunter2",
        "Password1",
        "qwerty123",
    ];
    for (j, b) in BREACHES.iter().enumerate() {
        let mut args: Vec<String> = ["breach", "add", "--name", b.name, "--title", b.title]
            .map(String::from)
            .to_vec();
        for (flag, value) in [
            ("--breach-date", b.date),
            ("--data-classes", b.classes),
            ("--domain", b.domain),
            ("--description", b.description),
        ] {
            if !value.is_empty() {
                args.extend([flag.to_owned(), value.to_owned()]);
            }
        }
        args.extend(b.flags.iter().map(|f| f.to_string()));
        dir.run(&args.iter().map(String::as_str).collect::<Vec<_>>())?;

        // A breach without passwords among its data classes leaked addresses only.
        let with_passwords = b.classes.contains("Passwords");
        let file = scratch_file(dir, "dump.txt");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for (i, line) in people.iter().enumerate() {
            if mix(i as u64, j as u64) % 1000 < b.per_mille {
                let end = match with_passwords {
                    true => line.len(),
                    false => line.iter().position(|&c| c == b':').unwrap_or(line.len()),
                };
                out.write_all(&line[..end])?;
                out.write_all(b"\n")?;
            }
        }
        let mut staff = BTreeSet::new();
        let mut draw = 0;
        while (staff.len() as u64) < b.employees.min(EMPLOYEES) {
            staff.insert(mix(draw + 1_000_000, j as u64) % EMPLOYEES);
            draw += 1;
        }
        let password = |p: &str| match with_passwords {
            true => format!(":{p}"),
            false => String::new(),
        };
        for n in staff {
            writeln!(
                out,
                "{}{}",
                employee(n),
                password(passwords[(n % 5) as usize])
            )?;
        }
        for (t, address) in TRY_ADDRESSES.iter().enumerate() {
            if b.tries[t] {
                writeln!(out, "{address}{}", password(passwords[(j + t) % 5]))?;
            }
        }
        out.into_inner()?.sync_all()?;
        dir.run(&["ingest", "-q", "--breach", b.name, &file])?;
    }
    dir.run(&["breach", "retire", "OldForum"])?;
    Ok(())
}

/// A stealer-log set (a generated tree of logs, two addresses to try planted) and a paste
/// naming the third.
fn build_stealer_logs_and_paste(dir: &DemoDir) -> Result<()> {
    dir.run(&[
        "breach",
        "add",
        "--name",
        STEALER_SET,
        "--title",
        "Stealer logs, January 2026",
        "--breach-date",
        "2026-01-31",
        "--data-classes",
        "Email addresses,Passwords,URLs",
        "--stealer-log",
        "--description",
        "Logs of infostealer malware: the websites each infected machine had saved logins for.",
    ])?;
    let logs = dir.scratch().join("stealer");
    leakwatch_gen::write_stealer_tree(&logs, 3_000, 2, 5)?;
    std::fs::write(
        logs.join("ulp").join("planted.txt"),
        format!(
            "https://login.streamflix.example/:{a}:hunter2\n\
             https://shop.marketly.example/account:{a}:Summer2024!\n\
             https://vpn.examplecorp.example/:{b}:Password1\n",
            a = TRY_ADDRESSES[0],
            b = TRY_ADDRESSES[1]
        ),
    )?;
    dir.run(&[
        "ingest",
        "-q",
        "--breach",
        STEALER_SET,
        logs.to_str().context("a UTF-8 path")?,
    ])?;

    let paste = scratch_file(dir, "paste.txt");
    std::fs::write(
        &paste,
        format!(
            "combo list, fresh\n{}:letmein\nnobody@nowhere.example:123456\n",
            TRY_ADDRESSES[2]
        ),
    )?;
    dir.run(&[
        "paste",
        "add",
        "--source",
        "Pastebin",
        "--id",
        "dEm0PaStE",
        "--title",
        "combo list, fresh",
        "--date",
        "2025-09-14T08:30:00Z",
        &paste,
    ])?;
    Ok(())
}
