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
    fn an_unwritable_place_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let error = write_conflist(&blocker.join("net.d"), "x.conflist", "x").unwrap_err();
        assert!(error.to_string().contains("x.conflist"), "{error}");
    }
}
