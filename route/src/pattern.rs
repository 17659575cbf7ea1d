//! Regular expressions from configuration, compiled with bounds: the regex crate never
//! backtracks (matching is linear in the input), and these limits keep one hostile pattern from
//! taking much memory when the table is built.

use regex::{Regex, RegexBuilder};

/// Most memory one compiled pattern may take (its program), in bytes.
pub const SIZE_LIMIT: usize = 256 * 1024;
/// Most memory the lazy DFA of one pattern may take while matching, in bytes.
pub const DFA_SIZE_LIMIT: usize = 512 * 1024;
/// Deepest nesting of groups and repetitions allowed.
pub const NEST_LIMIT: u32 = 64;

/// Where a pattern must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchoring {
    /// From the start of the input; the rest may follow (ingress-nginx regex paths).
    Start,
    /// The whole input (header, query and cookie values).
    Whole,
}

/// Compiles `pattern` with the limits above. The error text says what is wrong with it.
pub fn compile(
    pattern: &str,
    anchoring: Anchoring,
    case_insensitive: bool,
) -> Result<Regex, regex::Error> {
    let anchored = match anchoring {
        Anchoring::Start => format!("^(?:{pattern})"),
        Anchoring::Whole => format!("^(?:{pattern})$"),
    };
    RegexBuilder::new(&anchored)
        .case_insensitive(case_insensitive)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .nest_limit(NEST_LIMIT)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchoring_and_case() {
        let start = compile("/api(/|$)(.*)", Anchoring::Start, true).expect("valid");
        assert!(start.is_match("/API/x"));
        assert!(!start.is_match("/x/api/"));
        let whole = compile("v[0-9]", Anchoring::Whole, false).expect("valid");
        assert!(whole.is_match("v1"));
        assert!(!whole.is_match("v12"));
        assert!(!whole.is_match("V1"));
    }

    #[test]
    fn oversized_and_unsupported_patterns_are_refused() {
        assert!(compile("(a{1000}){1000}", Anchoring::Whole, false).is_err());
        // Look-around and back-references (PCRE features nginx has) do not exist here.
        assert!(compile("(?=x)", Anchoring::Whole, false).is_err());
        assert!(compile("(a)\\1", Anchoring::Whole, false).is_err());
        assert!(compile(&"(".repeat(100), Anchoring::Whole, false).is_err());
    }
}
