//! Processes under measurement: started pinned to a core (`taskset`), waited for until they
//! answer, measured from `/proc` (CPU time and peak resident memory of the process and every
//! descendant, so nginx's worker counts), and stopped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A started process.
pub struct Running {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Running {
    /// Starts `program args` on `core` with `env`, output to `log`.
    pub fn start(
        name: &str,
        core: usize,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
        log: &Path,
    ) -> anyhow::Result<Running> {
        let out = fs::File::create(log).with_context(|| format!("{}", log.display()))?;
        let child = Command::new("taskset")
            .arg("-c")
            .arg(core.to_string())
            .arg(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {name} ({})", program.display()))?;
        Ok(Running {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        })
    }

    /// Waits until `url` answers 200 (`curl -k`), or fails with the process's log.
    pub fn wait_ready(&mut self, url: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}):\n{}", self.name, self.log_tail());
            }
            if http_status(url) == Some(200) {
                return Ok(());
            }
            sleep(Duration::from_millis(50));
        }
        bail!(
            "{} did not answer 200 on {url}:\n{}",
            self.name,
            self.log_tail()
        )
    }

    /// CPU seconds (user + system) used so far by the process and its descendants.
    pub fn cpu_seconds(&self) -> f64 {
        let ticks: u64 = tree(self.child.id())
            .into_iter()
            .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/stat")).ok())
            .filter_map(|stat| {
                let fields = after_command(&stat);
                // utime and stime: fields 14 and 15, i.e. 11 and 12 after the state.
                let utime: u64 = fields.get(11)?.parse().ok()?;
                let stime: u64 = fields.get(12)?.parse().ok()?;
                Some(utime + stime)
            })
            .sum();
        ticks as f64 / clock_ticks()
    }

    /// Peak resident memory (VmHWM) of the process and its descendants, in bytes: start-up
    /// included.
    pub fn peak_rss(&self) -> u64 {
        self.memory("VmHWM:")
    }

    /// Resident memory now (VmRSS) of the process and its descendants, in bytes.
    pub fn rss(&self) -> u64 {
        self.memory("VmRSS:")
    }

    /// How many processes it is now (nginx: master and worker).
    pub fn processes(&self) -> usize {
        tree(self.child.id()).len()
    }

    /// The sum of one `/proc/PID/status` field (in kB) over the process tree, in bytes.
    fn memory(&self, field: &str) -> u64 {
        tree(self.child.id())
            .into_iter()
            .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/status")).ok())
            .filter_map(|status| status_bytes(&status, field))
            .sum()
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Running {
    /// SIGTERM, then SIGKILL after 5 s.
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status `curl -k` gets for `url`, if any.
pub fn http_status(url: &str) -> Option<u16> {
    let out = Command::new("curl")
        .args([
            "-sk",
            "-o",
            "/dev/null",
            "-m",
            "2",
            "-w",
            "%{http_code}",
            url,
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// A memory field of a `/proc/PID/status` text (`field` with its colon, as `VmRSS:`), which
/// the kernel gives in kB (KiB), in bytes.
pub fn status_bytes(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `pid` and all its descendants.
fn tree(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let ppid: u32 = after_command(&stat).get(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found
}

/// The fields of `/proc/PID/stat` after `(command)`, which may hold spaces: state first.
fn after_command(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default()
}

/// Clock ticks per second of `/proc` CPU times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_past_a_command_with_spaces() {
        let stat = "42 (tokio worker 1) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 2";
        let fields = after_command(stat);
        assert_eq!(fields[0], "S");
        assert_eq!(fields[1], "1", "ppid");
        assert_eq!((fields[11], fields[12]), ("250", "75"), "utime, stime");
    }

    #[test]
    fn memory_fields_are_read_in_bytes() {
        let status =
            "Name:\tnginx\nVmPeak:\t  20380 kB\nVmHWM:\t    9404 kB\nVmRSS:\t    8216 kB\n";
        assert_eq!(status_bytes(status, "VmRSS:"), Some(8216 * 1024));
        assert_eq!(status_bytes(status, "VmHWM:"), Some(9404 * 1024));
        assert_eq!(status_bytes(status, "VmSwap:"), None, "absent");
        assert_eq!(
            status_bytes("VmRSS:\t?? kB\n", "VmRSS:"),
            None,
            "unreadable"
        );
    }

    #[test]
    fn this_process_is_measured() {
        let child = Command::new("sleep").arg("0.5").spawn().unwrap();
        let running = Running {
            name: "sleep".into(),
            child,
            log: "/dev/null".into(),
        };
        assert!(running.peak_rss() > 0);
        assert!(running.rss() > 0 && running.rss() <= running.peak_rss());
        assert!(running.cpu_seconds() >= 0.0);
        assert_eq!(running.processes(), 1);
        assert!(tree(std::process::id()).contains(&running.child.id()));
    }
}
