//! The `cairn` binary: logging, the command line (`cli/`) and the runtime.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

/// jemalloc rather than the system's allocator: glibc keeps the memory a
/// burst of requests freed (100,000 runs started over HTTP and paused left
/// 807 MiB resident, of which `malloc_trim` gave back 750). jemalloc's
/// background thread hands freed pages back to the system within a few
/// seconds (`MALLOC_CONF` below), busy or idle.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts: a background thread purges,
/// and dirty pages go back to the system after 1 s.
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "malloc_conf")]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // A usage error exits 5, as the remote commands' do (clap's own is 2,
    // which here means a cancelled run); help and version exit 0.
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(5)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            cli::exit_code(&e)
        }
    }
}
