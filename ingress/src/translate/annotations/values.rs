//! Annotation values as ingress-nginx accepts them, parsed into typed values once; each error
//! says what was expected, for the Warning that names the annotation and its value.

use std::time::Duration;

/// `"true"` or `"false"` (as ingress-nginx's parser: Go's `strconv.ParseBool` spellings).
pub(crate) fn boolean(value: &str) -> Result<bool, String> {
    match value.trim() {
        "true" | "True" | "TRUE" | "t" | "T" | "1" => Ok(true),
        "false" | "False" | "FALSE" | "f" | "F" | "0" => Ok(false),
        _ => Err("expected \"true\" or \"false\"".into()),
    }
}

/// An nginx size: bytes, or a number with `k`/`m`/`g` (either case, powers of 1024). `0`
/// means unlimited (`None`).
pub(crate) fn size(value: &str) -> Result<Option<u64>, String> {
    let text = value.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (&text[..at], Some(c.to_ascii_lowercase())),
        _ => (text, None),
    };
    let multiplier: u64 = match unit {
        None => 1,
        Some('k') => 1 << 10,
        Some('m') => 1 << 20,
        Some('g') => 1 << 30,
        Some(_) => return Err("expected a size such as 8m, 512k, 1g or a byte count".into()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a size such as 8m, 512k, 1g or a byte count".into());
    }
    let number: u64 = digits
        .parse()
        .map_err(|_| "the size is too large".to_owned())?;
    let bytes = number
        .checked_mul(multiplier)
        .ok_or_else(|| "the size is too large".to_owned())?;
    Ok((bytes > 0).then_some(bytes))
}

/// A timeout in whole seconds, as ingress-nginx's `proxy-*-timeout` annotations take it (a
/// bare number: ingress-nginx refuses `60s`). At least 1 s, at most a day.
pub(crate) fn seconds(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<u64>() {
        Ok(n) if (1..=86_400).contains(&n) => Ok(Duration::from_secs(n)),
        _ => Err("expected a whole number of seconds from 1 to 86400".into()),
    }
}

/// A redirect status up to `max` (ingress-nginx: 308 for permanent, 307 for temporal), of
/// those that send a `Location` (nginx sends none with 300, 304, 305 or 306).
pub(crate) fn redirect_status(value: &str, max: u16) -> Result<u16, String> {
    match value.trim().parse::<u16>() {
        Ok(code @ (301..=303 | 307 | 308)) if code <= max => Ok(code),
        _ => Err(format!(
            "expected a redirect status that sends a Location: 301, 302, 303, 307{}",
            if max >= 308 { " or 308" } else { "" }
        )),
    }
}

/// A number from `min` to `max`.
pub(crate) fn bounded(value: &str, min: u64, max: u64) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

/// A path (or URL) we may send as a `Location` or request target: printable ASCII, no
/// spaces, no nginx variables (`$host` would be sent literally, so it is refused instead).
pub(crate) fn literal_url(value: &str) -> Result<String, String> {
    let text = value.trim();
    if text.is_empty() {
        return Err("is empty".into());
    }
    if let Some(at) = text.find('$') {
        return Err(format!(
            "contains {:?}: nginx variables are not evaluated (only $1..$9 in rewrite-target)",
            &text[at..]
        ));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("contains spaces, control or non-ASCII characters".into());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_nginx_reads_them() {
        let cases: [(&str, Result<Option<u64>, ()>); 9] = [
            ("1m", Ok(Some(1 << 20))),
            ("8M", Ok(Some(8 << 20))),
            ("512k", Ok(Some(512 << 10))),
            ("1g", Ok(Some(1 << 30))),
            ("1000", Ok(Some(1000))),
            ("0", Ok(None)),
            ("1.5m", Err(())),
            ("m", Err(())),
            ("10t", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(size(text).map_err(|_| ()), want, "{text}");
        }
        assert!(size("99999999999999999999g").is_err());
    }

    #[test]
    fn timeouts_statuses_and_booleans() {
        assert_eq!(seconds("60"), Ok(Duration::from_secs(60)));
        assert!(seconds("5s").is_err());
        assert!(seconds("0").is_err());
        assert!(seconds("1m").is_err());
        assert_eq!(redirect_status("308", 308), Ok(308));
        assert!(redirect_status("308", 307).is_err());
        assert!(redirect_status("304", 308).is_err());
        assert!(redirect_status("200", 308).is_err());
        assert_eq!(boolean("True"), Ok(true));
        assert!(boolean("yes").is_err());
        assert_eq!(bounded("50", 0, 100), Ok(50));
        assert!(bounded("101", 0, 100).is_err());
    }

    #[test]
    fn urls_are_literal() {
        assert_eq!(
            literal_url(" https://x.example/a "),
            Ok("https://x.example/a".into())
        );
        assert!(literal_url("https://$host/a").is_err());
        assert!(literal_url("/a b").is_err());
        assert!(literal_url("").is_err());
    }
}
