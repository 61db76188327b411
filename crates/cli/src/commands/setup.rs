//! The commands about leakwatch itself: `completions`, `manpage`, `config example|check`.

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::{config, flags::*};

/// `leakwatch completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "leakwatch",
        &mut std::io::stdout(),
    );
    Ok(())
}

/// `leakwatch manpage`.
pub fn manpage() -> Result<()> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(())
}

/// `leakwatch config example|check`.
pub fn config(what: ConfigCmd) -> Result<()> {
    match what {
        ConfigCmd::Example => {
            print!("{}", config::example());
            Ok(())
        }
        ConfigCmd::Check { file } => {
            let args: Vec<String> = std::env::args().collect();
            let file = match file {
                Some(f) => f,
                None => config::locate(&args)?
                    .context("no configuration file: none given and none in the search path")?,
            };
            let n = config::check_file(&file)?;
            println!("{}: ok, {n} setting(s)", file.display());
            Ok(())
        }
    }
}
