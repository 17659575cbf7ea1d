//! `configuration-snippet` and `server-snippet`: nginx configuration text, which Portcullis
//! never executes. The directives that only set headers are parsed into typed header edits;
//! anything else (another directive, a block, a variable we would have to evaluate) is an
//! error naming it, and the Ingress is not served rather than served without it.
//!
//! Understood: `more_set_headers 'Name: value' ...;` and `add_header Name value [always];`
//! (response headers), `proxy_set_header Name value;` and `more_set_input_headers
//! 'Name: value' ...;` (request headers; an empty `proxy_set_header` value removes the header,
//! as nginx does).

use http::{HeaderName, HeaderValue};
use portcullis_route::spec::HeaderEdits;

/// The header edits a snippet asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SnippetEdits {
    /// On the request sent upstream.
    pub(crate) request: HeaderEdits,
    /// On the response sent to the client.
    pub(crate) response: HeaderEdits,
}

/// Parses `text`; the error names the directive or construct that cannot be honoured.
pub(crate) fn parse_snippet(text: &str) -> Result<SnippetEdits, String> {
    let mut edits = SnippetEdits::default();
    for directive in directives(text)? {
        let Some((name, args)) = directive.split_first() else {
            continue;
        };
        match name.as_str() {
            "more_set_headers" => {
                for arg in args {
                    if arg.starts_with('-') {
                        return Err(format!(
                            "more_set_headers option {arg:?} (status or type filters) is not supported"
                        ));
                    }
                    let (header, value) = colon_pair(name, arg)?;
                    edits.response.set.push((header, value));
                }
            }
            "add_header" => {
                let (header, value) = match args {
                    [header, value] => (header, value),
                    [header, value, always] if always == "always" => (header, value),
                    _ => return Err(format!("add_header takes a name and a value, got {args:?}")),
                };
                edits
                    .response
                    .add
                    .push((header_name(name, header)?, header_value(name, value)?));
            }
            "proxy_set_header" => {
                let [header, value] = args else {
                    return Err(format!(
                        "proxy_set_header takes a name and a value, got {args:?}"
                    ));
                };
                let header = header_name(name, header)?;
                if value.is_empty() {
                    edits.request.remove.push(header);
                } else {
                    edits.request.set.push((header, header_value(name, value)?));
                }
            }
            "more_set_input_headers" => {
                for arg in args {
                    if arg.starts_with('-') {
                        return Err(format!(
                            "more_set_input_headers option {arg:?} is not supported"
                        ));
                    }
                    let (header, value) = colon_pair(name, arg)?;
                    edits.request.set.push((header, value));
                }
            }
            other => {
                return Err(format!(
                    "directive {other:?} is not one that only sets headers (more_set_headers, \
                     add_header, proxy_set_header, more_set_input_headers)"
                ));
            }
        }
    }
    Ok(edits)
}

/// `Name: value` as more_set_headers takes it.
fn colon_pair(directive: &str, arg: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (header, value) = arg
        .split_once(':')
        .ok_or_else(|| format!("{directive} {arg:?}: expected 'Name: value'"))?;
    Ok((
        header_name(directive, header.trim())?,
        header_value(directive, value.trim())?,
    ))
}

fn header_name(directive: &str, text: &str) -> Result<HeaderName, String> {
    if text.contains('$') {
        return Err(format!(
            "{directive} {text:?}: nginx variables are not evaluated"
        ));
    }
    HeaderName::try_from(text).map_err(|_| format!("{directive}: {text:?} is not a header name"))
}

fn header_value(directive: &str, text: &str) -> Result<HeaderValue, String> {
    if let Some(at) = text.find('$') {
        return Err(format!(
            "{directive} value {text:?}: the nginx variable {:?} is not evaluated",
            &text[at..]
        ));
    }
    HeaderValue::try_from(text).map_err(|_| format!("{directive}: {text:?} is not a header value"))
}

/// The directives of `text`: words and quoted strings, `;`-terminated, `#` comments dropped.
/// A block (`{`) is refused: no directive we understand takes one.
fn directives(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut all = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            ';' => {
                if current.is_empty() {
                    return Err("an empty directive (';' alone)".into());
                }
                all.push(std::mem::take(&mut current));
            }
            '{' | '}' => return Err(format!("a block ({c:?}) is not supported")),
            '\'' | '"' => {
                let mut word = String::new();
                let mut closed = false;
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => match chars.next() {
                            Some(escaped) => word.push(escaped),
                            None => break,
                        },
                        d if d == c => {
                            closed = true;
                            break;
                        }
                        d => word.push(d),
                    }
                }
                if !closed {
                    return Err(format!("an unterminated {c} quote"));
                }
                current.push(word);
            }
            c if c.is_whitespace() => {}
            c => {
                let mut word = String::from(c);
                while let Some(&d) = chars.peek() {
                    if d.is_whitespace() || matches!(d, ';' | '{' | '}' | '#' | '\'' | '"') {
                        break;
                    }
                    word.push(d);
                    chars.next();
                }
                current.push(word);
            }
        }
    }
    if let Some(first) = current.first() {
        return Err(format!("directive {first:?} is not ended by ';'"));
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(edits: &HeaderEdits) -> Vec<String> {
        let mut out: Vec<String> = edits
            .set
            .iter()
            .map(|(n, v)| format!("set {n}={}", v.to_str().unwrap_or("?")))
            .collect();
        out.extend(
            edits
                .add
                .iter()
                .map(|(n, v)| format!("add {n}={}", v.to_str().unwrap_or("?"))),
        );
        out.extend(edits.remove.iter().map(|n| format!("remove {n}")));
        out
    }

    #[test]
    fn header_directives_become_typed_edits() {
        let snippet = r#"
            # from ingress-nginx's docs
            more_set_headers "Request-Id: abc";
            more_set_headers 'X-Frame-Options: DENY' "X-Content-Type-Options: nosniff";
            add_header Cache-Control "no-store" always;
            proxy_set_header X-Tenant blue;
            proxy_set_header Accept-Encoding "";
            more_set_input_headers 'X-Debug: 1';
        "#;
        let edits = parse_snippet(snippet).expect("understood");
        assert_eq!(
            names(&edits.response),
            [
                "set request-id=abc",
                "set x-frame-options=DENY",
                "set x-content-type-options=nosniff",
                "add cache-control=no-store"
            ]
        );
        assert_eq!(
            names(&edits.request),
            [
                "set x-tenant=blue",
                "set x-debug=1",
                "remove accept-encoding"
            ]
        );
    }

    #[test]
    fn everything_else_is_refused_by_name() {
        let cases = [
            ("allow 10.0.0.0/8; deny all;", "\"allow\""),
            ("proxy_pass http://evil;", "\"proxy_pass\""),
            ("content_by_lua_block { os.execute('id') }", "block"),
            ("more_set_headers \"X-Id: $request_id\";", "$request_id"),
            ("proxy_set_header X-Real $remote_addr;", "$remote_addr"),
            ("more_set_headers -s 404 'X: y';", "-s"),
            ("add_header X;", "add_header"),
            ("more_set_headers 'X: y'", "not ended"),
            ("more_set_headers 'X: y;", "unterminated"),
            ("rewrite ^ /x break;", "\"rewrite\""),
        ];
        for (snippet, named) in cases {
            let error = parse_snippet(snippet).expect_err(snippet);
            assert!(error.contains(named), "{snippet}: {error}");
        }
    }

    #[test]
    fn an_empty_snippet_is_nothing() {
        assert_eq!(
            parse_snippet("  # only a comment\n"),
            Ok(SnippetEdits::default())
        );
    }
}
