//! The binaries the image ships (`portcullis`, `portcullis-cni`) must run on
//! `gcr.io/distroless/cc`, which has glibc and libgcc and nothing else: each may link only
//! those libraries. A C dependency (as libnftnl and libmnl once were) fails this test instead of
//! failing in a cluster.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use std::process::Command;

use portcullis_testkit::binaries::cargo_bin;

/// glibc's own libraries, libgcc's unwinder, and the kernel's vDSO: what distroless/cc provides.
const PROVIDED: [&str; 9] = [
    "linux-vdso.so.1",
    "ld-linux-x86-64.so.2",
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libgcc_s.so.1",
];

/// The libraries `ldd` says a binary needs, by file name.
fn linked(binary: &str) -> Vec<String> {
    let path = cargo_bin(binary);
    let output = Command::new("ldd").arg(&path).output().expect("run ldd");
    assert!(
        output.status.success(),
        "ldd {}: {output:?}",
        path.display()
    );
    let text = String::from_utf8(output.stdout).unwrap();
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(|library| library.rsplit('/').next().unwrap_or(library).to_string())
        .collect()
}

#[test]
fn shipped_binaries_link_only_what_distroless_cc_provides() {
    for binary in ["portcullis", "portcullis-cni"] {
        let libraries = linked(binary);
        assert!(
            libraries.iter().any(|l| l == "libc.so.6"),
            "{binary}: {libraries:?}"
        );
        let extra: Vec<&String> = libraries
            .iter()
            .filter(|library| !PROVIDED.contains(&library.as_str()))
            .collect();
        assert!(
            extra.is_empty(),
            "{binary} links {extra:?}, which the distroless/cc image does not have"
        );
    }
}

#[test]
fn the_check_sees_a_library_outside_the_image() {
    // curl links libcurl: the same reading must name it, or the test above proves nothing.
    let output = Command::new("ldd")
        .arg(which("curl"))
        .output()
        .expect("run ldd");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("libcurl"), "{text}");
}

fn which(program: &str) -> String {
    let output = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .expect("run sh");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}
