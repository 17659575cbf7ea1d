//! Which rules of a host cover a request path, most specific first.
//!
//! Without regex rules this is a matchit tree: each pattern leads to the list of every rule
//! that covers the paths reaching it, ordered Exact first, then longer prefixes before shorter
//! ones, then as written. With a regex rule the host's rules are tried one by one, as written
//! (the translation puts them in precedence order).

use std::collections::BTreeMap;

use regex::Regex;

use crate::path_patterns::{canonical_prefix, patterns};
use crate::pattern::{Anchoring, compile};
use crate::spec::PathKind;

/// A host's paths, ready to answer "which rules cover this path".
#[derive(Debug)]
pub(super) enum PathIndex {
    Tree {
        router: matchit::Router<usize>,
        /// Rules per router value, in precedence order.
        candidates: Box<[Box<[Candidate]>]>,
    },
    Ordered(Box<[(Option<OrderedPath>, bool)]>),
}

/// A rule covering a path, and whether it has conditions to check: a rule without any wins
/// without its (per-host) data being read, so the plain lookup touches no more memory than a
/// host/path router would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Candidate {
    pub(super) rule: usize,
    pub(super) conditional: bool,
}

/// One path of a host matched rule by rule; `None` where the rule's path did not compile.
#[derive(Debug)]
pub(super) enum OrderedPath {
    Exact(Box<str>),
    Prefix(Box<str>),
    Regex(Regex),
}

/// A rule's path that could not be indexed, with why.
#[derive(Debug, Clone)]
pub(super) struct Rejected {
    pub(super) rule: usize,
    pub(super) path: String,
    pub(super) reason: String,
}

/// The rule indices covering one request path, best first.
pub(super) enum Candidates<'a> {
    None,
    Listed(std::iter::Copied<std::slice::Iter<'a, Candidate>>),
    Ordered {
        paths: &'a [(Option<OrderedPath>, bool)],
        path: &'a str,
        next: usize,
    },
}

impl Iterator for Candidates<'_> {
    type Item = Candidate;

    #[inline]
    fn next(&mut self) -> Option<Candidate> {
        match self {
            Candidates::None => None,
            Candidates::Listed(list) => list.next(),
            Candidates::Ordered { paths, path, next } => {
                while let Some((entry, conditional)) = paths.get(*next) {
                    let rule = *next;
                    *next += 1;
                    if entry.as_ref().is_some_and(|p| p.matches(path)) {
                        return Some(Candidate {
                            rule,
                            conditional: *conditional,
                        });
                    }
                }
                None
            }
        }
    }
}

impl OrderedPath {
    fn matches(&self, path: &str) -> bool {
        match self {
            OrderedPath::Exact(exact) => **exact == *path,
            OrderedPath::Prefix(prefix) => covers(prefix, path),
            OrderedPath::Regex(regex) => regex.is_match(path),
        }
    }
}

/// True when the canonical prefix `prefix` covers `path` element-wise.
fn covers(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl PathIndex {
    /// Indexes `layout` (each rule's path, kind and whether it has conditions, in the host's
    /// order).
    pub(super) fn build(layout: &[(&str, PathKind, bool)], rejected: &mut Vec<Rejected>) -> Self {
        if layout
            .iter()
            .any(|(_, kind, _)| matches!(kind, PathKind::Regex { .. }))
        {
            return PathIndex::Ordered(ordered(layout, rejected));
        }
        tree(layout, rejected)
    }

    /// The rules covering `path`, best first.
    #[inline]
    pub(super) fn candidates<'a>(&'a self, path: &'a str) -> Candidates<'a> {
        match self {
            PathIndex::Tree { router, candidates } => match router.at(path) {
                Ok(found) => candidates
                    .get(*found.value)
                    .map_or(Candidates::None, |list| {
                        Candidates::Listed(list.iter().copied())
                    }),
                Err(_) => Candidates::None,
            },
            PathIndex::Ordered(paths) => Candidates::Ordered {
                paths,
                path,
                next: 0,
            },
        }
    }
}

fn ordered(
    layout: &[(&str, PathKind, bool)],
    rejected: &mut Vec<Rejected>,
) -> Box<[(Option<OrderedPath>, bool)]> {
    layout
        .iter()
        .enumerate()
        .map(|(rule, (path, kind, conditional))| {
            (ordered_path(rule, path, *kind, rejected), *conditional)
        })
        .collect()
}

fn ordered_path(
    rule: usize,
    path: &str,
    kind: PathKind,
    rejected: &mut Vec<Rejected>,
) -> Option<OrderedPath> {
    match kind {
        PathKind::Exact => Some(OrderedPath::Exact(path.into())),
        PathKind::Prefix => Some(OrderedPath::Prefix(canonical_prefix(path).into())),
        PathKind::Regex { case_insensitive } => {
            match compile(path, Anchoring::Start, case_insensitive) {
                Ok(regex) => Some(OrderedPath::Regex(regex)),
                Err(error) => {
                    rejected.push(Rejected {
                        rule,
                        path: path.to_owned(),
                        reason: error.to_string(),
                    });
                    None
                }
            }
        }
    }
}

/// What reaches one matchit pattern, to decide which rules cover it.
enum Reach {
    /// Exactly this path.
    Static(String),
    /// Anything below this canonical prefix (not the prefix itself).
    Below(String),
}

fn tree(layout: &[(&str, PathKind, bool)], rejected: &mut Vec<Rejected>) -> PathIndex {
    // Each pattern with what reaches it; several rules may produce the same pattern.
    let mut reaches: BTreeMap<String, (Reach, usize)> = BTreeMap::new();
    for (rule, (path, kind, _)) in layout.iter().enumerate() {
        let base = canonical_prefix(path);
        for pattern in patterns(path, *kind) {
            let reach = if pattern.ends_with("{*rest}") {
                Reach::Below(base.to_owned())
            } else if *kind == PathKind::Exact {
                Reach::Static((*path).to_owned())
            } else if pattern.ends_with('/') && base != "/" {
                Reach::Static(format!("{base}/"))
            } else {
                Reach::Static(base.to_owned())
            };
            reaches.entry(pattern).or_insert((reach, rule));
        }
    }
    let mut router = matchit::Router::new();
    let mut candidates = Vec::new();
    for (pattern, (reach, first_rule)) in reaches {
        let mut covering: Vec<(usize, usize, usize, bool)> = layout
            .iter()
            .enumerate()
            .filter_map(|(rule, (path, kind, conditional))| {
                let rank = covers_reach(path, *kind, &reach)?;
                Some((rank.0, rank.1, rule, *conditional))
            })
            .collect();
        covering.sort_unstable();
        let list: Box<[Candidate]> = covering
            .into_iter()
            .map(|(_, _, rule, conditional)| Candidate { rule, conditional })
            .collect();
        match router.insert(pattern.clone(), candidates.len()) {
            Ok(()) => candidates.push(list),
            Err(error) => rejected.push(Rejected {
                rule: first_rule,
                path: pattern,
                reason: error.to_string(),
            }),
        }
    }
    PathIndex::Tree {
        router,
        candidates: candidates.into_boxed_slice(),
    }
}

/// Whether a rule covers every path of `reach`, and if so its rank (lower is more specific):
/// Exact rules first, then prefixes by decreasing length.
fn covers_reach(path: &str, kind: PathKind, reach: &Reach) -> Option<(usize, usize)> {
    match (kind, reach) {
        (PathKind::Exact, Reach::Static(target)) => (path == target).then_some((0, 0)),
        (PathKind::Prefix, Reach::Static(target)) => {
            let base = canonical_prefix(path);
            covers(base, target).then_some((1, usize::MAX - base.len()))
        }
        (PathKind::Prefix, Reach::Below(below)) => {
            let base = canonical_prefix(path);
            covers(base, below).then_some((1, usize::MAX - base.len()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(layout: &[(&str, PathKind)], rejected: &mut Vec<Rejected>) -> PathIndex {
        let layout: Vec<(&str, PathKind, bool)> =
            layout.iter().map(|(p, k)| (*p, *k, false)).collect();
        PathIndex::build(&layout, rejected)
    }

    fn lookup(layout: &[(&str, PathKind)], path: &str) -> Vec<usize> {
        let mut rejected = Vec::new();
        let index = build(layout, &mut rejected);
        assert!(rejected.is_empty());
        index.candidates(path).map(|c| c.rule).collect()
    }

    #[test]
    fn every_covering_rule_is_a_candidate_most_specific_first() {
        let layout = [
            ("/", PathKind::Prefix),
            ("/api", PathKind::Prefix),
            ("/api/v1", PathKind::Exact),
            ("/api/", PathKind::Prefix),
            ("/apix", PathKind::Prefix),
        ];
        assert_eq!(lookup(&layout, "/api/v1"), [2, 1, 3, 0]);
        assert_eq!(lookup(&layout, "/api/v1/x"), [1, 3, 0]);
        assert_eq!(lookup(&layout, "/api"), [1, 3, 0]);
        assert_eq!(lookup(&layout, "/api/"), [1, 3, 0]);
        assert_eq!(lookup(&layout, "/apix/1"), [4, 0]);
        assert_eq!(lookup(&layout, "/other"), [0]);
        assert_eq!(lookup(&layout, "/"), [0]);
    }

    #[test]
    fn an_exact_path_with_a_trailing_slash_is_its_own() {
        let layout = [("/a/", PathKind::Exact), ("/a", PathKind::Prefix)];
        assert_eq!(lookup(&layout, "/a/"), [0, 1]);
        assert_eq!(lookup(&layout, "/a"), [1]);
        assert!(lookup(&[("/a/", PathKind::Exact)], "/a").is_empty());
    }

    #[test]
    fn regex_hosts_are_tried_in_order() {
        let regex = PathKind::Regex {
            case_insensitive: true,
        };
        let layout = [
            ("/api/v[0-9]+", regex),
            ("/api", PathKind::Prefix),
            ("/", PathKind::Exact),
        ];
        assert_eq!(lookup(&layout, "/API/V2/users"), [0]);
        assert_eq!(lookup(&layout, "/api/v2"), [0, 1]);
        assert_eq!(lookup(&layout, "/api/x"), [1]);
        assert_eq!(lookup(&layout, "/"), [2]);
        assert!(lookup(&layout, "/x").is_empty());
    }

    #[test]
    fn a_regex_that_does_not_compile_is_rejected_alone() {
        let mut rejected = Vec::new();
        let layout = [
            (
                "/(",
                PathKind::Regex {
                    case_insensitive: false,
                },
            ),
            ("/", PathKind::Prefix),
        ];
        let index = build(&layout, &mut rejected);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].rule, 0);
        let found: Vec<usize> = index.candidates("/(").map(|c| c.rule).collect();
        assert_eq!(found, [1]);
    }
}
