//! A responder's resident memory and CPU time, read from `/proc/PID` (the generator runs in
//! another network namespace but the same PID namespace, so the responder's PID is visible).

use std::io;
use std::time::Duration;

/// Resident set size in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_rss(&status).ok_or_else(|| io::Error::other(format!("no VmRSS for {pid}")))
}

fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// User plus system CPU time of the whole process, all its threads (`/proc/PID/stat`).
pub fn cpu(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks =
        parse_cpu_ticks(&stat).ok_or_else(|| io::Error::other(format!("bad stat of {pid}")))?;
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Ok(Duration::from_secs_f64(ticks as f64 / hz as f64))
}

/// utime + stime in clock ticks: fields 14 and 15, counted after the command name, which is
/// in parentheses and may itself hold spaces or parentheses.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (the state).
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// `perf record -e cpu-clock -g` attached to a process, for profiling a responder while it is
/// measured (`--perf DIR` of responder-wire).
#[derive(Debug)]
pub struct Profile(std::process::Child);

impl Profile {
    pub fn start(pid: u32, out: &str) -> io::Result<Self> {
        let child = std::process::Command::new("perf")
            .args(["record", "-q", "-e", "cpu-clock", "-g", "-p", &pid.to_string(), "-o", out])
            .stdout(std::process::Stdio::null())
            .spawn()?;
        // perf needs a moment to attach; the windows would otherwise start unrecorded.
        std::thread::sleep(Duration::from_millis(300));
        Ok(Self(child))
    }

    /// Stops the recording (SIGINT, as perf expects) and waits for the file to be written.
    pub fn stop(mut self) -> io::Result<()> {
        let pid = rustix::process::Pid::from_raw(self.0.id() as i32)
            .ok_or_else(|| io::Error::other("perf has no pid"))?;
        rustix::process::kill_process(pid, rustix::process::Signal::INT)?;
        self.0.wait()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rss_and_cpu_ticks() {
        let status =
            "Name:\tcharon-systemd\nVmPeak:\t  9000 kB\nVmRSS:\t   5120 kB\nThreads:\t17\n";
        assert_eq!(parse_rss(status), Some(5120 * 1024));
        assert_eq!(parse_rss("Name: x\n"), None);
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 37 5 0 0 20 0 17 0 99";
        assert_eq!(parse_cpu_ticks(stat), Some(42));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn reads_its_own_process() {
        let me = std::process::id();
        assert!(rss(me).expect("own status") > 0);
        cpu(me).expect("own stat");
    }
}
