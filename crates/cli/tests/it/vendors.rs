//! The vendor inventory and supply-chain impact: an inventory imported from CSV, a generated
//! vendor breach with addresses of a verified domain planted in it, and the impact report
//! checked against the inventory (intersections and counts computed here), through the CLI,
//! the API and the alert mailed to the vendor's owner.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::*;

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(the_inventory_exported_and_imported_again_is_the_same),
        test!(a_breach_at_a_vendors_domain_exposes_what_it_was_sent_and_our_domains_addresses),
        test!(a_breach_that_names_its_vendor_matches_it_and_every_report_is_ranked),
        test!(served_the_api_gives_the_same_report_and_each_vendor_owner_is_mailed_once)
            .needs(&[Need::Aiosmtpd]),
        test!(the_dashboard_ranks_every_vendor_a_breach_reaches_with_what_it_exposed),
        test!(the_dashboards_vendor_forms_add_edit_import_and_remove_and_print_a_report),
    ]
}

const INVENTORY: &str = "name,domains,data_classes,criticality,owner,notes
Trackly,trackly.example;cdn.trackly.net,Email addresses;Names;Geographic locations;Browser user agent details,4,cto@acme.example,web analytics
Payroll Co,payroll.example,Passwords;Bank account numbers;Names,5,hr@acme.example,
Mailer,mailer.example,Email addresses,2,it@acme.example,newsletters
Unrelated,other.example,Names,1,,
";

/// The tenant whose inventory these tests keep (the key they create belongs to it).
const TENANT: &str = "acme";

/// The operator CLI; `vendors` commands act for [`TENANT`].
fn cli(data: &std::path::Path, args: &[&str]) -> String {
    let mut args = args.to_vec();
    if args[0] == "vendors" {
        args.extend(["--tenant", TENANT]);
    }
    operator_cli(data, &args)
}

/// The analytics vendor's breach: the classes it held.
const TRACKLY_CLASSES: [&str; 5] = [
    "Email addresses",
    "Names",
    "Geographic locations",
    "Browser user agent details",
    "IP addresses",
];

/// A data directory with the inventory, the Trackly breach (three addresses of acme.example
/// planted in it) and acme.example verified for a new API key, which is returned; with
/// `newsblast`, also a breach that names the vendor Mailer as the one it left through.
fn breached_inventory(tmp: &std::path::Path, newsblast: bool) -> (std::path::PathBuf, String) {
    let data = tmp.join("data");
    let d = data.to_str().unwrap();
    let key = crate::keys::create_tenant_key(d, "acme", TENANT);
    let inventory = write(&tmp.join("vendors.csv"), INVENTORY.as_bytes());
    cli(&data, &["vendors", "import", inventory.to_str().unwrap()]);
    // The analytics vendor is breached; three addresses of our verified domain are in it.
    add_breach(
        &data,
        "Trackly",
        &[
            "--title",
            "Trackly",
            "--domain",
            "trackly.example",
            "--data-classes",
            &TRACKLY_CLASSES.join(","),
        ],
    );
    let mut dump = gen_dump(Dump::Combo(':'), 2_000, 17, "0");
    for planted in [
        "alice@acme.example",
        "bob@acme.example",
        "carol@acme.example",
    ] {
        dump.extend_from_slice(format!("{planted}:x\n").as_bytes());
    }
    ingest_dump(&data, &write(&tmp.join("t.txt"), &dump), "Trackly", &[]);
    // The domain is verified after the breach was added (AddedDate has whole seconds), so
    // its contact gets no alert for it: it was there before they subscribed.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    cli(
        &data,
        &[
            "domain",
            "verify",
            "acme.example",
            "--trust",
            "--key",
            &key[..6],
            "--contact",
            "soc@acme.example",
        ],
    );
    if newsblast {
        add_breach(
            &data,
            "Newsblast",
            &[
                "--domain",
                "newsblast.example",
                "--vendor",
                "Mailer",
                "--data-classes",
                "Email addresses,Passwords",
            ],
        );
    }
    (data, key)
}

fn the_inventory_exported_and_imported_again_is_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    crate::keys::create_tenant_key(data.to_str().unwrap(), "acme", TENANT);
    let inventory = write(&tmp.path().join("vendors.csv"), INVENTORY.as_bytes());
    cli(&data, &["vendors", "import", inventory.to_str().unwrap()]);
    // Export and import again: the same inventory.
    let exported = cli(&data, &["vendors", "export"]);
    let again = write(&tmp.path().join("again.csv"), exported.as_bytes());
    cli(&data, &["vendors", "import", again.to_str().unwrap()]);
    assert_eq!(cli(&data, &["vendors", "export"]), exported);
}

fn a_breach_at_a_vendors_domain_exposes_what_it_was_sent_and_our_domains_addresses() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = breached_inventory(tmp.path(), false);
    let breach_classes = TRACKLY_CLASSES;
    let reports: serde_json::Value = serde_json::from_str(&cli(
        &data,
        &["vendors", "impact", "Trackly", "--format", "json"],
    ))
    .unwrap();
    let report = &reports[0];
    assert_eq!(report["breach"]["Name"], "Trackly");
    let hit: Vec<&str> = report["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vendor"].as_str().unwrap())
        .collect();
    assert_eq!(
        hit,
        ["Trackly"],
        "only the vendor whose domain was breached"
    );
    let v = &report["vendors"][0];
    assert_eq!(v["matchedBy"], "domain");
    assert_eq!(v["criticality"], 4);
    assert_eq!(v["owner"], "cto@acme.example");
    // Exposed = what we send Trackly ∩ what the breach holds.
    let sent = [
        "Email addresses",
        "Names",
        "Geographic locations",
        "Browser user agent details",
    ];
    let want: BTreeSet<&str> = sent
        .iter()
        .filter(|c| breach_classes.contains(c))
        .copied()
        .collect();
    let got: BTreeSet<&str> = v["exposedClasses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        report["yourDomains"],
        serde_json::json!([{"domain": "acme.example", "addresses": 3}])
    );
    let risk = v["risk"].as_f64().unwrap();
    assert!((4.0..=30.0).contains(&risk), "{risk}");
    assert!(
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().contains("phishing"))
    );
}

fn a_breach_that_names_its_vendor_matches_it_and_every_report_is_ranked() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = breached_inventory(tmp.path(), true);
    let reports: serde_json::Value = serde_json::from_str(&cli(
        &data,
        &["vendors", "impact", "Newsblast", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(reports[0]["vendors"][0]["vendor"], "Mailer");
    assert_eq!(reports[0]["vendors"][0]["matchedBy"], "vendor");
    assert_eq!(
        reports[0]["vendors"][0]["exposedClasses"],
        serde_json::json!(["Email addresses"])
    );
    // Ranked: with no breach named, every report, each vendor list highest risk first.
    let text = cli(&data, &["vendors", "impact"]);
    assert!(
        text.contains("Trackly") && text.contains("Mailer") && !text.contains("Payroll Co"),
        "{text}"
    );
    let html = cli(&data, &["vendors", "impact", "Trackly", "--format", "html"]);
    assert!(
        html.starts_with("<!doctype html>") && html.contains("<td>4</td>"),
        "{html}"
    );
}

fn served_the_api_gives_the_same_report_and_each_vendor_owner_is_mailed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, key) = breached_inventory(tmp.path(), true);
    // Served: the API gives the same report, and a new breach of a vendor mails its owner.
    let smtp = SmtpSink::start(tmp.path(), 0);
    let server = Server::start_with(
        &data,
        &["--smtp-url", &smtp.url()],
        &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)],
    );
    let headers = [("hibp-api-key", key.as_str()), ("User-Agent", "tests")];
    let (status, _, body) = http_get(&server.addr, "/api/v1/vendors/impact/Trackly", &headers);
    assert_eq!(status, 200);
    let api: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(api, reports_for(&data, "Trackly"));
    let (_, _, list) = http_get(&server.addr, "/api/v1/vendors", &headers);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&list)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // Existing breaches are assessed once at start: Trackly to cto@, Newsblast to it@.
    let mails = smtp.wait_for(2, 30);
    let owners: BTreeSet<&str> = mails
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        owners,
        BTreeSet::from(["cto@acme.example", "it@acme.example"]),
        "{mails:#?}"
    );
    add_breach(
        &data,
        "Payroll",
        &[
            "--domain",
            "payroll.example",
            "--data-classes",
            "Passwords,Names",
        ],
    );
    let mails = smtp.wait_for(3, 30);
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let payroll = mails
        .iter()
        .find(|m| m["rcpt_tos"][0] == "hr@acme.example")
        .unwrap();
    assert!(
        payroll["subject"]
            .as_str()
            .unwrap()
            .starts_with("leakwatch: vendor Payroll Co hit by the Payroll breach")
    );
    assert!(
        payroll["body"]
            .as_str()
            .unwrap()
            .contains("Reset the passwords"),
        "{}",
        payroll["body"]
    );
}

fn reports_for(data: &std::path::Path, breach: &str) -> serde_json::Value {
    let all: serde_json::Value = serde_json::from_str(&cli(
        data,
        &["vendors", "impact", breach, "--format", "json"],
    ))
    .unwrap();
    all[0].clone()
}

/// The cells of each body row of the HTML table with this id.
fn table_rows(page: &str, id: &str) -> Vec<Vec<String>> {
    let start = page.find(&format!("<table id=\"{id}\"")).unwrap();
    let table = &page[start..start + page[start..].find("</table>").unwrap()];
    let body = &table[table.find("<tbody>").unwrap()..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td>")
                .skip(1)
                .map(|cell| cell.split("</td>").next().unwrap().to_owned())
                .collect()
        })
        .collect()
}

fn the_dashboard_ranks_every_vendor_a_breach_reaches_with_what_it_exposed() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, key) = breached_inventory(tmp.path(), true);
    // A key of the tenant without the vendors scope.
    let narrow = crate::keys::create_key_with(
        data.to_str().unwrap(),
        "acme dash",
        "1000",
        "dashboard",
        &["--tenant", TENANT],
    );
    let server = Server::start_with(
        &data,
        &[],
        &[("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)],
    );
    let session = crate::dashboard::sign_in(&server.addr, &key);
    let (status, page) =
        crate::dashboard::get_page(&server.addr, "/dashboard/vendors", Some(&session));
    assert_eq!(status, 200, "{page}");

    // The inventory, as imported.
    let names: Vec<String> = table_rows(&page, "inventory")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(names, ["Mailer", "Payroll Co", "Trackly", "Unrelated"]);

    // The ranking: Trackly (its domain breached) and Mailer (named by Newsblast), riskier
    // first by criticality (4 against 2); nobody else.
    let ranked = table_rows(&page, "ranking");
    let hit: Vec<(&str, &str)> = ranked
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        hit,
        [("Trackly", "Trackly"), ("Mailer", "Newsblast")],
        "{page}"
    );
    // What each exposed of ours: what we sent it, among what the breach held (computed here).
    let breach = |name: &str| -> BTreeSet<String> {
        let (_, _, body) = http_get(
            &server.addr,
            &format!("/api/v3/breach/{name}"),
            &[("user-agent", "leakwatch-tests")],
        );
        let b: serde_json::Value = serde_json::from_slice(&body).unwrap();
        b["DataClasses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    };
    let sent = |vendor: &str| -> BTreeSet<String> {
        let line = INVENTORY.lines().find(|l| l.starts_with(vendor)).unwrap();
        line.split(',')
            .nth(2)
            .unwrap()
            .split(';')
            .map(str::to_owned)
            .collect()
    };
    for (row, (vendor, breach_name)) in ranked
        .iter()
        .zip([("Trackly", "Trackly"), ("Mailer", "Newsblast")])
    {
        let shown: BTreeSet<String> = row[3].split(", ").map(str::to_owned).collect();
        let want: BTreeSet<String> = sent(vendor)
            .intersection(&breach(breach_name))
            .cloned()
            .collect();
        assert_eq!(shown, want, "{vendor}");
        assert!(row[2].parse::<f32>().unwrap() > 0.0);
        assert!(row[5].contains("<li>"), "recommended actions for {vendor}");
    }
    // Our verified domain's three planted addresses are in Trackly's breach; none in Newsblast.
    assert_eq!(ranked[0][4], "3");
    assert_eq!(ranked[1][4], "0");
    // The chart draws one bar a ranked vendor.
    assert_eq!(page.matches("<rect class=\"bar\"").count(), ranked.len());

    // A key without the vendors scope sees no inventory.
    let other = crate::dashboard::sign_in(&server.addr, &narrow);
    let (status, page) =
        crate::dashboard::get_page(&server.addr, "/dashboard/vendors", Some(&other));
    assert_eq!(status, 403);
    assert!(!page.contains("Trackly"));
}

/// The inventory as the API lists it: name → the vendor's JSON.
fn api_inventory(addr: &str, key: &str) -> BTreeMap<String, serde_json::Value> {
    let headers = [("hibp-api-key", key), ("User-Agent", "tests")];
    let (status, _, list) = http_get(addr, "/api/v1/vendors", &headers);
    assert_eq!(status, 200);
    serde_json::from_slice::<Vec<serde_json::Value>>(&list)
        .unwrap()
        .into_iter()
        .map(|v| (v["name"].as_str().unwrap().to_owned(), v))
        .collect()
}

fn the_dashboards_vendor_forms_add_edit_import_and_remove_and_print_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, key) = breached_inventory(tmp.path(), true);
    let server = Server::start_with(
        &data,
        &[],
        &[("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)],
    );
    let addr = server.addr.as_str();
    let session = crate::dashboard::sign_in(addr, &key);
    let cookie = format!("leakwatch_dashboard={session}");
    let (_, page) = crate::dashboard::get_page(addr, "/dashboard/vendors", Some(&session));
    let csrf = {
        let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
        page[at..at + 64].to_owned()
    };
    let post = |path: &str, fields: &[(&str, &str)]| -> (u16, String) {
        let form: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        let (status, _, body) = parse_response(&http_raw(
            addr,
            "POST",
            path,
            &[
                ("Cookie", cookie.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            form.join("&").as_bytes(),
        ));
        (status, String::from_utf8_lossy(&body).into_owned())
    };

    // Add: refused without the CSRF token; stored with it, as the API then lists it.
    let newco = [
        ("name", "Newco"),
        ("domains", "newco.example, cdn.newco.example"),
        ("data_classes", "Email addresses; Names"),
        ("criticality", "3"),
        ("owner", "sec@acme.example"),
        ("notes", "payments & more"),
    ];
    let (status, _) = post("/dashboard/vendors", &newco);
    assert_eq!(status, 403);
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend(newco);
    let (status, page) = post("/dashboard/vendors", &fields);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Newco is saved."), "{page}");
    let listed = &api_inventory(addr, &key)["Newco"];
    assert_eq!(
        listed["domains"],
        serde_json::json!(["newco.example", "cdn.newco.example"])
    );
    assert_eq!(
        listed["dataClasses"],
        serde_json::json!(["Email addresses", "Names"])
    );
    assert_eq!(
        (&listed["criticality"], &listed["owner"], &listed["notes"]),
        (
            &serde_json::json!(3),
            &serde_json::json!("sec@acme.example"),
            &serde_json::json!("payments & more")
        )
    );

    // Edit: the form starts from the vendor; an owner off our verified domains must confirm.
    let (_, form) =
        crate::dashboard::get_page(addr, "/dashboard/vendors?edit=Newco", Some(&session));
    assert!(
        form.contains("value=\"newco.example, cdn.newco.example\"")
            && form.contains("<option value=\"3\" selected>"),
        "{form}"
    );
    let mut edited = fields.clone();
    edited[4] = ("criticality", "5");
    edited[5] = ("owner", "someone@outside.example");
    let (status, page) = post("/dashboard/vendors", &edited);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("confirm the address first"), "{page}");
    assert_eq!(api_inventory(addr, &key)["Newco"]["criticality"], 5);
    // A bad criticality is a reason on the page and changes nothing.
    let mut bad = fields.clone();
    bad[4] = ("criticality", "9");
    let (status, page) = post("/dashboard/vendors", &bad);
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("class=\"result bad\""), "{page}");
    assert_eq!(api_inventory(addr, &key)["Newco"]["criticality"], 5);

    // Remove.
    let (status, page) = post(
        "/dashboard/vendors/remove",
        &[("csrf", &csrf), ("name", "Newco")],
    );
    assert_eq!(status, 200, "{page}");
    assert!(!api_inventory(addr, &key).contains_key("Newco"));

    // Import: a bad record refuses the whole file; a good one replaces the inventory.
    let bad_csv = "name,domains,data_classes,criticality,owner,notes\n\
                   A,a.example,Names,2,,\nB,b.example,Names,x,,\n";
    let (status, page) = post(
        "/dashboard/vendors/import",
        &[("csrf", &csrf), ("csv", bad_csv)],
    );
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("CSV record 2"), "{page}");
    assert_eq!(api_inventory(addr, &key).len(), 4);
    let csv: String = INVENTORY
        .lines()
        .filter(|l| !l.starts_with("Unrelated"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (status, page) = post(
        "/dashboard/vendors/import",
        &[("csrf", &csrf), ("csv", &csv)],
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("3 vendor(s) imported"), "{page}");
    assert_eq!(
        api_inventory(addr, &key).into_keys().collect::<Vec<_>>(),
        ["Mailer", "Payroll Co", "Trackly"]
    );

    // The printable report: the API's own printable page, under a CSP that runs no script.
    let (status, headers, report) = http_get(
        addr,
        "/dashboard/vendors/report?breach=Trackly",
        &[("Cookie", cookie.as_str())],
    );
    assert_eq!(status, 200);
    let csp = &headers["content-security-policy"];
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let api_headers = [("hibp-api-key", key.as_str()), ("User-Agent", "tests")];
    let (_, _, api_report) = http_get(
        addr,
        "/api/v1/vendors/impact/Trackly?format=html",
        &api_headers,
    );
    assert_eq!(report, api_report);
    assert!(String::from_utf8_lossy(&report).contains("Trackly"));
    server.stop();

    let records = crate::auditlog::show(&data, &[]);
    let count = |action: &str, status: u64| {
        records
            .iter()
            .filter(|r| r["action"] == action && r["status"] == status)
            .count()
    };
    assert_eq!(count("dashboard.vendors.post", 200), 2, "{records:#?}");
    assert_eq!(count("dashboard.vendors.post", 400), 1, "{records:#?}");
    assert_eq!(
        count("dashboard.vendors.remove.post", 200),
        1,
        "{records:#?}"
    );
    assert_eq!(
        count("dashboard.vendors.import.post", 200),
        1,
        "{records:#?}"
    );
    assert_eq!(
        count("dashboard.vendors.report.get", 200),
        1,
        "{records:#?}"
    );
}
