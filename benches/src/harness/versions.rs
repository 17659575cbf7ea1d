//! What the report says the run was made with: every peer's and load generator's version,
//! the commit measured, the machine.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::harness::kit::Kit;
use crate::harness::peers::PEERS;
use crate::harness::tools::LOAD_GENERATORS;

/// What → version line, for each peer and load generator found (direct has none).
pub fn versions(kit: &Kit) -> BTreeMap<String, String> {
    let load_generators = LOAD_GENERATORS.iter().filter_map(|tool| {
        let path = kit.tools.get(tool.command)?;
        Some((tool.command.to_string(), tool.version(path)))
    });
    PEERS
        .iter()
        .filter_map(|peer| peer.version(kit))
        .chain(load_generators)
        .collect()
}

/// The workspace's commit, and whether it has uncommitted changes.
pub fn commit(root: &Path) -> String {
    let commit = git(root, &["rev-parse", "--short", "HEAD"]);
    let dirty = !git(root, &["status", "--porcelain"]).is_empty();
    format!(
        "{commit}{}",
        if dirty { " (uncommitted changes)" } else { "" }
    )
}

/// The last commit that changed any of `paths` (folders of the workspace), short.
pub fn last_change(root: &Path, paths: &[&str]) -> String {
    let mut args = vec!["log", "-1", "--format=%h", "--"];
    args.extend_from_slice(paths);
    git(root, &args)
}

/// What `git args` prints in `root` (empty if it cannot run).
fn git(root: &Path, args: &[&str]) -> String {
    Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

/// CPU model, cores, kernel, date.
pub fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{date}, {cores} cores ({cpu}), Linux {}", kernel.trim())
}
