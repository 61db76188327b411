//! The demo's fictional world: its breaches, people, tenant, vendors, stealer logs and paste,
//! and how each is made by a `leakwatch` command line run in the demo directory
//! ([`DemoDir::run`]), so that every step is an operator's audited action.

use std::{collections::BTreeSet, io::Write};

use anyhow::{Context, Result};

use super::DemoDir;

/// The version of the world below: a demo directory built with another one is rebuilt.
pub(super) const WORLD_VERSION: &str = "2";

/// The tenant the dashboard shows, its domain and its security team's address.
pub(super) const TENANT: &str = "example-corp";
const TENANT_DOMAIN: &str = "examplecorp.example";
const TENANT_CONTACT: &str = "soc@examplecorp.example";

/// The three addresses the banner suggests, each in several breaches.
pub(super) const TRY_ADDRESSES: [&str; 3] = [
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
pub(super) fn build_world(dir: &DemoDir) -> Result<()> {
    std::fs::create_dir_all(dir.scratch())?;
    // Keys first: the demo's own, private, inside the demo directory.
    crate::commands::keys::write_private(
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
