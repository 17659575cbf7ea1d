//! What one HTTP/1.1 client connection saw of the proxy, and the report's one-line tally of
//! many. Pure.

use std::collections::BTreeMap;
use std::fmt::Write;

/// What one connection saw, from connecting until the load was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    /// The status of the answer it got, if any.
    pub answer: Option<u16>,
    /// How it ended.
    pub end: End,
    /// For a writer: whether the kernel took its whole head (what it could not write stayed
    /// in this process).
    pub wrote_all: Option<bool>,
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum End {
    /// Still open when the load was closed.
    Open,
    /// The proxy closed it (end of stream).
    Closed,
    /// Reset, or another error reading or writing.
    Reset,
    /// The connection was never made.
    Unconnected,
}

impl Seen {
    /// A connection that was never made.
    pub const UNCONNECTED: Seen = Seen {
        answer: None,
        end: End::Unconnected,
        wrote_all: None,
    };
}

/// The status code of an HTTP/1.x answer whose first bytes are `head`, once its status line
/// is complete.
pub fn status_of(head: &[u8]) -> Option<u16> {
    let line_end = head.windows(2).position(|pair| pair == b"\r\n")?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let mut words = line.split(' ');
    let version = words.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    words.next()?.parse().ok()
}

/// One line for the report, the commonest outcome first: "4,990 no answer, open; 10 closed
/// without an answer".
pub fn tally(seen: &[Seen]) -> String {
    let mut counts: BTreeMap<Seen, usize> = BTreeMap::new();
    for one in seen {
        *counts.entry(*one).or_default() += 1;
    }
    let mut counts: Vec<(Seen, usize)> = counts.into_iter().collect();
    counts.sort_by(|(a, n), (b, m)| m.cmp(n).then(a.cmp(b)));
    let mut line = String::new();
    for (i, (one, count)) in counts.iter().enumerate() {
        if i > 0 {
            line.push_str("; ");
        }
        let _ = write!(line, "{} {}", thousands(*count as u64), describe(one));
    }
    if line.is_empty() {
        line.push_str("no connections");
    }
    line
}

/// "answered 400, then closed", "no answer, open, whole head written".
fn describe(seen: &Seen) -> String {
    let answer = match seen.answer {
        Some(status) => format!("answered {status}"),
        None if seen.end == End::Unconnected => return "could not connect".into(),
        None => "no answer".into(),
    };
    let end = match seen.end {
        End::Open => "open",
        End::Closed => "then closed",
        End::Reset => "then reset",
        End::Unconnected => "unconnected",
    };
    let written = match seen.wrote_all {
        Some(true) => ", whole head written",
        Some(false) => ", head written in part",
        None => "",
    };
    format!("{answer}, {end}{written}")
}

/// `12345` as `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_is_read_once_its_line_is_complete() {
        assert_eq!(
            status_of(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            Some(431)
        );
        assert_eq!(
            status_of(b"HTTP/1.1 400 Bad Request\r\nServer: nginx"),
            Some(400)
        );
        assert_eq!(status_of(b"HTTP/1.0 408\r\n"), Some(408));
        assert_eq!(status_of(b"HTTP/1.1 200 O"), None, "line not complete");
        assert_eq!(status_of(b"SSH-2.0\r\n"), None);
    }

    #[test]
    fn outcomes_are_counted_commonest_first() {
        let open = Seen {
            answer: None,
            end: End::Open,
            wrote_all: Some(true),
        };
        let refused = Seen {
            answer: Some(400),
            end: End::Closed,
            wrote_all: Some(false),
        };
        let mut seen = vec![refused; 3];
        seen.extend([open; 1_500]);
        seen.push(Seen::UNCONNECTED);
        assert_eq!(
            tally(&seen),
            "1,500 no answer, open, whole head written; 3 answered 400, then closed, head \
             written in part; 1 could not connect"
        );
        assert_eq!(tally(&[]), "no connections");
        assert_eq!(thousands(5_000), "5,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
