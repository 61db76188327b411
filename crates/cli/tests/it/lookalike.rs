//! Look-alike domains against the real dnstwist (PyPI): for several domains — plain, with a
//! hyphen, under a two-label suffix, with a subdomain, IDN, and a `.info` one with its own
//! IDN table — every variant dnstwist generates (all its fuzzers, the dictionary and TLD
//! swap fed the same files) is in `leakwatch lookalike generate`'s set.

use std::{collections::BTreeSet, path::Path};

use crate::support::*;

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(every_dnstwist_variant_is_generated).needs(&[Need::Dnstwist]),
        test!(check_names_the_imitated_domain_and_the_trick),
        test!(the_api_lists_variants_and_judges_a_sender_for_key_holders),
        test!(the_dashboard_lists_the_variants_of_a_protected_domain_and_judges_senders)
            .needs(&[Need::Dnslib]),
    ]
}

fn every_dnstwist_variant_is_generated() {
    let tmp = tempfile::tempdir().unwrap();
    let dict = write(
        &tmp.path().join("dict.txt"),
        b"login\nsecure\nmail\naccount\n",
    );
    let tlds = write(
        &tmp.path().join("tlds.txt"),
        b"com\nnet\norg\nio\nco.uk\nde\ninfo\n",
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/py/dnstwist_variants.py");
    for domain in [
        "paypal.com",
        "acme-bank.co.uk",
        "mail.fictobank.example.com",
        "xn--bcher-kva.de",
        "example.info",
        "shop-online.net",
    ] {
        let out = std::process::Command::new("python3")
            .arg(&script)
            .args([domain, dict.to_str().unwrap(), tlds.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: BTreeSet<String> = serde_json::from_slice(&out.stdout).unwrap();
        let ours = leakwatch(
            &[
                "lookalike",
                "generate",
                domain,
                "--dictionary",
                dict.to_str().unwrap(),
                "--tld",
                tlds.to_str().unwrap(),
                "--json",
            ],
            None,
        );
        let ours: Vec<serde_json::Value> = serde_json::from_slice(&ours.stdout).unwrap();
        let ours: BTreeSet<String> = ours
            .iter()
            .map(|v| v["punycode"].as_str().unwrap().to_owned())
            .collect();
        let missing: Vec<&String> = theirs.difference(&ours).collect();
        assert!(
            missing.is_empty(),
            "{domain}: {} of dnstwist's {} variants missing, e.g. {:?}",
            missing.len(),
            theirs.len(),
            &missing[..missing.len().min(10)]
        );
        assert!(
            theirs.len() > 100,
            "{domain}: dnstwist produced only {}",
            theirs.len()
        );
        eprintln!(
            "{domain}: dnstwist {}, leakwatch {}",
            theirs.len(),
            ours.len()
        );
    }
}

fn check_names_the_imitated_domain_and_the_trick() {
    let check = |sender: &str| {
        let out = leakwatch(
            &[
                "lookalike",
                "check",
                sender,
                "--protect",
                "paypal.com",
                "--protect",
                "acme-bank.co.uk",
                "--json",
            ],
            None,
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(check("billing@paypa1.com")["trick"], "homoglyph");
    assert_eq!(check("billing@paypa1.com")["protected"], "paypal.com");
    assert_eq!(check("acme-bnak.co.uk")["trick"], "transposition");
    assert_eq!(check("acmebank-support.co.uk")["trick"], "brand-in-name");
    assert_eq!(check("xn--pypal-4ve.com")["trick"], "confusable");
    assert_eq!(check("news.paypal.com")["verdict"], "legitimate");
    assert_eq!(check("example.org")["verdict"], "clean");
}

fn the_api_lists_variants_and_judges_a_sender_for_key_holders() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let list = write(&tmp.path().join("p.txt"), b"hunter2\n");
    ingest_quiet(data.to_str().unwrap(), list.to_str().unwrap());
    let key = crate::keys::create_key(data.to_str().unwrap(), "soc", "100");
    let server = Server::start(&data);
    let headers = [("hibp-api-key", key.as_str()), ("User-Agent", "tests")];
    let (status, _, body) = http_get(
        &server.addr,
        "/api/v1/lookalike?domain=paypal.com&sender=security%40paypa1.com",
        &headers,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let cli = leakwatch(&["lookalike", "generate", "paypal.com", "--json"], None);
    let cli: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(
        answer["variants"], cli,
        "the API and the CLI give the same set"
    );
    assert_eq!(answer["verdict"]["trick"], "homoglyph");
    assert_eq!(
        http_get(
            &server.addr,
            "/api/v1/lookalike?domain=paypal.com",
            &[("User-Agent", "t")]
        )
        .0,
        401
    );
    assert_eq!(
        http_get(&server.addr, "/api/v1/lookalike?domain=a..b", &headers).0,
        400
    );
}

/// The (kind, punycode) of every row of a Look-alikes page's variant table (its HTML from
/// the table's id on).
fn variant_rows(table: &str) -> BTreeSet<(String, String)> {
    table
        .split("<tr><td>")
        .skip(1)
        .map(|row| {
            let kind = row[..row.find("</td>").unwrap()].to_owned();
            let at = row.find("<code>").unwrap() + "<code>".len();
            (
                kind,
                row[at..at + row[at..].find("</code>").unwrap()].to_owned(),
            )
        })
        .collect()
}

fn the_dashboard_lists_the_variants_of_a_protected_domain_and_judges_senders() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let key = crate::keys::create_key_with(
        d,
        "acme soc",
        "1000",
        "dashboard,lookalike",
        &["--tenant", "acme"],
    );
    let narrow =
        crate::keys::create_key_with(d, "acme viewer", "1000", "dashboard", &["--tenant", "acme"]);
    operator_cli(
        &data,
        &[
            "domain",
            "verify",
            "acme-bank.example",
            "--trust",
            "--tenant",
            "acme",
            "--contact",
            "soc@acme-bank.example",
        ],
    );
    let dns_port = free_udp_port();
    let server = Server::start_with(
        &data,
        &["--dns-resolver", &format!("127.0.0.1:{dns_port}")],
        &[("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)],
    );
    let addr = server.addr.as_str();
    let session = crate::dashboard::sign_in(addr, &key);
    let get = |path: &str| crate::dashboard::get_page(addr, path, Some(&session));

    // The verified domain is listed to protect; its variants are the API's, every one.
    let (status, page) = get("/dashboard/lookalikes");
    assert_eq!(status, 200);
    assert!(
        page.contains("?domain=acme-bank.example\">acme-bank.example</a>"),
        "{page}"
    );
    let (status, page) = get("/dashboard/lookalikes?domain=acme-bank.example");
    assert_eq!(status, 200);
    let headers = [("hibp-api-key", key.as_str()), ("User-Agent", "tests")];
    let (_, _, body) = http_get(addr, "/api/v1/lookalike?domain=acme-bank.example", &headers);
    let api: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let api: BTreeSet<(String, String)> = api["variants"].as_array().unwrap()[1..]
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["punycode"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let table = &page[page.find("id=\"variants\"").unwrap()..];
    let shown = variant_rows(table);
    assert!(api.len() > 100, "{}", api.len());
    assert_eq!(shown, api);

    // Which are registered: asked of the DNS, where two variants have records (one an
    // address, one name servers) and the rest do not exist.
    let held: Vec<&(String, String)> = api.iter().step_by(37).take(2).collect();
    let _dns = DnsServer::start_on(
        tmp.path(),
        dns_port,
        &format!(
            "{}. 60 IN A 192.0.2.7\n{}. 60 IN NS ns1.parking.example.\n",
            held[0].1, held[1].1
        ),
    );
    assert!(page.contains("Look up which are registered"), "{page}");
    // A DNS lookup for each of ~1,400 variants: seconds alone, more beside the other tests.
    let cookie = format!("leakwatch_dashboard={session}");
    let (status, _, page) = parse_response(&http_raw_within(
        addr,
        "GET",
        "/dashboard/lookalikes?domain=acme-bank.example&registered=1",
        &[("Cookie", &cookie)],
        b"",
        std::time::Duration::from_secs(120),
    ));
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, 200, "{page}");
    let table =
        &page[page.find("id=\"registered\"").unwrap()..page.find("id=\"variants\"").unwrap()];
    let registered = variant_rows(table);
    assert_eq!(
        registered,
        held.into_iter().cloned().collect::<BTreeSet<_>>(),
        "{table}"
    );

    // Senders, judged against every protected domain when none is named.
    let verdict = |sender: &str| {
        let (status, page) = get(&format!(
            "/dashboard/lookalikes?sender={}",
            percent_encode(sender)
        ));
        assert_eq!(status, 200, "{page}");
        let at = page.find("id=\"verdict\"").unwrap();
        page[at..at + page[at..].find("</p>").unwrap()].to_owned()
    };
    let bad = verdict("security@acme-banc.example");
    assert!(
        bad.contains("imitates acme-bank.example") && bad.contains("result bad"),
        "{bad}"
    );
    let own = verdict("alerts@mail.acme-bank.example");
    assert!(own.contains("legitimate"), "{own}");
    let unrelated = verdict("news@weather.example");
    assert!(unrelated.contains("does not imitate"), "{unrelated}");
    // Not a domain: a clear refusal.
    let (status, _) = get("/dashboard/lookalikes?domain=a..b");
    assert_eq!(status, 400);
    // A key without the lookalike scope gets the page refused.
    let other = crate::dashboard::sign_in(addr, &narrow);
    let (status, _) = crate::dashboard::get_page(addr, "/dashboard/lookalikes", Some(&other));
    assert_eq!(status, 403);
}
