//! Kubernetes path rules expressed as matchit patterns.
//!
//! matchit matches static segments before a catch-all and backtracks, so the longest
//! element-wise prefix wins. A Prefix rule `/foo` becomes three patterns: `/foo`, `/foo/` and
//! `/foo/{*rest}` (a catch-all never matches an empty remainder). An Exact rule is one pattern,
//! and on the same pattern it takes precedence over a Prefix rule, as the Ingress spec says.

use crate::spec::PathKind;

/// The form of a Prefix path that two rules share when they mean the same thing: trailing
/// slashes dropped, except for the root `/`.
pub fn canonical_prefix(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() { "/" } else { trimmed }
}

/// The matchit patterns of one rule, each escaped so `{` and `}` in a path stay literal; none
/// for a regex rule, which matchit does not hold.
pub fn patterns(path: &str, kind: PathKind) -> Vec<String> {
    match kind {
        PathKind::Regex { .. } => Vec::new(),
        PathKind::Exact => vec![escape(path)],
        PathKind::Prefix => {
            let base = canonical_prefix(path);
            if base == "/" {
                vec!["/".to_string(), "/{*rest}".to_string()]
            } else {
                let escaped = escape(base);
                vec![
                    escaped.clone(),
                    format!("{escaped}/"),
                    format!("{escaped}/{{*rest}}"),
                ]
            }
        }
    }
}

fn escape(path: &str) -> String {
    path.replace('{', "{{").replace('}', "}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_prefix_drops_trailing_slashes() {
        assert_eq!(canonical_prefix("/"), "/");
        assert_eq!(canonical_prefix("//"), "/");
        assert_eq!(canonical_prefix("/foo/"), "/foo");
        assert_eq!(canonical_prefix("/foo"), "/foo");
        assert_eq!(canonical_prefix("/a/b//"), "/a/b");
    }

    #[test]
    fn prefix_patterns_cover_the_path_its_slash_and_its_subtree() {
        assert_eq!(
            patterns("/foo/", PathKind::Prefix),
            ["/foo", "/foo/", "/foo/{*rest}"]
        );
        assert_eq!(patterns("/", PathKind::Prefix), ["/", "/{*rest}"]);
        assert_eq!(patterns("/a{b}", PathKind::Exact), ["/a{{b}}"]);
    }
}
