//! The processes `loadgen prometheus-cost` starts (stopped however it
//! ends), the ports they listen on, the files they read, and the little
//! facts about them (versions, the time) the JSON records.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{START_TIMEOUT, STOP_GRACE};

/// The processes started, stopped (SIGTERM, then SIGKILL after
/// [`STOP_GRACE`]) by [`Processes::stop`] or, for those left, on drop.
#[derive(Default)]
pub(super) struct Processes(Vec<(String, Child, PathBuf)>);

impl Processes {
    /// Starts `program args`, its output into `log`; it gets SIGTERM if this
    /// process dies first. Returns its pid.
    pub(super) fn spawn(
        &mut self,
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<u32, String> {
        let out = std::fs::File::create(log)
            .map_err(|error| format!("cannot create {}: {error}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|error| format!("cannot create {}: {error}", log.display()))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        // SAFETY: prctl is async-signal-safe; nothing is allocated between
        // fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", program.display()))?;
        let pid = child.id();
        self.0.push((name.to_owned(), child, log.to_owned()));
        Ok(pid)
    }

    /// An error naming the first process that has exited, and its log.
    pub(super) fn check(&mut self) -> Result<(), String> {
        for (name, child, log) in &mut self.0 {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{name} exited ({status}); see {}", log.display()));
            }
        }
        Ok(())
    }

    /// Stops one process (by pid) and forgets it.
    pub(super) fn stop(&mut self, pid: u32) {
        if let Some(at) = self.0.iter().position(|(_, child, _)| child.id() == pid) {
            let (_, mut child, _) = self.0.remove(at);
            stop_child(&mut child);
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        while let Some((_, mut child, _)) = self.0.pop() {
            stop_child(&mut child);
        }
    }
}

fn stop_child(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: a plain kill(2) of our own child, not yet reaped.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A free loopback port, chosen by the kernel.
pub(super) fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("no free port: {error}"))
}

/// Waits (bounded) until `url` answers 2xx; fails as soon as one of the
/// processes exits.
pub(super) async fn wait_ready(
    client: &reqwest::Client,
    url: &str,
    processes: &mut Processes,
) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        processes.check()?;
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("{url} did not answer within {START_TIMEOUT:?}"))
}

pub(super) fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

pub(super) fn mkdir(path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(path)
        .map_err(|error| format!("cannot create {}: {error}", path.display()))
}

/// The first line a program prints for `--version` (stdout or stderr).
pub(super) fn version(program: &Path) -> String {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|output| {
            let text = [output.stdout, output.stderr].concat();
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

pub(super) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}
