//! A `kubernetes.io/tls` Secret's `tls.crt` and `tls.key` →
//! `portcullis_proxy::certificates::CertificateStore::compile`, the public entry point of the
//! proxy's PEM/X.509/key parsing (its `parse` is private). The input is both files in one:
//!
//! - PEM text: split at the first NUL byte when there is one (crt, then key), else the whole
//!   input serves as both, as a Secret whose two keys hold the same bundle;
//! - DER (the input starts with a SEQUENCE, `0x30`): the first element is the certificate, the
//!   rest the PKCS#8 key, each wrapped in PEM here. Mutating base64 rarely yields DER worth
//!   parsing, so this is how the fuzzer reaches the X.509 and key parsers' depths.
//!
//! Checks: no panic; a certificate either serves its host or is reported as a problem naming
//! its Secret; a warm cache answers as a cold one does.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::debug;
use portcullis_proxy::certificates::{CertificateCache, CertificateStore, self_signed_default};
use portcullis_route::spec::{CertificateSpec, HostMatch, TlsSpec};
use rustls::sign::CertifiedKey;

/// Times the certificates are checked at: inside the seeds' validity (2030-01-01), and the
/// extremes, where the expiry message formats a far-off date.
const TIMES: [i64; 3] = [1_893_456_000, i64::MIN, i64::MAX];

const SECRET: &str = "shop/web-tls";
const HOST: &str = "shop.example";

fuzz_target!(|data: &[u8]| {
    let (chain_pem, key_pem) = split(data);
    let spec = TlsSpec {
        certificates: vec![CertificateSpec {
            secret: SECRET.to_string(),
            chain_pem,
            key_pem,
        }],
        hosts: vec![
            (HostMatch::Exact(HOST.to_string()), 0),
            (HostMatch::Wildcard("example".to_string()), 0),
        ],
        default_certificate: Some(0),
    };
    let mut cache = CertificateCache::default();
    for now in TIMES {
        let (store, problems) = CertificateStore::compile(&spec, fallback(), now, &mut cache);
        debug(|| format!("at {now}: {problems:?} {:?}", store.expiries()));
        let (_, cold) = CertificateStore::compile(&spec, fallback(), now, &mut Default::default());
        assert_eq!(problems, cold, "a warm cache answers differently");
        assert!(
            problems.len() <= 1,
            "one certificate, {} problems",
            problems.len()
        );
        for problem in &problems {
            assert_eq!(problem.secret, SECRET);
            let _ = problem.to_string();
        }
        let served = store.find(Some(HOST));
        let fell_back = Arc::ptr_eq(served, fallback());
        assert_eq!(
            fell_back,
            !problems.is_empty(),
            "served the fallback: {fell_back}, problems: {problems:?}"
        );
        assert!(
            Arc::ptr_eq(served, store.find(None)),
            "default differs from the host's"
        );
        assert!(
            Arc::ptr_eq(served, store.find(Some("www.example"))),
            "wildcard"
        );
        // Expiries are those of the certificates that parsed, expired ones included.
        assert!(store.expiries().len() <= 1);
        if problems.is_empty() {
            assert_eq!(
                store.expiries().len(),
                1,
                "a served certificate without its expiry"
            );
            assert!(
                store.expiries()[0].not_after >= now,
                "served an expired certificate"
            );
        }
    }
});

fn fallback() -> &'static Arc<CertifiedKey> {
    static FALLBACK: OnceLock<Arc<CertifiedKey>> = OnceLock::new();
    FALLBACK.get_or_init(|| self_signed_default().expect("generates a certificate"))
}

/// `tls.crt` and `tls.key` from the fuzz input (see the module documentation).
fn split(data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    if data.first() == Some(&0x30) {
        let end = der_element_len(data).unwrap_or(data.len()).min(data.len());
        let (certificate, key) = data.split_at(end);
        return (pem("CERTIFICATE", certificate), pem("PRIVATE KEY", key));
    }
    match data.iter().position(|b| *b == 0) {
        Some(at) => (data[..at].to_vec(), data[at + 1..].to_vec()),
        None => (data.to_vec(), data.to_vec()),
    }
}

/// The length of the DER element at the start of `der`, header included.
fn der_element_len(der: &[u8]) -> Option<usize> {
    let first = usize::from(*der.get(1)?);
    if first < 0x80 {
        return Some(2 + first);
    }
    let octets = first & 0x7f;
    if octets == 0 || octets > 3 {
        return None;
    }
    let length = der
        .get(2..2 + octets)?
        .iter()
        .fold(0usize, |n, b| n << 8 | usize::from(*b));
    Some(2 + octets + length)
}

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = format!("-----BEGIN {label}-----\n").into_bytes();
    for (i, chunk) in der.chunks(3).enumerate() {
        if i > 0 && i % 16 == 0 {
            text.push(b'\n');
        }
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (j, b)| n | u32::from(*b) << (16 - 8 * j));
        for k in 0..4 {
            text.push(if k <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * k) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    text.extend_from_slice(format!("\n-----END {label}-----\n").as_bytes());
    text
}
