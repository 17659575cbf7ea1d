//! A GRPCRoute match as a path match: a gRPC call is `POST /<service>/<method>`, so an exact
//! service and method is an exact path, a service alone a path prefix, and a method alone or
//! any regular expression a whole-path pattern.

use std::cmp::Reverse;

use portcullis_kube::objects::gateway_api::GrpcRouteMatch;
use portcullis_route::spec::{Conditions, PathKind};

use crate::route_rules::{MatchParts, PathRank, header_conditions};

/// A GRPCRoute match's path, conditions and rank, or the field that cannot be honoured.
pub(crate) fn grpc_match(one: &GrpcRouteMatch) -> Result<MatchParts, (String, String)> {
    let conditions = Conditions {
        headers: header_conditions(&one.headers)?,
        ..Conditions::default()
    };
    let Some(method) = &one.method else {
        return Ok(MatchParts {
            path: "/".into(),
            kind: PathKind::Prefix,
            prefix: None,
            conditions,
            rank: PathRank::Grpc(Reverse(0), Reverse(0)),
        });
    };
    let service = method.service.as_deref().filter(|s| !s.is_empty());
    let name = method.method.as_deref().filter(|m| !m.is_empty());
    let rank = PathRank::Grpc(
        Reverse(service.map_or(0, str::len)),
        Reverse(name.map_or(0, str::len)),
    );
    let regex = |path: String| {
        let kind = PathKind::Regex {
            case_insensitive: false,
        };
        (path, kind)
    };
    let (path, kind) = match method.match_type.as_deref() {
        None | Some("Exact") => {
            if let Some(service) = service {
                checked_name(service, true).map_err(|why| ("method.service".to_string(), why))?;
            }
            if let Some(name) = name {
                checked_name(name, false).map_err(|why| ("method.method".to_string(), why))?;
            }
            match (service, name) {
                (Some(service), Some(name)) => (format!("/{service}/{name}"), PathKind::Exact),
                (Some(service), None) => (format!("/{service}"), PathKind::Prefix),
                // The method name is checked to hold only letters, digits and `_`.
                (None, Some(name)) => regex(format!("/[^/]+/{name}$")),
                (None, None) => return Err(needs_one()),
            }
        }
        Some("RegularExpression") => {
            if service.is_none() && name.is_none() {
                return Err(needs_one());
            }
            regex(format!(
                "/(?:{})/(?:{})$",
                service.unwrap_or("[^/]+"),
                name.unwrap_or("[^/]+")
            ))
        }
        Some(other) => {
            return Err((
                "method.type".into(),
                format!("{other:?} is not Exact or RegularExpression"),
            ));
        }
    };
    Ok(MatchParts {
        path,
        kind,
        prefix: None,
        conditions,
        rank,
    })
}

fn needs_one() -> (String, String) {
    (
        "method".into(),
        "a method match needs a service or a method".into(),
    )
}

/// A service (`pkg.Service`) or method (`Method`) name as the GRPCRoute schema allows it:
/// letters, digits and `_`, dots between a service's parts; nothing that could reach another
/// path.
fn checked_name(name: &str, service: bool) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || (service && c == '.');
    if name.chars().all(allowed) && !name.starts_with(|c: char| c.is_ascii_digit()) {
        Ok(())
    } else if service {
        Err(format!(
            "{name:?} is not a gRPC service name (letters, digits, _ and .)"
        ))
    } else {
        Err(format!(
            "{name:?} is not a gRPC method name (letters, digits and _)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_kube::objects::gateway_api::GrpcMethodMatch;

    fn method(kind: Option<&str>, service: Option<&str>, name: Option<&str>) -> GrpcRouteMatch {
        GrpcRouteMatch {
            method: Some(GrpcMethodMatch {
                match_type: kind.map(str::to_string),
                service: service.map(str::to_string),
                method: name.map(str::to_string),
            }),
            headers: Vec::new(),
        }
    }

    #[test]
    fn methods_become_paths_ranked_by_service_then_method() {
        let cases = [
            (
                method(None, Some("a.v1.Echo"), Some("Say")),
                "/a.v1.Echo/Say",
                PathKind::Exact,
                (9, 3),
            ),
            (
                method(Some("Exact"), Some("a.v1.Echo"), None),
                "/a.v1.Echo",
                PathKind::Prefix,
                (9, 0),
            ),
            (
                method(None, None, Some("Say")),
                "/[^/]+/Say$",
                PathKind::Regex {
                    case_insensitive: false,
                },
                (0, 3),
            ),
            (
                method(Some("RegularExpression"), Some("a\\..*"), None),
                "/(?:a\\..*)/(?:[^/]+)$",
                PathKind::Regex {
                    case_insensitive: false,
                },
                (5, 0),
            ),
            (GrpcRouteMatch::default(), "/", PathKind::Prefix, (0, 0)),
        ];
        for (one, path, kind, (service, name)) in cases {
            let parts = grpc_match(&one).expect("valid");
            assert_eq!(parts.path, path);
            assert_eq!(parts.kind, kind, "{path}");
            assert_eq!(
                parts.rank,
                PathRank::Grpc(Reverse(service), Reverse(name)),
                "{path}"
            );
        }
    }

    #[test]
    fn names_that_could_reach_other_paths_are_refused() {
        let refused = [
            (method(None, Some("a/b"), Some("Say")), "method.service"),
            (method(None, Some("a.Echo"), Some("../x")), "method.method"),
            (method(None, Some("a.Echo"), Some("Sa.y")), "method.method"),
            (method(None, None, None), "method"),
            (method(Some("Prefix"), Some("a"), None), "method.type"),
        ];
        for (one, field) in refused {
            let Err((at, _)) = grpc_match(&one) else {
                panic!("{one:?} accepted");
            };
            assert_eq!(at, field);
        }
    }
}
