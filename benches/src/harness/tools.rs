//! Finding the programs the harness runs but does not build (FACTS.md says where each comes
//! from on this machine), installing the missing ones when asked, and their versions for the
//! report. The peers' tools are described in their rows of [`crate::harness::peers::PEERS`]; the load
//! generators here.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A program the harness runs: where it is, how it is installed, how it tells its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The command's name.
    pub command: &'static str,
    /// How to install it, as a command line (what the harness tells the user and runs).
    pub install: &'static str,
    /// Arguments added to `install` when the harness runs it itself (pip must be allowed to
    /// install beside the system's packages).
    pub install_extra: &'static [&'static str],
    /// Where else it may be when it is not on the PATH.
    pub also_at: AlsoAt,
    /// The flag that makes it print its version.
    pub version_flag: &'static str,
}

/// Where a tool may be besides the PATH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlsoAt {
    /// Only on the PATH.
    Nowhere,
    /// In this folder (Debian puts daemons in `/usr/sbin`, often not on a user's PATH).
    Dir(&'static str),
    /// In `$HOME/.cargo/bin` (`cargo install`).
    CargoBin,
    /// Inside an installed Python package: `binary` relative to the folder of `module`.
    PythonPackage {
        /// The module to import.
        module: &'static str,
        /// The binary's path inside the module's folder.
        binary: &'static str,
    },
}

/// wrk (Debian package): closed-loop HTTP/1.1 and HTTPS.
pub const WRK: Tool = Tool {
    command: "wrk",
    install: "apt-get install -y wrk",
    install_extra: &[],
    also_at: AlsoAt::Nowhere,
    version_flag: "-v",
};

/// h2load (Debian `nghttp2-client`): closed-loop HTTP/2.
pub const H2LOAD: Tool = Tool {
    command: "h2load",
    install: "apt-get install -y nghttp2-client",
    install_extra: &[],
    also_at: AlsoAt::Nowhere,
    version_flag: "--version",
};

/// oha (crates.io): open-loop with latency correction.
pub const OHA: Tool = Tool {
    command: "oha",
    install: "cargo install oha --locked",
    install_extra: &[],
    also_at: AlsoAt::CargoBin,
    version_flag: "--version",
};

/// The load generators; the run cannot go without any of them.
pub const LOAD_GENERATORS: [Tool; 3] = [WRK, H2LOAD, OHA];

impl Tool {
    /// Where it is, if anywhere.
    pub fn find(&self) -> Option<PathBuf> {
        if let Some(path) = on_path(self.command) {
            return Some(path);
        }
        let binary = match self.also_at {
            AlsoAt::Nowhere => return None,
            AlsoAt::Dir(dir) => Path::new(dir).join(self.command),
            AlsoAt::CargoBin => {
                let home = std::env::var_os("HOME")?;
                Path::new(&home).join(".cargo/bin").join(self.command)
            }
            AlsoAt::PythonPackage { module, binary } => {
                // pip puts the binary inside the package.
                let out = Command::new("python3")
                    .args([
                        "-c",
                        &format!("import {module}, os; print(os.path.dirname({module}.__file__))"),
                    ])
                    .output()
                    .ok()?;
                let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
                Path::new(&dir).join(binary)
            }
        };
        binary.is_file().then_some(binary)
    }

    /// Runs its install command; true when it is there afterwards.
    pub fn install(&self) -> bool {
        let mut words = self.install.split_whitespace();
        let Some(program) = words.next() else {
            return false;
        };
        let mut command = Command::new(program);
        command.args(words).args(self.install_extra);
        eprintln!("installing {}: {}", self.command, self.install);
        let _ = command.status();
        self.find().is_some()
    }

    /// Its version, as it prints it.
    pub fn version(&self, path: &Path) -> String {
        let Ok(out) = Command::new(path).arg(self.version_flag).output() else {
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

/// The first `command` in a folder of the PATH.
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

    #[test]
    fn a_tool_off_the_path_is_found_in_its_other_place() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("portcullis-test-tool"), "").unwrap();
        let folder: &'static str = Box::leak(dir.path().display().to_string().into_boxed_str());
        let tool = Tool {
            command: "portcullis-test-tool",
            also_at: AlsoAt::Dir(folder),
            ..WRK
        };
        assert_eq!(tool.find(), Some(dir.path().join("portcullis-test-tool")));
        let elsewhere = Tool {
            also_at: AlsoAt::Nowhere,
            ..tool
        };
        assert_eq!(elsewhere.find(), None);
    }
}
