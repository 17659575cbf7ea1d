use super::*;

fn parse(json: &str) -> Result<BridgeConfig, CniError> {
    parse_bridge_config(json.as_bytes())
}

const REFERENCE: &str = r#"{
  "cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "bridge",
  "bridge": "cni0", "isGateway": true, "ipMasq": true, "mtu": 1450, "hairpinMode": true,
  "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.1.0/24"}], [{"subnet": "fd00:10:244:1::/64"}]],
           "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}], "dataDir": "/run/cni-ipam"},
  "someOtherField": {"ignored": true}
}"#;

#[test]
fn a_reference_bridge_conflist_entry_parses() {
    let config = parse(REFERENCE).unwrap();
    assert_eq!(config.cni_version, CniVersion::V1_0_0);
    assert_eq!(config.name, "k8s-pod-network");
    assert_eq!(config.bridge, "cni0");
    assert!(config.is_gateway && config.ip_masq && config.hairpin_mode);
    assert!(!config.is_default_gateway);
    assert_eq!(config.mtu, Some(1450));
    assert_eq!(config.ipam.range_sets.len(), 2);
    assert_eq!(
        config.ipam.range_sets[0][0].gateway.to_string(),
        "10.244.1.1"
    );
    assert_eq!(config.ipam.routes.len(), 2);
    assert_eq!(config.ipam.data_dir, PathBuf::from("/run/cni-ipam"));
}

#[test]
fn the_legacy_subnet_form_and_defaults() {
    let config = parse(
        r#"{"cniVersion": "0.4.0", "name": "n", "type": "bridge", "isDefaultGateway": true,
            "ipam": {"type": "host-local", "subnet": "10.1.0.0/16", "rangeStart": "10.1.5.0", "rangeEnd": "10.1.5.255", "gateway": "10.1.0.1"}}"#,
    )
    .unwrap();
    assert_eq!(config.bridge, DEFAULT_BRIDGE);
    assert!(config.is_gateway, "isDefaultGateway implies isGateway");
    assert_eq!(config.ipam.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    let range = &config.ipam.range_sets[0][0];
    assert_eq!(
        (range.start.to_string(), range.end.to_string()),
        ("10.1.5.0".into(), "10.1.5.255".into())
    );
}

#[test]
fn bad_input_names_the_field_and_gets_the_right_code() {
    let base = |ipam: &str| {
        format!(r#"{{"cniVersion": "1.1.0", "name": "n", "type": "bridge", "ipam": {ipam}}}"#)
    };
    let cases: Vec<(String, ErrorCode, &str)> = vec![
        ("not json".into(), ErrorCode::DecodingFailure, "network configuration"),
        (r#"{"cniVersion": "1.1.0", "type": "bridge"}"#.into(), ErrorCode::DecodingFailure, "missing field `name`"),
        (r#"{"cniVersion": "2.0.0", "name": "n", "type": "bridge"}"#.into(), ErrorCode::IncompatibleVersion, "cniVersion \"2.0.0\""),
        (r#"{"cniVersion": "1.1.0", "name": "n", "type": "bridge", "mtu": "big"}"#.into(), ErrorCode::DecodingFailure, "mtu: invalid type"),
        (r#"{"cniVersion": "1.1.0", "name": "n", "type": "bridge"}"#.into(), ErrorCode::InvalidNetworkConfig, "ipam: missing"),
        (r#"{"cniVersion": "1.1.0", "name": "", "type": "bridge"}"#.into(), ErrorCode::InvalidNetworkConfig, "name: must not be empty"),
        (r#"{"cniVersion": "1.1.0", "name": "n", "type": "bridge", "bridge": "a-very-long-bridge0", "ipam": {}}"#.into(), ErrorCode::InvalidNetworkConfig, "bridge: \"a-very-long-bridge0\" must be 1 to 15 bytes"),
        (r#"{"cniVersion": "1.1.0", "name": "n", "type": "bridge", "mtu": 20, "ipam": {}}"#.into(), ErrorCode::InvalidNetworkConfig, "mtu: 20 is outside"),
        (base(r#"{"type": "dhcp"}"#), ErrorCode::UnsupportedField, "ipam.type: \"dhcp\""),
        (base(r#"{}"#), ErrorCode::InvalidNetworkConfig, "ipam: needs subnet or ranges"),
        (base(r#"{"subnet": "10.0.0.0/24", "ranges": [[{"subnet": "10.1.0.0/24"}]]}"#), ErrorCode::InvalidNetworkConfig, "not both"),
        (base(r#"{"subnet": "10.0.0.0/33"}"#), ErrorCode::InvalidNetworkConfig, "ipam.subnet: \"10.0.0.0/33\" is not a CIDR"),
        (base(r#"{"subnet": "10.0.0.0/31"}"#), ErrorCode::InvalidNetworkConfig, "ipam: 10.0.0.0/31 has no usable addresses"),
        (base(r#"{"ranges": [[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.1.1"}]]}"#), ErrorCode::InvalidNetworkConfig, "ipam.ranges[0][0]: rangeStart 10.0.1.1 is not a usable address"),
        (base(r#"{"ranges": [[{"subnet": "10.0.0.0/24", "rangeEnd": "ten"}]]}"#), ErrorCode::InvalidNetworkConfig, "ipam.ranges[0][0].rangeEnd: \"ten\" is not an IP address"),
        (base(r#"{"ranges": [[{"subnet": "10.0.0.0/24"}, {"subnet": "fd00::/64"}]]}"#), ErrorCode::InvalidNetworkConfig, "ipam.ranges[0][1].subnet: fd00::/64 mixes address families"),
        (base(r#"{"ranges": [[{"subnet": "10.0.0.0/24"}, {"subnet": "10.0.0.128/25"}]]}"#), ErrorCode::InvalidNetworkConfig, "ipam.ranges[0][1]: overlaps 10.0.0.1-10.0.0.254"),
        (base(r#"{"ranges": [[{"subnet": "10.0.0.0/24"}], [{"subnet": "10.0.0.0/24"}]]}"#), ErrorCode::InvalidNetworkConfig, "ipam.ranges[1]: overlaps another range set"),
        (base(r#"{"ranges": [[]]}"#), ErrorCode::InvalidNetworkConfig, "ipam.ranges[0]: an empty range set"),
        (base(r#"{"subnet": "10.0.0.0/24", "routes": [{"dst": "default"}]}"#), ErrorCode::InvalidNetworkConfig, "ipam.routes[0].dst: \"default\" is not a CIDR"),
        (base(r#"{"subnet": "10.0.0.0/24", "dataDir": "relative/dir"}"#), ErrorCode::InvalidNetworkConfig, "ipam.dataDir: relative/dir must be an absolute path"),
        (base(r#"{"ranges": [[{"subnet": 10}]]}"#), ErrorCode::DecodingFailure, "ipam.ranges[0][0].subnet: invalid type"),
    ];
    for (json, code, message) in cases {
        let error = parse(&json).unwrap_err();
        assert_eq!(error.code, code, "{json}: {error}");
        assert!(
            error.msg.contains(message),
            "{json}: {:?} lacks {message:?}",
            error.msg
        );
    }
}

#[test]
fn the_version_of_a_broken_config_is_still_found() {
    assert_eq!(
        cni_version_of(br#"{"cniVersion": "0.4.0", "ipam": 7}"#),
        "0.4.0"
    );
    assert_eq!(cni_version_of(b"garbage"), "1.1.0");
    // Found by the cni_config fuzz target: an empty cniVersion was echoed into the answer.
    assert_eq!(
        cni_version_of(br#"{"cniVersion":"","ipam":{"subnet":"192.1false.0/28"}}"#),
        "1.1.0"
    );
}

#[test]
fn interface_names() {
    for good in ["eth0", "cni0", "a", "veth1234567890a"] {
        assert!(check_interface_name(good).is_ok(), "{good}");
    }
    for bad in ["", "veth1234567890ab", "a/b", "a b", "..", "eth0:1"] {
        assert!(check_interface_name(bad).is_err(), "{bad}");
    }
}
