//! What `loadgen run` reads of the kernel and the machine: a process's CPU
//! (utime + stime of `/proc/PID/stat`, in clock ticks), everyone else's CPU,
//! VmRSS/VmHWM, CLK_TCK, and the facts of the report's Machine table.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};

use super::figures::stat_ticks;
use super::results::Machine;

/// Clock ticks per second (`getconf CLK_TCK`).
pub fn clk_tck() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// utime + stime of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat =
        std::fs::read_to_string(&path).map_err(|error| format!("cannot read {path}: {error}"))?;
    stat_ticks(&stat, false).ok_or_else(|| format!("cannot parse {path}"))
}

/// The CPU of every process but this one and `skip`, with the children each
/// has reaped (utime stime cutime cstime), in clock ticks, by process: two
/// of these around a window give what else ran on the machine during it
/// ([`super::figures::ticks_between`]).
pub fn other_ticks(skip: &[u32]) -> HashMap<u32, u64> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me && !skip.contains(pid))
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, stat_ticks(&stat, true)?))
        })
        .collect()
}

/// VmRSS of a process, KiB.
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    crate::status_kib(pid, "VmRSS")
}

/// VmHWM of a process, KiB.
pub fn hwm_kib(pid: u32) -> Result<u64, String> {
    crate::status_kib(pid, "VmHWM")
}

/// The first line a command prints (stdout, else stderr), or "".
fn first_line(program: &str, args: &[&str], dir: &Path) -> String {
    Command::new(program)
        .args(args)
        .current_dir(dir)
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
        .unwrap_or_default()
}

/// The `n`th (1-based) whitespace-separated word of a line, or "".
fn word(line: &str, n: usize) -> String {
    line.split_whitespace()
        .nth(n - 1)
        .unwrap_or_default()
        .to_owned()
}

/// The machine and build facts, `date` as given.
pub fn machine(root: &Path, date: String) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(": "))
        .map(|(_, model)| model.to_owned())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| format!("{:.1} GiB", kib / 1_048_576.0))
        .unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("PRETTY_NAME="))
                .map(|name| name.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| first_line("uname", &["-s"], root));
    let revision = first_line("git", &["describe", "--always", "--dirty"], root);
    Machine {
        date,
        cpu,
        nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory,
        os,
        kernel: first_line("uname", &["-r"], root),
        rustc: first_line("rustc", &["--version"], root),
        revision: if revision.is_empty() {
            "unknown".to_owned()
        } else {
            revision
        },
        blackbox: word(
            &first_line("prometheus-blackbox-exporter", &["--version"], root),
            3,
        ),
        wrk: word(&first_line("wrk", &["-v"], root), 2),
    }
}
