//! Keeps worker processes running beside `bwv serve`, so the embedded default needs one command.
//! Workers are separate processes because FFmpeg runs in them: a file that crashes a decoder
//! takes down one worker, which is restarted, never the server receiving uploads.

use std::ffi::OsString;
use std::time::Duration;

use tokio::process::Command;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What a worker child is started with: this executable's `worker` command, with the settings
/// that were given to the parent on its command line (the environment is inherited).
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
}

/// Runs `processes` workers until `shutdown`, restarting any that exit, with a growing pause
/// when one keeps dying young. On shutdown each gets SIGTERM (it gives its jobs back) and
/// `grace` to stop before it is killed.
pub async fn supervise(
    command: WorkerCommand,
    processes: usize,
    grace: Duration,
    shutdown: CancellationToken,
) {
    let mut slots = JoinSet::new();
    for slot in 0..processes {
        slots.spawn(keep_running(slot, command.clone(), grace, shutdown.clone()));
    }
    while slots.join_next().await.is_some() {}
}

async fn keep_running(
    slot: usize,
    command: WorkerCommand,
    grace: Duration,
    shutdown: CancellationToken,
) {
    let mut pause = Duration::from_secs(1);
    loop {
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => {
                tracing::error!(error = %e, "cannot find the bwv executable to start workers");
                return;
            }
        };
        let mut cmd = Command::new(exe);
        cmd.args(&command.args)
            .envs(command.env.iter().cloned())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe; it runs in the child between fork and exec. A
        // server killed outright (SIGKILL, OOM) must not leave workers running unsupervised.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                tracing::error!(slot, error = %e, "cannot start a worker");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => { pause = (pause * 2).min(Duration::from_secs(30)); continue }
                    _ = shutdown.cancelled() => return,
                }
            }
        };
        let pid = child.id();
        tracing::info!(slot, pid, "worker started");
        let started = tokio::time::Instant::now();
        tokio::select! {
            status = child.wait() => {
                if started.elapsed() > Duration::from_secs(60) {
                    pause = Duration::from_secs(1);
                }
                tracing::warn!(slot, pid, status = ?status.ok(), restart_in = ?pause, "worker exited; restarting it");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.cancelled() => return,
                }
                pause = (pause * 2).min(Duration::from_secs(30));
            }
            _ = shutdown.cancelled() => {
                if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                    // SAFETY: signalling our own child, which we have not yet reaped.
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
                if tokio::time::timeout(grace, child.wait()).await.is_err() {
                    tracing::warn!(slot, pid, "worker did not stop in time; killing it");
                    let _ = child.kill().await;
                }
                return;
            }
        }
    }
}
