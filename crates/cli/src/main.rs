//! The `leakwatch` command. `flags/` defines the command line (clap derive) and turns flag
//! values into library types; `commands/` carries out each command, one module per command;
//! `config.rs` applies the configuration file before the flags are parsed. This file only
//! starts that and reports errors as an operator reads them.

mod commands;
mod config;
mod flags;

use clap::Parser;

use flags::Cli;

/// Lets a closed pipe end the program quietly (`leakwatch gen … | head`, `leakwatch breach
/// list | less`), as it ends other Unix tools, instead of a panic in `println!`. Only for
/// commands that touch no network ([`flags::Command::only_prints_local_state`]): SIGPIPE is
/// raised by every write to a socket whose peer is gone that does not pass MSG_NOSIGNAL, and
/// rustls writes TLS records with `writev`, so a TLS source, mail server or webhook that goes
/// away would end `sync`, `serve` or a mailing command silently mid-way. (A printing command
/// on an `s3://` store does write to the network: the object-store directory blocks SIGPIPE
/// on the threads that do.)
#[cfg(unix)]
pub fn die_quietly_on_closed_pipe() {
    // SAFETY: `signal` with SIG_DFL for SIGPIPE installs no Rust code as a handler, and it
    // runs before this program starts any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // `config check` reads the file itself: a broken file must not stop it.
    let checking_config =
        args.iter().skip(1).find(|a| !a.starts_with('-')) == Some(&"config".to_owned());
    if !checking_config {
        let applied = config::locate(&args).and_then(|file| match file {
            Some(file) => config::apply(&file),
            None => Ok(()),
        });
        if let Err(e) = applied {
            eprint!("{}", error_report(&e));
            return std::process::ExitCode::FAILURE;
        }
    }
    match commands::run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<commands::Exit>().is_some() => {
            let code = e.downcast_ref::<commands::Exit>().map_or(1, |x| x.0);
            std::process::ExitCode::from(code)
        }
        Err(e) => {
            eprint!("{}", error_report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error as an operator reads it: `Error:` and the message, then each cause the message
/// does not already quote, then a hint for what the operator can fix (a full disk). No
/// backtrace: that is for a debugger, not for a terminal.
fn error_report(e: &anyhow::Error) -> String {
    let mut report = format!("Error: {e}\n");
    let mut said = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !said.contains(&cause) {
            report.push_str(&format!("  caused by: {cause}\n"));
            said.push_str(&cause);
        }
    }
    let disk_full = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        })
    });
    if disk_full {
        report.push_str(
            "hint: the disk is full (or a quota is reached). What was being written was not published and its partial \
             files were removed, so the data directory answers as it did before. Free some \
             space and run the command again.\n",
        );
    }
    report
}
