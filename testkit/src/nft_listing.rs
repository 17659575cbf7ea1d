//! Reading `nft list` output in tests: run nft inside a test namespace, and put listings in a
//! form that compares equal whatever order nft printed elements and blocks in.

use crate::netns::Netns;

/// `nft ARGS` inside the namespace; its output.
pub fn nft(ns: &Netns, args: &[&str]) -> String {
    ns.exec("nft", args)
}

/// nft's listing with each `elements = { ... }` (which nft may wrap over lines, in hash order
/// for maps) put on one line, sorted.
pub fn normalized(listing: &str) -> String {
    let mut out = String::new();
    let mut lines = listing.lines();
    while let Some(line) = lines.next() {
        let Some(start) = line.find("elements = { ") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let mut body = line[start + "elements = { ".len()..].to_string();
        while !body.trim_end().ends_with('}') {
            body.push(' ');
            body.push_str(lines.next().unwrap().trim());
        }
        let body = body.trim_end().trim_end_matches('}').trim();
        let mut elements: Vec<&str> = body
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        elements.sort();
        out.push_str(&line[..start]);
        out.push_str(&format!("elements = {{ {} }}\n", elements.join(", ")));
    }
    out
}

/// The table as its blocks (sets, maps, chains), normalized and sorted, blank lines dropped:
/// the kernel lists things in the order they were made, which differs between a table built
/// whole and one updated in place.
pub fn blocks(listing: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in normalized(listing).lines() {
        if line.trim().is_empty() || line.starts_with("table ") || line == "}" {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line == "\t}" {
            blocks.push(std::mem::take(&mut current));
        }
    }
    blocks.sort();
    blocks
}
