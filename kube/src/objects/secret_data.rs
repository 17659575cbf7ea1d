//! Reading a Secret's data the way both translations do: `data`, or `stringData` as manifest
//! files often write it (an API server turns it into `data` on write).

use k8s_openapi::api::core::v1::Secret;

/// `data[key]`, or `stringData[key]`, when non-empty.
pub fn secret_value(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    let from_data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone());
    let from_string = || {
        secret
            .string_data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|s| s.as_bytes().to_vec())
    };
    from_data.or_else(from_string).filter(|v| !v.is_empty())
}
