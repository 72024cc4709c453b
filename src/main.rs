//! The `embargo` binary: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if let Some(code) = embargo::sandbox::helper_main() {
        return code;
    }
    embargo::sandbox::harden_runner();
    let cli = match embargo::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // With --json anywhere on the line, a usage error is JSON on stdout too (exit 2, as
        // clap's own).
        Err(e) if e.use_stderr() && std::env::args().any(|a| a == "--json") => {
            let text = e.to_string();
            let message = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string();
            let error = embargo::error::Error::bad_input(message)
                .with_hint("see `embargo help` and `embargo help COMMAND`");
            println!("{}", error.to_json());
            eprint!("{text}");
            return ExitCode::from(error.exit_code().as_u8());
        }
        Err(e) => e.exit(),
    };
    let json = cli.json();
    match embargo::commands::execute(cli) {
        Ok(code) => ExitCode::from(code.as_u8()),
        Err(error) => {
            // On GitHub Actions, also an annotation on the pipeline's line.
            embargo::ci::actions::annotate(&error);
            if json {
                println!("{}", error.to_json());
            }
            eprintln!("{}", error.render());
            ExitCode::from(error.exit_code().as_u8())
        }
    }
}
