//! The JSON result of a successful ADD, in the shape of the reference `bridge` plugin's:
//! interfaces `[bridge, host veth, pod interface]`, each address on interface 2.

use serde_json::{Value, json};

use crate::attach::Attachment;
use crate::ipam::Allocated;
use crate::version::CniVersion;

/// The ADD result in `version`'s format (0.4.0 adds `version` to each address).
pub fn add_result(
    version: CniVersion,
    ifname: &str,
    netns: &str,
    attachment: &Attachment,
    allocated: &[Allocated],
) -> Value {
    let ips: Vec<Value> = allocated
        .iter()
        .map(|a| {
            let mut ip = json!({
                "address": format!("{}/{}", a.ip, a.range.subnet.prefix_len()),
                "gateway": a.range.gateway.to_string(),
                "interface": 2,
            });
            if version == CniVersion::V0_4_0 {
                ip["version"] = json!(if a.ip.is_ipv4() { "4" } else { "6" });
            }
            ip
        })
        .collect();
    let routes: Vec<Value> = attachment
        .routes
        .iter()
        .map(|(dst, gw)| json!({"dst": dst.to_string(), "gw": gw.to_string()}))
        .collect();
    json!({
        "cniVersion": version.as_str(),
        "interfaces": [
            {"name": attachment.bridge.0, "mac": attachment.bridge.1},
            {"name": attachment.host_veth.0, "mac": attachment.host_veth.1},
            {"name": ifname, "mac": attachment.pod_mac, "sandbox": netns},
        ],
        "ips": ips,
        "routes": routes,
        "dns": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::Range;

    #[test]
    fn shapes_per_version() {
        let range = Range::new("10.0.0.0/24".parse().unwrap(), None, None, None).unwrap();
        let allocated = [Allocated {
            ip: "10.0.0.2".parse().unwrap(),
            range,
            fresh: true,
        }];
        let attachment = Attachment {
            bridge: ("cni0".into(), "aa:aa:aa:aa:aa:aa".into()),
            host_veth: ("veth0123456789a".into(), "bb:bb:bb:bb:bb:bb".into()),
            pod_mac: "cc:cc:cc:cc:cc:cc".into(),
            routes: vec![("0.0.0.0/0".parse().unwrap(), "10.0.0.1".parse().unwrap())],
        };
        let v1 = add_result(
            CniVersion::V1_1_0,
            "eth0",
            "/run/netns/p",
            &attachment,
            &allocated,
        );
        assert_eq!(
            v1,
            json!({"cniVersion": "1.1.0",
                "interfaces": [{"name": "cni0", "mac": "aa:aa:aa:aa:aa:aa"},
                               {"name": "veth0123456789a", "mac": "bb:bb:bb:bb:bb:bb"},
                               {"name": "eth0", "mac": "cc:cc:cc:cc:cc:cc", "sandbox": "/run/netns/p"}],
                "ips": [{"address": "10.0.0.2/24", "gateway": "10.0.0.1", "interface": 2}],
                "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.0.1"}],
                "dns": {}})
        );
        let v04 = add_result(
            CniVersion::V0_4_0,
            "eth0",
            "/run/netns/p",
            &attachment,
            &allocated,
        );
        assert_eq!(v04["ips"][0]["version"], "4");
        assert_eq!(v04["cniVersion"], "0.4.0");
    }
}
