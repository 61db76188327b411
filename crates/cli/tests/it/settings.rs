//! The configuration file, through the binary: which of file, environment and flag wins,
//! `config check` naming each problem's line, and the generated example passing the check.

use std::process::Command;

use crate::support::*;

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(flags_win_over_the_environment_which_wins_over_the_file),
        test!(check_names_every_problem_by_line_and_the_example_passes_it),
        test!(the_readme_configuration_example_passes_the_check),
        test!(an_smtp_password_file_needs_a_user_in_the_smtp_url),
    ]
}

/// `leakwatch ARGS` with extra environment; (success, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env_remove("LEAKWATCH_DATA")
        .env_remove("LEAKWATCH_CONFIG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn flags_win_over_the_environment_which_wins_over_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name).to_str().unwrap().to_owned();
    // Three data directories, each with one breach named after it.
    for name in ["FromFile", "FromEnv", "FromFlag"] {
        crate::support::add_breach(&tmp.path().join(name), name, &[]);
    }
    let file = write(
        &tmp.path().join("leakwatch.toml"),
        format!("data = {:?}\n", dir("FromFile")).as_bytes(),
    );
    let file = file.to_str().unwrap();
    let listed = |args: &[&str], env: &[(&str, &str)]| {
        let (ok, out, err) = run(args, env);
        assert!(ok, "{args:?}: {err}");
        out
    };
    let from_env = dir("FromEnv");
    let from_flag = dir("FromFlag");
    let out = listed(&["--config", file, "breach", "list"], &[]);
    assert!(
        out.contains("FromFile") && !out.contains("FromEnv"),
        "{out}"
    );
    let out = listed(&["breach", "list"], &[("LEAKWATCH_CONFIG", file)]);
    assert!(
        out.contains("FromFile"),
        "the file named by LEAKWATCH_CONFIG: {out}"
    );
    let env = [("LEAKWATCH_DATA", from_env.as_str())];
    let out = listed(&["--config", file, "breach", "list"], &env);
    assert!(
        out.contains("FromEnv") && !out.contains("FromFile"),
        "{out}"
    );
    let out = listed(
        &["--config", file, "breach", "list", "--data", &from_flag],
        &env,
    );
    assert!(
        out.contains("FromFlag") && !out.contains("FromEnv"),
        "{out}"
    );

    // A file named but missing is an error, not silently nothing.
    let (ok, _, err) = run(
        &["--config", "/nonexistent/leakwatch.toml", "breach", "list"],
        &[],
    );
    assert!(!ok && err.contains("/nonexistent/leakwatch.toml"), "{err}");
    // A file with a problem refuses every command, naming the line.
    let bad = write(
        &tmp.path().join("bad.toml"),
        b"data = \"x\"\n[serve]\nlisten = 8080\n",
    );
    let (ok, _, err) = run(&["--config", bad.to_str().unwrap(), "breach", "list"], &[]);
    assert!(!ok && err.contains("bad.toml:3: `listen`"), "{err}");
}

fn check_names_every_problem_by_line_and_the_example_passes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = [
        "data = \"/srv/leakwatch\"",
        "operator_key_file = \"/etc/leakwatch/operator.key\"",
        "[serve]",
        "listen = \"0.0.0.0:8080\"",
        "acces_log = true",
        "[mail]",
        "retry_after = \"soon\"",
        "check_limit_per_ip = 20",
    ];
    let file = write(&tmp.path().join("f.toml"), lines.join("\n").as_bytes());
    let (ok, _, err) = run(&["config", "check", file.to_str().unwrap()], &[]);
    assert!(!ok);
    // Expected lines found from the text written above, not from the program.
    let line_of = |needle: &str| lines.iter().position(|l| l.starts_with(needle)).unwrap() + 1;
    assert!(
        err.contains(&format!(
            "f.toml:{}: unknown setting `acces_log` in [serve]",
            line_of("acces_log")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "f.toml:{}: `retry_after`: expected a number",
            line_of("retry_after")
        )),
        "{err}"
    );
    assert!(err.contains("2 problem(s)"), "{err}");

    let (ok, example, err) = run(&["config", "example"], &[]);
    assert!(ok, "{err}");
    let example_file = write(&tmp.path().join("example.toml"), example.as_bytes());
    let (ok, out, err) = run(&["config", "check", example_file.to_str().unwrap()], &[]);
    assert!(ok, "{err}");
    assert!(out.contains("ok, 0 setting(s)"), "{out}");
    // Every setting line uncommented: still accepted, every setting set.
    let uncommented: String = example
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let settings = example
        .lines()
        .filter(|l| l.starts_with("# Environment: "))
        .count();
    let all = write(&tmp.path().join("all.toml"), uncommented.as_bytes());
    let (ok, out, err) = run(&["config", "check", all.to_str().unwrap()], &[]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("ok, {settings} setting(s)")), "{out}");
}

/// The README's example file is one `config check` accepts, as written.
fn the_readme_configuration_example_passes_the_check() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .unwrap();
    let section = &readme[readme.find("### Configuration").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let tmp = tempfile::tempdir().unwrap();
    let file = write(&tmp.path().join("readme.toml"), block.as_bytes());
    let (ok, out, err) = run(&["config", "check", file.to_str().unwrap()], &[]);
    // Every `key = value` line of the block counts.
    let written = block
        .lines()
        .filter(|l| {
            l.split_once(" = ")
                .is_some_and(|(k, _)| !k.starts_with('#'))
        })
        .count();
    assert!(written >= 9, "{block}");
    assert!(
        ok && out.contains(&format!("ok, {written} setting(s)")),
        "{out}{err}"
    );
}

/// The SMTP password comes from a file and joins the URL's user; without a user the server
/// refuses to start, naming the flag (the service layer's error, worded by the CLI).
fn an_smtp_password_file_needs_a_user_in_the_smtp_url() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    crate::support::add_breach(&data, "Fictobank", &[]);
    let password = write(&tmp.path().join("smtp-password"), b"s3cret\n");
    let out = crate::support::serve_command(&data)
        .args(["--smtp-url", "smtp://127.0.0.1:9", "--smtp-password-file"])
        .arg(&password)
        .env("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "Error: --smtp-password-file needs a user name in the SMTP URL: smtp://USER@HOST"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
