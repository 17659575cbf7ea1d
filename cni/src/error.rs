//! CNI errors: the spec's numeric codes, a message naming what is wrong, and the JSON the
//! plugin prints on stdout when it fails.

/// The spec's well-known error codes, plus this plugin's own (100 and up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 1: the `cniVersion` is not one this plugin supports.
    IncompatibleVersion,
    /// 2: a field has a value this plugin does not support.
    UnsupportedField,
    /// 3: the container does not exist or is unknown to the plugin.
    UnknownContainer,
    /// 4: a `CNI_*` environment variable is missing or invalid.
    InvalidEnvironment,
    /// 5: reading or writing a file, or a netlink call, failed.
    IoFailure,
    /// 6: the configuration on stdin is not valid JSON of the expected shape.
    DecodingFailure,
    /// 7: the configuration decodes but its values are invalid.
    InvalidNetworkConfig,
    /// 11: a transient condition; the runtime should try again later.
    TryAgainLater,
    /// 50: STATUS: the plugin cannot take ADDs now (for example, no address left).
    NotAvailable,
    /// 100: every address of every range is taken.
    RangeExhausted,
    /// 101: `CNI_IFNAME` already exists in the pod's namespace.
    InterfaceExists,
}

impl ErrorCode {
    /// The number the spec assigns.
    pub fn number(self) -> u32 {
        match self {
            ErrorCode::IncompatibleVersion => 1,
            ErrorCode::UnsupportedField => 2,
            ErrorCode::UnknownContainer => 3,
            ErrorCode::InvalidEnvironment => 4,
            ErrorCode::IoFailure => 5,
            ErrorCode::DecodingFailure => 6,
            ErrorCode::InvalidNetworkConfig => 7,
            ErrorCode::TryAgainLater => 11,
            ErrorCode::NotAvailable => 50,
            ErrorCode::RangeExhausted => 100,
            ErrorCode::InterfaceExists => 101,
        }
    }

    /// Whether the same call may succeed later without anyone changing the configuration.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::TryAgainLater | ErrorCode::IoFailure | ErrorCode::NotAvailable
        )
    }
}

/// A failed CNI call: what the runtime gets on stdout, and what the operator reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}{}", if details.is_empty() { String::new() } else { format!(": {details}") })]
pub struct CniError {
    /// The code.
    pub code: ErrorCode,
    /// One line: what is wrong, naming the field or variable.
    pub msg: String,
    /// More detail (the underlying error), possibly empty.
    pub details: String,
}

impl CniError {
    /// An error without details.
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Self {
        CniError {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    /// Adds the underlying cause.
    pub fn with_details(mut self, details: impl ToString) -> Self {
        self.details = details.to_string();
        self
    }

    /// The error as the spec's JSON object, in the version the runtime asked for.
    pub fn to_json(&self, cni_version: &str) -> serde_json::Value {
        let mut value = serde_json::json!({
            "cniVersion": cni_version,
            "code": self.code.number(),
            "msg": self.msg,
        });
        if !self.details.is_empty() {
            value["details"] = serde_json::Value::String(self.details.clone());
        }
        value
    }
}

impl portcullis_fault::Classified for CniError {
    /// By the spec's code: configuration, environment and address capacity are the
    /// operator's (the runtime, the conflist, the pod CIDR), an unknown container or a taken
    /// interface name the caller's, IO and transient conditions the kernel's.
    fn fault(&self) -> portcullis_fault::Fault {
        use portcullis_fault::Fault;
        match self.code {
            ErrorCode::IncompatibleVersion
            | ErrorCode::UnsupportedField
            | ErrorCode::InvalidEnvironment
            | ErrorCode::DecodingFailure
            | ErrorCode::InvalidNetworkConfig => Fault::Operator,
            ErrorCode::UnknownContainer | ErrorCode::InterfaceExists => Fault::User,
            ErrorCode::IoFailure | ErrorCode::TryAgainLater => Fault::Kernel,
            // The pod CIDR is full: the deployment's capacity, freed as pods go.
            ErrorCode::NotAvailable | ErrorCode::RangeExhausted => Fault::Operator,
        }
    }

    /// What the spec calls transient, and a pool that frees up as pods go.
    fn retryable(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::TryAgainLater | ErrorCode::NotAvailable | ErrorCode::RangeExhausted
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_spec_shape() {
        let error = CniError::new(ErrorCode::InvalidNetworkConfig, "ipam.subnet: not a CIDR")
            .with_details("invalid IP address syntax");
        assert_eq!(
            error.to_json("1.1.0"),
            serde_json::json!({"cniVersion": "1.1.0", "code": 7,
                "msg": "ipam.subnet: not a CIDR", "details": "invalid IP address syntax"})
        );
        let bare = CniError::new(ErrorCode::TryAgainLater, "busy").to_json("0.4.0");
        assert!(bare.get("details").is_none());
        assert_eq!(bare["code"], 11);
    }

    #[test]
    fn each_code_says_whose_fault_and_whether_to_retry() {
        use portcullis_fault::{Classified, Fault};
        let cases = [
            (ErrorCode::InvalidNetworkConfig, Fault::Operator, false),
            (ErrorCode::InvalidEnvironment, Fault::Operator, false),
            (ErrorCode::InterfaceExists, Fault::User, false),
            (ErrorCode::IoFailure, Fault::Kernel, false),
            (ErrorCode::TryAgainLater, Fault::Kernel, true),
            (ErrorCode::RangeExhausted, Fault::Operator, true),
        ];
        for (code, fault, retryable) in cases {
            let error = CniError::new(code, "x");
            assert_eq!(
                (error.fault(), error.retryable()),
                (fault, retryable),
                "{code:?}"
            );
        }
    }
}
