//! ingress-nginx ConfigMap keys: which have a Portcullis flag, which differ, which do not exist
//! yet. Keys of that ConfigMap that only tune nginx itself (worker counts, buffers) have no
//! meaning for Portcullis and are reported as such, not as failures.

use super::{Finding, Verdict};

/// How a ConfigMap key carries over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingSupport {
    /// This flag does the same.
    Flag(&'static str),
    /// This flag does it, with this difference.
    FlagWithDifference(&'static str, &'static str),
    /// Portcullis always behaves so; the key has nothing to change.
    Builtin(&'static str),
    /// Tunes nginx itself; nothing to carry over.
    NginxOnly,
    /// Not supported yet.
    Unsupported,
}

const SETTINGS: &[(&str, SettingSupport)] = &[
    (
        "proxy-body-size",
        SettingSupport::Flag("--default-body-size"),
    ),
    (
        "proxy-connect-timeout",
        SettingSupport::Flag("--upstream-connect-timeout"),
    ),
    (
        "proxy-read-timeout",
        SettingSupport::Flag("--upstream-response-timeout"),
    ),
    (
        "client-header-timeout",
        SettingSupport::Flag("--header-read-timeout"),
    ),
    (
        "client-body-timeout",
        SettingSupport::Flag("--client-body-timeout"),
    ),
    (
        "proxy-send-timeout",
        SettingSupport::Flag("--upstream-send-timeout"),
    ),
    ("keep-alive", SettingSupport::Flag("--idle-timeout")),
    (
        "large-client-header-buffers",
        SettingSupport::FlagWithDifference(
            "--max-request-header-bytes",
            "one total, not number x size",
        ),
    ),
    (
        "http2-max-concurrent-streams",
        SettingSupport::Flag("--http2-max-concurrent-streams"),
    ),
    (
        "default-ssl-certificate",
        SettingSupport::Flag("--default-ssl-certificate"),
    ),
    (
        "ssl-redirect",
        SettingSupport::Builtin(
            "TLS hosts redirect by default; per Ingress with the ssl-redirect annotation",
        ),
    ),
    (
        "allow-snippet-annotations",
        SettingSupport::Builtin("snippets are never executed: an Ingress with one is not served"),
    ),
    (
        "annotations-risk-level",
        SettingSupport::Builtin("no annotation can inject configuration"),
    ),
    (
        "use-http2",
        SettingSupport::Builtin("HTTP/2 is always offered by ALPN"),
    ),
    ("worker-processes", SettingSupport::NginxOnly),
    ("worker-connections", SettingSupport::NginxOnly),
    ("max-worker-connections", SettingSupport::NginxOnly),
    (
        "worker-shutdown-timeout",
        SettingSupport::FlagWithDifference(
            "--drain-timeout",
            "in-flight requests get this long on SIGTERM",
        ),
    ),
    ("proxy-buffer-size", SettingSupport::NginxOnly),
    ("proxy-buffering", SettingSupport::NginxOnly),
    ("client-body-buffer-size", SettingSupport::NginxOnly),
    (
        "server-tokens",
        SettingSupport::Builtin("no Server header is added"),
    ),
];

/// How ConfigMap key `key` carries over.
pub fn setting_support(key: &str) -> SettingSupport {
    SETTINGS
        .iter()
        .find(|(name, _)| *name == key)
        .map_or(SettingSupport::Unsupported, |(_, support)| *support)
}

pub(super) fn finding(key: &str, value: &str) -> Finding {
    let (verdict, note) = match setting_support(key) {
        SettingSupport::Flag(flag) => (Verdict::Honoured, format!("use {flag}")),
        SettingSupport::FlagWithDifference(flag, difference) => {
            (Verdict::Different, format!("use {flag}: {difference}"))
        }
        SettingSupport::Builtin(why) => (Verdict::Honoured, why.to_owned()),
        SettingSupport::NginxOnly => (
            Verdict::Honoured,
            "tunes nginx itself; nothing to carry over".to_owned(),
        ),
        SettingSupport::Unsupported => (Verdict::Unsupported, "not supported yet".to_owned()),
    };
    Finding {
        name: key.to_owned(),
        value: value.to_owned(),
        verdict,
        note,
    }
}
