use std::process::ExitCode;

use bwv::cli::Command;
use bwv::error::Code;
use clap::Parser;

/// glibc raises its threshold for serving large allocations with mmap each time one is freed,
/// so after the first, buffers of several MiB (an Argon2 check's 19 MiB, chunk buffers) come
/// from a thread's arena and stay there when freed: a burst of sign-ins across threads kept
/// hundreds of MiB. A fixed threshold hands them back to the system as soon as they are freed.
///
/// A fixed mmap threshold also pins the trim threshold at its 128 KiB default, and a server
/// must not run with that: each tus PATCH frees every buffer it received when it ends (up to
/// the node's budget for received bytes), and with the arena's top handed back, the next PATCH
/// has every page faulted in and zeroed by the kernel anew, about 430 MiB of page faults and a
/// tenth of the server's CPU for a GiB sent in 64 MiB PATCHes (docs/operations.md, tus). So a
/// server's arenas keep up to the default budget free at their top (each arena: up to eight a
/// core). The other commands have no such pattern and keep glibc's default.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator(command: &Command) {
    // SAFETY: mallopt only changes allocator settings; it runs before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        if matches!(command, Command::Serve { .. }) {
            libc::mallopt(
                libc::M_TRIM_THRESHOLD,
                (bwv::config::DEFAULT_TUS_BUFFERED_MIB << 20) as libc::c_int,
            );
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator(_command: &Command) {}

/// A command whose output goes to a pipe that closes (`bwv recordings list | head`) ends
/// quietly, as Unix tools do, instead of failing to print. The servers keep ignoring the signal:
/// a peer that hangs up must not stop them.
fn quiet_on_closed_pipe(command: &Command) {
    if !matches!(command, Command::Serve { .. } | Command::Worker { .. }) {
        // SAFETY: restores the default disposition of one signal before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
}

fn main() -> ExitCode {
    let cli = bwv::cli::Cli::parse();
    tune_allocator(&cli.command);
    quiet_on_closed_pipe(&cli.command);
    let json = cli.json;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BWV_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // One TLS crypto provider for the whole process: the server's and the identity provider
    // client's. Installing fails only if one is installed already, which is as good.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bwv::commands::run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            bwv::commands::output::Output::new(json).error(&e);
            // Arguments that make no sense together exit 2, like clap's own usage errors.
            if e.code() == Code::Usage {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
