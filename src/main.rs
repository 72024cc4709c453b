//! The `embargo` binary: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = embargo::cli::Cli::parse();
    let json = cli.json();
    match embargo::commands::execute(cli) {
        Ok(code) => ExitCode::from(code.as_u8()),
        Err(error) => {
            if json {
                println!("{}", error.to_json());
            }
            eprintln!("{}", error.render());
            ExitCode::from(error.exit_code().as_u8())
        }
    }
}
