//! safer's entry point: parse arguments, set up logging, run, map the outcome
//! to an exit code. Everything else lives in the library.

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = safer::cli::Cli::parse();
    let default = match cli.verbose {
        0 => "warn",
        1 => "info,datafusion=warn",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("SAFER_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = match runtime.block_on(safer::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<safer::cli::UsageError>().is_some()
                || e.downcast_ref::<safer::config::Error>().is_some()
            {
                2
            } else {
                1
            }
        }
    };
    std::process::exit(code);
}
