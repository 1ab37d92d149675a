//! safer's entry point: parse arguments, set up logging, run, map the outcome
//! to an exit code. Everything else lives in the library.

use std::io::IsTerminal;

use clap::Parser;
use safer::cli::LogFormat;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = safer::cli::Cli::parse();
    let default = match (cli.verbose, &cli.command) {
        // A service's log is its record: info by default.
        // delta-rs's own warnings and its kernel's progress lines (a commit
        // it leaves to us to retry, an API it calls experimental, each
        // snapshot built) are safer's business, reported in safer's words:
        // only their errors pass. Its "exceeded maximum commit attempts" is
        // not one: safer commits with no retries of delta-rs's own and
        // rebases or retries the landing itself, and says so when it
        // cannot.
        (0, safer::cli::Command::Serve { .. }) => {
            "info,datafusion=warn,tokio_cron_scheduler=warn,deltalake_core=error,deltalake_core::kernel::transaction=off,buoyant_kernel=error"
        }
        (0, _) => {
            "warn,deltalake_core=error,deltalake_core::kernel::transaction=off,buoyant_kernel=error"
        }
        (1, _) => {
            "info,datafusion=warn,tokio_cron_scheduler=warn,deltalake_core=error,deltalake_core::kernel::transaction=off,buoyant_kernel=error"
        }
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("SAFER_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let terminal = std::io::stderr().is_terminal();
    let format = cli.log_format.unwrap_or(if terminal {
        LogFormat::Human
    } else {
        LogFormat::Json
    });
    match format {
        LogFormat::Human => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(terminal)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
    safer::progress::set_interactive(terminal && format == LogFormat::Human);

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
            } else if matches!(
                e.downcast_ref::<safer::lake::Error>(),
                Some(safer::lake::Error::Locked { .. })
            ) {
                // Another safer process has the lake: nothing was done.
                3
            } else {
                1
            }
        }
    };
    std::process::exit(code);
}
