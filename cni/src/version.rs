//! The CNI specification versions this plugin speaks.

/// Versions accepted in `cniVersion`, oldest first. Results are written in the version asked.
pub const SUPPORTED: [&str; 3] = ["0.4.0", "1.0.0", "1.1.0"];

/// A `cniVersion` this plugin supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CniVersion {
    /// 0.4.0: results carry `version` on each IP; no STATUS or GC.
    V0_4_0,
    /// 1.0.0.
    V1_0_0,
    /// 1.1.0: STATUS and GC.
    V1_1_0,
}

impl CniVersion {
    /// Parses a supported version; `None` for any other text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "0.4.0" => Some(CniVersion::V0_4_0),
            "1.0.0" => Some(CniVersion::V1_0_0),
            "1.1.0" => Some(CniVersion::V1_1_0),
            _ => None,
        }
    }

    /// The version as written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CniVersion::V0_4_0 => "0.4.0",
            CniVersion::V1_0_0 => "1.0.0",
            CniVersion::V1_1_0 => "1.1.0",
        }
    }
}

/// The answer to `VERSION`: the version asked about and every version supported.
pub fn version_info(asked: &str) -> serde_json::Value {
    serde_json::json!({
        "cniVersion": asked,
        "supportedVersions": SUPPORTED,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_the_supported_versions() {
        for text in SUPPORTED {
            assert_eq!(CniVersion::parse(text).map(CniVersion::as_str), Some(text));
        }
        for text in ["0.3.1", "1.2.0", "1.0", "", "v1.0.0"] {
            assert_eq!(CniVersion::parse(text), None, "{text}");
        }
    }
}
