//! The whole HTTP router on arbitrary requests: the method, the path and query (every route's
//! path parameters and query parsing), the headers (`Accept-Encoding`, `Add-Padding`,
//! `hibp-api-key`, `Content-Type`…) and the body, sent in-process to [`leakwatch_api::app`]
//! over a small store and catalogue built once. Every request gets an answer; none is a 500
//! (a bug or an internal detail leaking), and an error's reason is one line.
//!
//! An input is `METHOD TARGET`, then `Name: value` header lines, an empty line and the body.
//! `@KEY@` anywhere in it stands for a valid API key (the fuzzer cannot guess one), so the
//! routes behind the key are reached. Not covered here: hyper's parsing of the request head
//! from the wire (hyper's own fuzzing) and the connection limits (tested in `http.rs`).
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{Request, StatusCode},
};
use leakwatch_api::{AppState, CheckLimits, MailSetup, ServerLimits, app};
use leakwatch_catalog::{Breach, Catalog};
use leakwatch_ingest::{IngestOptions, Source, ingest};
use leakwatch_notify::Mailer;
use leakwatch_service::{CatalogHandle, StoreHandle};
use leakwatch_store::{Directory, RamDirectory, StoreWriter};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    key: String,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // On tmpfs where there is one: the catalogue syncs every commit, which on a disk
        // would make the fuzzer wait on fsync instead of running the router.
        let tmp = match std::path::Path::new("/dev/shm") {
            shm if shm.is_dir() => tempfile::tempdir_in(shm),
            _ => tempfile::tempdir(),
        }
        .unwrap();
        let store: Arc<dyn Directory> = Arc::new(RamDirectory::new());
        let mut writer = StoreWriter::open(store.clone()).unwrap();
        let passwords = tmp.path().join("passwords.txt");
        std::fs::write(&passwords, "password\n123456\nletmein\npassword\n").unwrap();
        let dump = tmp.path().join("dump.csv");
        std::fs::write(
            &dump,
            "email,username,phone,password\n\
             kim@example.org,kim,+44 20 7946 0958,hunter2\n\
             lee@example.org,lee99,,letmein\n",
        )
        .unwrap();
        let mut opts = IngestOptions::new(tmp.path());
        opts.progress = false;
        opts.threads = 1;
        opts.memory = 16 << 20;
        ingest(&mut writer, &Source::File(passwords), &opts).unwrap();
        opts.breach = Some("Adobe".into());
        ingest(&mut writer, &Source::File(dump), &opts).unwrap();

        let catalog_path = tmp.path().join("catalog.db");
        let mut catalog = Catalog::open(&catalog_path).unwrap();
        let breach = Breach::from_manifest(
            r#"{"Name":"Adobe","Title":"Adobe","Domain":"adobe.example","BreachDate":"2013-10-04",
                "PwnCount":2,"Description":"<b>fictional</b>",
                "DataClasses":["Email addresses","Passwords","Usernames","Phone numbers"]}"#,
            false,
        )
        .unwrap();
        catalog.upsert(breach).unwrap();
        let (_, key) = catalog
            .create_key(
                "fuzz",
                1_000_000_000,
                None,
                &leakwatch_catalog::keys::Scopes::All,
                None,
                &leakwatch_catalog::keys::Quotas::none(),
            )
            .unwrap();

        let mut state = AppState::new(
            StoreHandle::open(store).unwrap(),
            CatalogHandle::new(catalog).unwrap(),
            ServerLimits::default(),
        );
        state.default_region = Some("GB".into());
        state.operator_key = Some(leakwatch_identity::OperatorKey::from_bytes(&[7; 32]));
        // Mail is queued in the outbox, never sent: no delivery worker runs here.
        let mailer = Mailer::new("smtp://127.0.0.1:9", "leakwatch@example.org", None).unwrap();
        let mut mail = MailSetup::new(
            mailer,
            leakwatch_service::DataDir::new(tmp.path()),
            "https://leakwatch.example".into(),
        );
        mail.limits = CheckLimits {
            per_ip_per_hour: u32::MAX,
            per_address_per_day: u32::MAX,
        };
        state.mail = Some(mail);
        // Nothing listens there: a domain verification asking DNS fails at once.
        state.dns_resolver = "127.0.0.1:9".parse().unwrap();
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            router: app(Arc::new(state)),
            key,
            _dir: tmp,
        }
    })
}

/// The request an input describes, if it is one `http` can represent.
fn request(data: &[u8], key: &str) -> Option<Request<Body>> {
    let text = String::from_utf8_lossy(data).replace("@KEY@", key);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let (method, target) = lines.next()?.split_once(' ')?;
    let mut builder = Request::builder().method(method).uri(target);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        builder = builder.header(name.trim(), value.trim());
    }
    builder.body(Body::from(body.to_owned())).ok()
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let Some(mut request) = request(data, &fixture.key) else {
        return;
    };
    // As the accept loop does for every connection.
    request
        .extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    let response = fixture
        .runtime
        .block_on(fixture.router.clone().oneshot(request))
        .unwrap();
    let status = response.status();
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{data:?}");
    if status.is_client_error() {
        let body = fixture
            .runtime
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
            .unwrap();
        // A reason is one line (of plain text or a JSON object), never a page or a trace.
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.trim_end().lines().count() <= 1,
            "{status}: {text:?} for {data:?}"
        );
    }
});
