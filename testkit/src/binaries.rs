//! Where cargo put this workspace's binaries, for tests that run them as users do.

use std::path::PathBuf;

/// The path of binary `name` in the target folder of the running test or bench (cargo builds
/// a package's binaries before its tests and benches: `target/<profile>/deps/<test>` runs, and
/// `target/<profile>/<name>` is the binary). Panics, naming the build command, if it is missing.
pub fn cargo_bin(name: &str) -> PathBuf {
    let running = std::env::current_exe().expect("the running test knows its own path");
    let mut dir = running
        .parent()
        .expect("a test binary lives in a folder")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the workspace's tests (cargo test --workspace), or build it \
         first (cargo build --bin {name})",
        path.display()
    );
    path
}
