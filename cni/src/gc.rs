//! GC (CNI 1.1): release every address whose attachment the runtime no longer lists in
//! `cni.dev/valid-attachments`, so nothing leaks after a crash or a missed DEL.

use std::net::IpAddr;

use serde::Deserialize;

use crate::error::{CniError, ErrorCode};
use crate::ipam::Store;

/// One entry of `cni.dev/valid-attachments`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ValidAttachment {
    /// `containerID`.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// `ifname`.
    pub ifname: String,
}

/// Reads `cni.dev/valid-attachments` from a GC call's configuration (absent: none are valid).
pub fn valid_attachments(stdin: &[u8]) -> Result<Vec<ValidAttachment>, CniError> {
    #[derive(Deserialize)]
    struct GcConfig {
        #[serde(rename = "cni.dev/valid-attachments", default)]
        valid: Vec<ValidAttachment>,
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(stdin);
    let config: GcConfig = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        CniError::new(
            ErrorCode::DecodingFailure,
            format!("network configuration: {}: {}", error.path(), error.inner()),
        )
    })?;
    Ok(config.valid)
}

/// Frees every address not held by a valid attachment; returns the freed addresses. A record
/// without an interface name (old `host-local`) is kept if its container is valid at all.
pub fn collect_garbage(
    store: &mut impl Store,
    valid: &[ValidAttachment],
) -> std::io::Result<Vec<IpAddr>> {
    let mut freed = Vec::new();
    for attachment in store.attachments()? {
        let kept = valid.iter().any(|v| {
            v.container_id == attachment.container_id
                && (attachment.ifname.is_empty() || v.ifname == attachment.ifname)
        });
        if !kept {
            store.free(attachment.ip)?;
            freed.push(attachment.ip);
        }
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::MemoryStore;

    #[test]
    fn frees_only_what_no_valid_attachment_holds() {
        let mut store = MemoryStore::default();
        for (ip, id, ifname) in [
            ("10.0.0.2", "a", "eth0"),
            ("10.0.0.3", "a", "net1"),
            ("10.0.0.4", "b", "eth0"),
            ("10.0.0.5", "c", ""),
        ] {
            store.reserve(ip.parse().unwrap(), id, ifname, 0).unwrap();
        }
        let valid = valid_attachments(
            br#"{"cniVersion": "1.1.0", "name": "n", "cni.dev/valid-attachments": [
                {"containerID": "a", "ifname": "eth0"}, {"containerID": "c", "ifname": "eth0"}]}"#,
        )
        .unwrap();
        let freed = collect_garbage(&mut store, &valid).unwrap();
        let freed: Vec<String> = freed.iter().map(ToString::to_string).collect();
        assert_eq!(freed, ["10.0.0.3", "10.0.0.4"]);
        assert_eq!(store.attachments().unwrap().len(), 2);
    }

    #[test]
    fn no_list_means_nothing_is_valid_and_a_bad_list_is_an_error() {
        assert!(valid_attachments(br#"{"name": "n"}"#).unwrap().is_empty());
        let error = valid_attachments(br#"{"cni.dev/valid-attachments": [{"ifname": "eth0"}]}"#)
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::DecodingFailure);
        assert!(
            error.msg.contains("cni.dev/valid-attachments[0]"),
            "{}",
            error.msg
        );
    }
}
