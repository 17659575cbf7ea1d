use std::process::Command;

use rcgen::{CertificateParams, KeyPair, date_time_ymd};

use super::*;

const NOW: i64 = 1_790_000_000; // 2026-09-21

/// A certificate for `names` valid 2025..2030, as PEM (chain, PKCS#8 key).
fn certificate(names: &[&str]) -> (Vec<u8>, Vec<u8>) {
    certificate_valid(names, (2025, 1, 1), (2030, 1, 1))
}

fn certificate_valid(
    names: &[&str],
    from: (i32, u8, u8),
    until: (i32, u8, u8),
) -> (Vec<u8>, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.not_before = date_time_ymd(from.0, from.1, from.2);
    params.not_after = date_time_ymd(until.0, until.1, until.2);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem().into_bytes(), key.serialize_pem().into_bytes())
}

fn spec(secret: &str, (chain_pem, key_pem): (Vec<u8>, Vec<u8>)) -> CertificateSpec {
    CertificateSpec {
        secret: secret.into(),
        chain_pem,
        key_pem,
    }
}

fn fallback() -> Arc<CertifiedKey> {
    self_signed_default().unwrap()
}

fn leaf(key: &CertifiedKey) -> Vec<u8> {
    key.cert[0].to_vec()
}

#[test]
fn sni_picks_exact_then_wildcard_then_default() {
    let tls = TlsSpec {
        certificates: vec![
            spec("shop/exact", certificate(&["shop.test"])),
            spec("shop/wild", certificate(&["*.shop.test"])),
            spec("shop/default", certificate(&["default.test"])),
        ],
        hosts: vec![
            (HostMatch::Exact("shop.test".into()), 0),
            (HostMatch::Exact("api.shop.test".into()), 0),
            (HostMatch::Wildcard("shop.test".into()), 1),
        ],
        default_certificate: Some(2),
    };
    let (store, problems) =
        CertificateStore::compile(&tls, &fallback(), NOW, &mut CertificateCache::default());
    assert!(problems.is_empty(), "{problems:?}");
    let cert = |name: Option<&str>| leaf(store.find(name));
    let (exact, wild, default) = (
        cert(Some("shop.test")),
        cert(Some("x.shop.test")),
        cert(None),
    );
    assert_ne!(exact, wild);
    assert_eq!(cert(Some("SHOP.test")), exact, "SNI is case-insensitive");
    assert_eq!(cert(Some("api.shop.test")), exact, "exact beats wildcard");
    assert_eq!(
        cert(Some("a.b.shop.test")),
        default,
        "wildcard covers one label only"
    );
    assert_eq!(cert(Some("unknown.test")), default);
    assert_eq!(store.expiries().len(), 3);
}

#[test]
fn broken_secrets_fall_back_and_say_why_while_others_keep_theirs() {
    let good = certificate(&["good.test"]);
    let other = certificate(&["other.test"]);
    let cases: Vec<(&str, CertificateSpec, &str)> = vec![
        (
            "mismatch",
            spec("ns/mismatch", (good.0.clone(), other.1.clone())),
            "does not match",
        ),
        (
            "garbled chain",
            spec(
                "ns/garbled",
                (
                    b"-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n"
                        .to_vec(),
                    good.1.clone(),
                ),
            ),
            "tls.crt",
        ),
        (
            "no certificate",
            spec("ns/empty", (b"hello".to_vec(), good.1.clone())),
            "no CERTIFICATE block",
        ),
        (
            "no key",
            spec(
                "ns/nokey",
                (good.0.clone(), b"-----BEGIN CERTIFICATE-----\n".to_vec()),
            ),
            "tls.key holds no",
        ),
        (
            "expired",
            spec(
                "ns/expired",
                certificate_valid(&["old.test"], (2020, 1, 1), (2021, 1, 1)),
            ),
            "expired at 2021-01-01 00:00:00 UTC",
        ),
        (
            "not yet valid",
            spec(
                "ns/future",
                certificate_valid(&["new.test"], (2030, 1, 1), (2031, 1, 1)),
            ),
            "not valid before 2030-01-01",
        ),
    ];
    for (case, broken, needle) in cases {
        let tls = TlsSpec {
            certificates: vec![spec("ns/good", good.clone()), broken],
            hosts: vec![
                (HostMatch::Exact("good.test".into()), 0),
                (HostMatch::Exact("broken.test".into()), 1),
            ],
            default_certificate: None,
        };
        let fallback = fallback();
        let (store, problems) =
            CertificateStore::compile(&tls, &fallback, NOW, &mut CertificateCache::default());
        assert_eq!(problems.len(), 1, "{case}: {problems:?}");
        let message = problems[0].to_string();
        assert!(message.contains(needle), "{case}: {message}");
        assert!(message.starts_with("Secret ns/"), "{case}: {message}");
        assert!(
            Arc::ptr_eq(store.find(Some("broken.test")), &fallback),
            "{case}: not the default"
        );
        assert!(
            !Arc::ptr_eq(store.find(Some("good.test")), &fallback),
            "{case}: good host lost its certificate"
        );
    }
}

#[test]
fn expired_certificates_still_report_their_expiry() {
    let tls = TlsSpec {
        certificates: vec![spec(
            "ns/expired",
            certificate_valid(&["old.test"], (2020, 1, 1), (2021, 1, 1)),
        )],
        hosts: vec![(HostMatch::Exact("old.test".into()), 0)],
        default_certificate: None,
    };
    let (store, _) =
        CertificateStore::compile(&tls, &fallback(), NOW, &mut CertificateCache::default());
    assert_eq!(
        store.expiries()[0].not_after,
        1_609_459_200,
        "2021-01-01T00:00:00Z"
    );
}

#[test]
fn unchanged_certificates_are_not_parsed_again() {
    let tls = TlsSpec {
        certificates: vec![spec("ns/a", certificate(&["a.test"]))],
        hosts: vec![(HostMatch::Exact("a.test".into()), 0)],
        default_certificate: None,
    };
    let mut cache = CertificateCache::default();
    let fallback = fallback();
    let (first, _) = CertificateStore::compile(&tls, &fallback, NOW, &mut cache);
    let (second, _) = CertificateStore::compile(&tls, &fallback, NOW, &mut cache);
    assert!(Arc::ptr_eq(
        first.find(Some("a.test")),
        second.find(Some("a.test"))
    ));
    let (_, _) = CertificateStore::compile(&TlsSpec::default(), &fallback, NOW, &mut cache);
    assert!(cache.entries.is_empty(), "unused entries are dropped");
}

/// PKCS#1 RSA and SEC1 EC keys, as `openssl` writes them, are accepted.
#[test]
fn pkcs1_rsa_and_sec1_ec_keys_load() {
    let dir = tempfile_dir();
    let run = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("openssl installed");
        assert!(
            status.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "rsa8.pem",
        "-out",
        "rsa.crt",
        "-days",
        "30",
        "-subj",
        "/CN=rsa.test",
    ]);
    run(&["rsa", "-in", "rsa8.pem", "-traditional", "-out", "rsa1.pem"]);
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "ec1.pem",
    ]);
    run(&[
        "req",
        "-x509",
        "-key",
        "ec1.pem",
        "-out",
        "ec.crt",
        "-days",
        "30",
        "-subj",
        "/CN=ec.test",
    ]);
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    assert!(String::from_utf8_lossy(&read("rsa1.pem")).contains("BEGIN RSA PRIVATE KEY"));
    assert!(String::from_utf8_lossy(&read("ec1.pem")).contains("BEGIN EC PRIVATE KEY"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (secret, chain, key) in [
        ("ns/rsa-pkcs1", "rsa.crt", "rsa1.pem"),
        ("ns/rsa-pkcs8", "rsa.crt", "rsa8.pem"),
        ("ns/ec-sec1", "ec.crt", "ec1.pem"),
    ] {
        let tls = TlsSpec {
            certificates: vec![spec(secret, (read(chain), read(key)))],
            hosts: vec![(HostMatch::Exact("x.test".into()), 0)],
            default_certificate: None,
        };
        let (_, problems) =
            CertificateStore::compile(&tls, &fallback(), now, &mut CertificateCache::default());
        assert!(problems.is_empty(), "{secret}: {problems:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "portcullis-certs-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn unix_seconds_render_as_utc() {
    assert_eq!(unix_to_utc(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(unix_to_utc(1_609_459_200), "2021-01-01 00:00:00 UTC");
    assert_eq!(unix_to_utc(1_709_208_000), "2024-02-29 12:00:00 UTC");
}
