//! The host files the node agent writes: forwarding sysctls and the CNI configuration. Both are
//! written only when they differ, so a resync every few seconds costs a few reads.

use std::io;
use std::path::{Path, PathBuf};

/// A host file that could not be read or written. The next resync tries again; if it keeps
/// failing, the agent lacks the privilege or the path is wrong (the operator's to fix).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct HostFileError {
    /// The file.
    pub path: PathBuf,
    /// What the OS said.
    pub source: io::Error,
}

const IPV4_FORWARDING: &str = "/proc/sys/net/ipv4/ip_forward";
const IPV6_FORWARDING: &str = "/proc/sys/net/ipv6/conf/all/forwarding";

/// Turns on IPv4 forwarding (and IPv6's with `ipv6`) in this network namespace; returns the
/// sysctls it had to change, so the caller can say that something turned them off.
pub fn enable_forwarding(ipv6: bool) -> Result<Vec<&'static str>, HostFileError> {
    let mut changed = Vec::new();
    let wanted = if ipv6 {
        &[IPV4_FORWARDING, IPV6_FORWARDING][..]
    } else {
        &[IPV4_FORWARDING][..]
    };
    for path in wanted {
        if write_if_changed(Path::new(path), "1\n", |now| now.trim() == "1")? {
            changed.push(*path);
        }
    }
    Ok(changed)
}

/// Writes `text` to `dir/file` unless it already holds exactly that; returns whether it
/// wrote. The file is replaced by a rename, so a runtime never reads half of it.
pub fn write_conflist(dir: &Path, file: &str, text: &str) -> Result<bool, HostFileError> {
    let path = dir.join(file);
    if std::fs::read_to_string(&path).is_ok_and(|now| now == text) {
        return Ok(false);
    }
    let failed = |source| HostFileError {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    // A dot file: runtimes only load names ending in .conf, .conflist or .json.
    let partial = dir.join(format!(".{file}.partial"));
    std::fs::write(&partial, text).map_err(failed)?;
    std::fs::rename(&partial, &path).map_err(failed)?;
    Ok(true)
}

/// Copies the CNI plugin binary `from` into `bin_dir` as `portcullis-cni` unless the same
/// bytes are there already; returns whether it copied. Replaced by a rename, so a runtime
/// running the plugin at that moment runs the old file or the new one, never half of one.
pub fn install_plugin(from: &Path, bin_dir: &Path) -> Result<bool, HostFileError> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HostFileError { path, source }
    };
    let plugin = std::fs::read(from).map_err(failed(from))?;
    let target = bin_dir.join(PLUGIN_NAME);
    if std::fs::read(&target).is_ok_and(|now| now == plugin) {
        return Ok(false);
    }
    std::fs::create_dir_all(bin_dir).map_err(failed(bin_dir))?;
    let partial = bin_dir.join(format!(".{PLUGIN_NAME}.partial"));
    std::fs::write(&partial, &plugin).map_err(failed(&partial))?;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
        .map_err(failed(&partial))?;
    std::fs::rename(&partial, &target).map_err(failed(&target))?;
    Ok(true)
}

/// The plugin's file name in the CNI bin directory: the conflist's `type`.
pub const PLUGIN_NAME: &str = "portcullis-cni";

/// Writes `text` to a file (a sysctl) unless `is_set` says its contents already do.
fn write_if_changed(
    path: &Path,
    text: &str,
    is_set: impl Fn(&str) -> bool,
) -> Result<bool, HostFileError> {
    let failed = |source| HostFileError {
        path: path.to_path_buf(),
        source,
    };
    let now = std::fs::read_to_string(path).map_err(failed)?;
    if is_set(&now) {
        return Ok(false);
    }
    std::fs::write(path, text).map_err(failed)?;
    Ok(true)
}

impl portcullis_fault::Classified for HostFileError {
    /// A path or privilege of the deployment (a read-only /proc, a missing mount).
    fn fault(&self) -> portcullis_fault::Fault {
        portcullis_fault::Fault::Operator
    }

    /// Only an interrupted call passes by itself; the resync tries again anyway.
    fn retryable(&self) -> bool {
        self.source.kind() == std::io::ErrorKind::Interrupted
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    #[test]
    fn the_conflist_is_written_once_and_replaced_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("net.d");
        assert!(write_conflist(&conf, "10-portcullis.conflist", "one\n").unwrap());
        assert!(!write_conflist(&conf, "10-portcullis.conflist", "one\n").unwrap());
        assert!(write_conflist(&conf, "10-portcullis.conflist", "two\n").unwrap());
        let names: Vec<_> = std::fs::read_dir(&conf)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["10-portcullis.conflist".to_string()]);
        assert_eq!(
            std::fs::read_to_string(conf.join("10-portcullis.conflist")).unwrap(),
            "two\n"
        );
    }

    #[test]
    fn the_plugin_is_installed_executable_and_only_when_it_changed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("built");
        std::fs::write(&source, b"\x7fELF v1").unwrap();
        let bin = dir.path().join("opt/cni/bin");
        assert!(install_plugin(&source, &bin).unwrap());
        assert!(!install_plugin(&source, &bin).unwrap());
        let installed = bin.join(PLUGIN_NAME);
        assert_eq!(std::fs::read(&installed).unwrap(), b"\x7fELF v1");
        let mode = std::fs::metadata(&installed).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        std::fs::write(&source, b"\x7fELF v2").unwrap();
        assert!(install_plugin(&source, &bin).unwrap());
        assert_eq!(std::fs::read(&installed).unwrap(), b"\x7fELF v2");
        let missing = install_plugin(&dir.path().join("nope"), &bin).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
    }

    #[test]
    fn an_unwritable_place_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let error = write_conflist(&blocker.join("net.d"), "x.conflist", "x").unwrap_err();
        assert!(error.to_string().contains("x.conflist"), "{error}");
    }
}
