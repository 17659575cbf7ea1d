//! The `CNI_*` environment a runtime sets for one call, checked once. Every error names the
//! variable (code 4).

use std::path::PathBuf;

use crate::config::check_interface_name;
use crate::error::{CniError, ErrorCode};

/// What the runtime asks for (`CNI_COMMAND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Attach a container to the network.
    Add,
    /// Detach it; idempotent, best effort.
    Del,
    /// Verify an attachment is still as ADD made it.
    Check,
    /// Report the spec versions supported.
    Version,
    /// Say whether ADDs can succeed now.
    Status,
    /// Release everything not in the runtime's list of valid attachments.
    Gc,
}

/// A checked call environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEnv {
    /// `CNI_COMMAND`.
    pub command: Command,
    /// `CNI_CONTAINERID` (ADD, DEL, CHECK).
    pub container_id: String,
    /// `CNI_NETNS`: the container's network namespace (ADD, CHECK; optional for DEL).
    pub netns: Option<PathBuf>,
    /// `CNI_IFNAME`: the interface to create in the container (ADD, DEL, CHECK).
    pub ifname: String,
    /// `CNI_ARGS` as key/value pairs.
    pub args: Vec<(String, String)>,
}

/// Reads the call environment through `get` (the process environment in the binary).
pub fn read_env(get: impl Fn(&str) -> Option<String>) -> Result<CallEnv, CniError> {
    let invalid = |msg: String| CniError::new(ErrorCode::InvalidEnvironment, msg);
    let command = match get("CNI_COMMAND").as_deref() {
        Some("ADD") => Command::Add,
        Some("DEL") => Command::Del,
        Some("CHECK") => Command::Check,
        Some("VERSION") => Command::Version,
        Some("STATUS") => Command::Status,
        Some("GC") => Command::Gc,
        Some(other) => {
            return Err(invalid(format!(
                "CNI_COMMAND: {other:?} is not one of ADD, DEL, CHECK, VERSION, STATUS, GC"
            )));
        }
        None => return Err(invalid("CNI_COMMAND: not set".into())),
    };
    let per_container = matches!(command, Command::Add | Command::Del | Command::Check);
    let non_empty = |name: &str| get(name).filter(|v| !v.is_empty());
    let container_id = non_empty("CNI_CONTAINERID").unwrap_or_default();
    let ifname = non_empty("CNI_IFNAME").unwrap_or_default();
    let netns = non_empty("CNI_NETNS").map(PathBuf::from);
    if per_container {
        if container_id.is_empty() {
            return Err(invalid("CNI_CONTAINERID: not set".into()));
        }
        let valid_id = container_id.starts_with(|c: char| c.is_ascii_alphanumeric())
            && container_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid_id {
            return Err(invalid(format!(
                "CNI_CONTAINERID: {container_id:?} may hold only letters, digits, '_', '.' and '-'"
            )));
        }
        if ifname.is_empty() {
            return Err(invalid("CNI_IFNAME: not set".into()));
        }
        check_interface_name(&ifname)
            .map_err(|problem| invalid(format!("CNI_IFNAME: {problem}")))?;
        if command != Command::Del && netns.is_none() {
            return Err(invalid("CNI_NETNS: not set".into()));
        }
    }
    let args = get("CNI_ARGS")
        .unwrap_or_default()
        .split(';')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => Ok((key.to_string(), value.to_string())),
            None => Err(invalid(format!("CNI_ARGS: {pair:?} is not KEY=VALUE"))),
        })
        .collect::<Result<_, _>>()?;
    Ok(CallEnv {
        command,
        container_id,
        netns,
        ifname,
        args,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<CallEnv, CniError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        read_env(|name| map.get(name).cloned())
    }

    #[test]
    fn a_complete_add() {
        let env = read(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "abc-123_x.y"),
            ("CNI_NETNS", "/var/run/netns/pod"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_ARGS", "K8S_POD_NAME=web;K8S_POD_NAMESPACE=shop"),
        ])
        .unwrap();
        assert_eq!(env.command, Command::Add);
        assert_eq!(env.netns, Some(PathBuf::from("/var/run/netns/pod")));
        assert_eq!(env.args[1], ("K8S_POD_NAMESPACE".into(), "shop".into()));
    }

    #[test]
    fn version_and_status_need_no_container() {
        assert_eq!(
            read(&[("CNI_COMMAND", "VERSION")]).unwrap().command,
            Command::Version
        );
        assert_eq!(
            read(&[("CNI_COMMAND", "STATUS")]).unwrap().command,
            Command::Status
        );
        assert_eq!(read(&[("CNI_COMMAND", "GC")]).unwrap().command, Command::Gc);
    }

    #[test]
    fn del_without_netns_is_fine() {
        let env = read(&[
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", "c"),
            ("CNI_IFNAME", "eth0"),
        ])
        .unwrap();
        assert_eq!(env.netns, None);
    }

    #[test]
    fn each_problem_names_its_variable() {
        let add = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = vec![
                ("CNI_COMMAND", "ADD"),
                ("CNI_CONTAINERID", "c"),
                ("CNI_NETNS", "/run/netns/x"),
                ("CNI_IFNAME", "eth0"),
            ];
            for (k, v) in extra {
                pairs.retain(|(key, _)| key != k);
                pairs.push((k, v));
            }
            read(&pairs).unwrap_err()
        };
        let cases = [
            (add(&[("CNI_COMMAND", "ATTACH")]), "CNI_COMMAND: \"ATTACH\""),
            (add(&[("CNI_CONTAINERID", "")]), "CNI_CONTAINERID: not set"),
            (
                add(&[("CNI_CONTAINERID", "a/b")]),
                "CNI_CONTAINERID: \"a/b\"",
            ),
            (add(&[("CNI_IFNAME", "")]), "CNI_IFNAME: not set"),
            (
                add(&[("CNI_IFNAME", "a-name-longer-than-15")]),
                "CNI_IFNAME: \"a-name-longer-than-15\"",
            ),
            (add(&[("CNI_NETNS", "")]), "CNI_NETNS: not set"),
            (
                add(&[("CNI_ARGS", "IgnoreUnknown")]),
                "CNI_ARGS: \"IgnoreUnknown\"",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.code, ErrorCode::InvalidEnvironment);
            assert!(
                error.msg.starts_with(message),
                "{:?} should start with {message:?}",
                error.msg
            );
        }
        assert!(read(&[]).unwrap_err().msg.contains("CNI_COMMAND: not set"));
    }
}
