//! The `embargo` binary: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if let Some(code) = embargo::sandbox::helper_main() {
        return code;
    }
    embargo::sandbox::harden_runner();
    let cli = embargo::cli::Cli::parse();
    match embargo::commands::execute(cli) {
        Ok(code) => ExitCode::from(code.as_u8()),
        Err(error) => {
            eprintln!("{}", error.render());
            ExitCode::from(error.exit_code().as_u8())
        }
    }
}
