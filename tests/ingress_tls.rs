//! HTTPS through the real binary, checked with the tools users use: `curl --resolve` and
//! `openssl s_client -servername`. Certificates come from a test CA written to disk.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portcullis_testkit::ingress_process::{
    Portcullis, backend, free_port, slice, wait_until, write_atomically,
};
use portcullis_testkit::test_ca::{ca, served_subject};
use rcgen::KeyPair;

/// Two TLS hosts (shop.test, api.test) on the demo Ingress, each with its Secret.
fn store_with_tls(wear: std::net::SocketAddr) -> String {
    format!(
        "{}\n---\n{}{}",
        portcullis_testkit::ingress_process::STORE
            .replace("  rules:\n  - http:", "  tls:\n  - {hosts: [shop.test], secretName: shop-tls}\n  - {hosts: [api.test], secretName: api-tls}\n  rules:\n  - host: shop.test\n    http:")
            .replace("      - {path: /watch", "  - host: api.test\n    http:\n      paths:\n      - {path: /watch"),
        slice("wear", &[wear]),
        slice("watch", &[wear])
    )
}

fn curl(args: &[&str]) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl installed");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn start(dir: &Path) -> (Portcullis, u16) {
    let https = free_port();
    let proxy = Portcullis::start(dir, &["--https-addr", &https.to_string()]).await;
    (proxy, https.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_each_host_its_certificate_h2_and_redirects_plain_http() {
    let wear = backend("wear").await;
    let ca = ca();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca.pem).unwrap();
    std::fs::write(dir.path().join("store.yaml"), store_with_tls(wear.addr)).unwrap();
    std::fs::write(
        dir.path().join("secrets.yaml"),
        ca.secret("shop-tls", "shop.test", "shop cert")
            + &ca.secret("api-tls", "api.test", "api cert"),
    )
    .unwrap();
    let (proxy, port) = start(dir.path()).await;
    let cacert = dir.path().join("ca.pem");
    let cacert = cacert.to_str().unwrap();

    let resolve = format!("shop.test:{port}:127.0.0.1");
    let url = format!("https://shop.test:{port}/wear/x");
    let (out, err) = curl(&[
        "--resolve",
        &resolve,
        "--cacert",
        cacert,
        "-w",
        " %{http_code} %{http_version}",
        &url,
    ]);
    assert!(
        out.starts_with("wear /wear/x") && out.ends_with(" 200 2"),
        "h2: {out} {err}"
    );
    let (out, err) = curl(&[
        "--http1.1",
        "--resolve",
        &resolve,
        "--cacert",
        cacert,
        "-w",
        " %{http_code} %{http_version}",
        &url,
    ]);
    assert!(out.ends_with(" 200 1.1"), "http/1.1: {out} {err}");

    assert!(served_subject(port, "shop.test").contains("shop cert"));
    assert!(served_subject(port, "api.test").contains("api cert"));
    assert!(served_subject(port, "unknown.test").contains("Portcullis Default Certificate"));

    let (out, err) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        "-H",
        "Host: shop.test",
        &format!("http://{}/wear/x?y=1", proxy.http),
    ]);
    assert_eq!(out, "308 https://shop.test/wear/x?y=1", "{err}");

    let metrics = curl(&[&format!("http://{}/metrics", proxy.admin)]).0;
    assert!(
        metrics.contains("portcullis_certificate_expiry_seconds{secret=\"store/shop-tls\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_tls_handshakes_total"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_secret_falls_back_to_the_default_and_is_logged_while_others_keep_theirs() {
    let wear = backend("wear").await;
    let ca = ca();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("store.yaml"), store_with_tls(wear.addr)).unwrap();
    let (real, other) = (KeyPair::generate().unwrap(), KeyPair::generate().unwrap());
    std::fs::write(
        dir.path().join("secrets.yaml"),
        ca.secret("shop-tls", "shop.test", "shop cert")
            + &ca.secret_with_key("api-tls", "api.test", "api cert", &real, &other),
    )
    .unwrap();
    let (proxy, port) = start(dir.path()).await;
    let line = proxy
        .log_line("Secret store/api-tls", Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("no log line; log:\n{}", proxy.log()));
    assert!(
        line.contains("tls.key does not match the certificate"),
        "{line}"
    );
    assert!(served_subject(port, "api.test").contains("Portcullis Default Certificate"));
    assert!(
        served_subject(port, "shop.test").contains("shop cert"),
        "the good host lost its certificate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_is_served_within_a_second_and_no_request_fails() {
    let wear = backend("wear").await;
    let ca = ca();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca.pem).unwrap();
    std::fs::write(dir.path().join("store.yaml"), store_with_tls(wear.addr)).unwrap();
    let secrets = dir.path().join("secrets.yaml");
    std::fs::write(
        &secrets,
        ca.secret("shop-tls", "shop.test", "version one")
            + &ca.secret("api-tls", "api.test", "api cert"),
    )
    .unwrap();
    let (_proxy, port) = start(dir.path()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let cacert = dir.path().join("ca.pem").to_str().unwrap().to_string();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let (out, _) = curl(&[
                    "--resolve",
                    &format!("shop.test:{port}:127.0.0.1"),
                    "--cacert",
                    &cacert,
                    "-w",
                    " %{http_code}",
                    &format!("https://shop.test:{port}/wear"),
                ]);
                if out.ends_with(" 200") {
                    ok.fetch_add(1, Ordering::Relaxed)
                } else {
                    failed.fetch_add(1, Ordering::Relaxed)
                };
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rotated = Instant::now();
    write_atomically(
        &secrets,
        &(ca.secret("shop-tls", "shop.test", "version two")
            + &ca.secret("api-tls", "api.test", "api cert")),
    );
    let live = wait_until(Duration::from_secs(1), || async {
        served_subject(port, "shop.test").contains("version two")
    })
    .await;
    let elapsed = rotated.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert!(live, "the new certificate was not served within a second");
    eprintln!("rotated certificate served after {elapsed:?}");
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(ok >= 10, "load barely ran: {ok}");
    assert_eq!(
        failed, 0,
        "{failed} HTTPS requests failed during rotation ({ok} ok)"
    );
}
