//! The processes `loadgen run` starts (simulators, credprobe, blackbox_exporter,
//! its own `loadgen` drivers, wrk, bench/fleet, bench/prometheus-cost),
//! held by one guard that stops whatever is still running however the run
//! ends: an error, a panic (Drop), SIGINT/SIGTERM (the run's future is
//! dropped), or the driver being killed outright (each child gets SIGTERM
//! from the kernel through PR_SET_PDEATHSIG). Every wait is bounded.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a stopped process gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// How a process that ran to its end ended.
pub struct Ended {
    /// Its exit code (None when a signal ended it).
    pub code: Option<i32>,
    /// Its user + system CPU, seconds (from wait4's rusage).
    pub cpu_seconds: f64,
}

/// The processes started and not yet stopped or reaped.
#[derive(Default)]
pub struct Processes(Vec<Running>);

struct Running {
    name: String,
    child: Child,
    log: PathBuf,
}

/// Where a child's standard output goes.
pub enum Output<'a> {
    /// stdout and stderr both into this file.
    Log(&'a Path),
    /// stdout into the first file, stderr appended to the second.
    Split(&'a Path, &'a Path),
    /// Inherited from the driver (the scripts it runs at the end).
    Inherit,
}

impl Processes {
    /// Starts `command` (its stdin closed, its output as `output` says) and
    /// keeps it. Returns its pid.
    pub fn spawn(
        &mut self,
        name: &str,
        mut command: Command,
        output: Output<'_>,
    ) -> Result<u32, String> {
        let create = |path: &Path, append: bool| {
            std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(path)
                .map_err(|error| format!("cannot create {}: {error}", path.display()))
        };
        let log = match output {
            Output::Log(path) => {
                let out = create(path, false)?;
                let err = out
                    .try_clone()
                    .map_err(|error| format!("{}: {error}", path.display()))?;
                command.stdout(out).stderr(err);
                path.to_owned()
            }
            Output::Split(out, err) => {
                command
                    .stdout(create(out, false)?)
                    .stderr(create(err, true)?);
                err.to_owned()
            }
            Output::Inherit => PathBuf::from("(the terminal)"),
        };
        command.stdin(Stdio::null());
        // SAFETY: prctl is async-signal-safe; nothing is allocated between
        // fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command.spawn().map_err(|error| {
            format!(
                "cannot start {name} ({}): {error}",
                command.get_program().to_string_lossy()
            )
        })?;
        let pid = child.id();
        self.0.push(Running {
            name: name.to_owned(),
            child,
            log,
        });
        Ok(pid)
    }

    /// Whether the process `pid` (one of ours) still runs.
    pub fn alive(&mut self, pid: u32) -> bool {
        self.0
            .iter_mut()
            .find(|running| running.child.id() == pid)
            .is_some_and(|running| matches!(running.child.try_wait(), Ok(None)))
    }

    /// An error naming `pid`'s process and its log unless it still runs.
    pub fn check(&mut self, pid: u32, what: &str) -> Result<(), String> {
        if self.alive(pid) {
            return Ok(());
        }
        let log = self
            .0
            .iter()
            .find(|running| running.child.id() == pid)
            .map_or_else(String::new, |r| format!(" (see {})", r.log.display()));
        Err(format!("{what}{log}"))
    }

    /// Stops `pid` (SIGTERM, then SIGKILL after [`STOP_GRACE`]) and forgets
    /// it.
    pub async fn stop(&mut self, pid: u32) {
        let Some(at) = self.0.iter().position(|r| r.child.id() == pid) else {
            return;
        };
        let mut running = self.0.remove(at);
        if matches!(running.child.try_wait(), Ok(None)) {
            signal(pid, libc::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                if !matches!(running.child.try_wait(), Ok(None)) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let _ = running.child.kill();
        let _ = running.child.wait();
    }

    /// Waits (at most `limit`) for `pid` to end and reaps it with its
    /// resource usage; past the limit it is killed and this is an error.
    pub async fn wait(&mut self, pid: u32, limit: Duration) -> Result<Ended, String> {
        let at = self
            .0
            .iter()
            .position(|r| r.child.id() == pid)
            .ok_or_else(|| format!("process {pid} is not one of ours"))?;
        let name = self.0[at].name.clone();
        let deadline = Instant::now() + limit;
        loop {
            let mut status = 0;
            // SAFETY: an all-zero rusage is a valid value; wait4 fills it.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: wait4 on our own child, with valid pointers; WNOHANG
            // never blocks.
            let reaped =
                unsafe { libc::wait4(pid as libc::pid_t, &mut status, libc::WNOHANG, &mut usage) };
            if reaped == pid as libc::pid_t {
                // Reaped here; dropping std's Child neither waits nor kills.
                drop(self.0.remove(at));
                let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
                return Ok(Ended {
                    code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
                    cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
                });
            }
            if reaped < 0 {
                self.0.remove(at);
                return Err(format!("{name}: wait4 failed"));
            }
            if Instant::now() >= deadline {
                self.stop(pid).await;
                return Err(format!("{name} did not finish within {limit:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) of our own child, not yet reaped.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

impl Drop for Processes {
    /// SIGTERM to everything still running, then (after up to
    /// [`STOP_GRACE`] in all) SIGKILL to what has not ended.
    fn drop(&mut self) {
        for running in &mut self.0 {
            if matches!(running.child.try_wait(), Ok(None)) {
                signal(running.child.id(), libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        for running in &mut self.0 {
            while Instant::now() < deadline && matches!(running.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }
}

/// A free loopback port, chosen by the kernel.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("no free port: {error}"))
}

/// Runs a short command to its end (at most `limit`), its output into
/// `log`; an error unless it exits 0.
pub async fn run_to_end(
    processes: &mut Processes,
    name: &str,
    command: Command,
    log: &Path,
    limit: Duration,
) -> Result<(), String> {
    let pid = processes.spawn(name, command, Output::Log(log))?;
    let ended = processes.wait(pid, limit).await?;
    if ended.code != Some(0) {
        return Err(format!("{name} failed (see {})", log.display()));
    }
    Ok(())
}
