//! The certificate store: which certificate answers which SNI name, swapped whole like the
//! routing table, read without a lock during every handshake.
//!
//! [`CertificateStore::compile`] turns a [`TlsSpec`] into ready rustls keys. A Secret whose
//! chain does not parse, whose key does not match, or whose certificate is expired or not yet
//! valid is reported and left out, so its hosts get the default certificate; every other host
//! keeps its own. Parsed certificates are cached by content, so a rebuild only parses what
//! changed.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use arc_swap::ArcSwap;
use foldhash::fast::RandomState;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use portcullis_route::host::{label_suffixes, normalize_host, wildcard_suffix};
use portcullis_route::spec::{CertificateSpec, HostMatch, TlsSpec};

/// SNI name → certificate, plus the default for everything else.
#[derive(Debug)]
pub struct CertificateStore {
    exact: HashMap<Box<str>, Arc<CertifiedKey>, RandomState>,
    wildcard: HashMap<Box<str>, Arc<CertifiedKey>, RandomState>,
    /// Gateway API wildcards (any number of labels), by suffix.
    suffix: HashMap<Box<str>, Arc<CertifiedKey>, RandomState>,
    default: Arc<CertifiedKey>,
    expiries: Vec<CertificateExpiry>,
}

/// When one Secret's certificate stops being valid, for the expiry metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateExpiry {
    /// `namespace/name` of the Secret.
    pub secret: String,
    /// The leaf certificate's notAfter, in Unix seconds.
    pub not_after: i64,
}

/// A Secret that cannot be served: the user's to fix; its hosts get the default certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Secret {secret}: {reason}; its hosts get the default certificate until it is fixed")]
pub struct CertificateProblem {
    /// `namespace/name` of the Secret.
    pub secret: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Parsed certificates by content, kept between rebuilds.
#[derive(Debug, Default)]
pub struct CertificateCache {
    entries: HashMap<u64, Result<Parsed, String>>,
}

/// A certificate that parsed and matches its key.
#[derive(Debug, Clone)]
struct Parsed {
    key: Arc<CertifiedKey>,
    not_before: i64,
    not_after: i64,
}

/// The store the TLS listener reads; the controller publishes new stores into it.
#[derive(Debug)]
pub struct LiveCertificates {
    current: ArcSwap<CertificateStore>,
}

impl CertificateStore {
    /// A store that answers every name with `default`.
    pub fn only(default: Arc<CertifiedKey>) -> Self {
        CertificateStore {
            exact: HashMap::default(),
            wildcard: HashMap::default(),
            suffix: HashMap::default(),
            default,
            expiries: Vec::new(),
        }
    }

    /// Parses and checks every certificate of `spec` (reusing `cache`), at time `now_unix`.
    /// `fallback` answers when the spec has no usable default certificate.
    pub fn compile(
        spec: &TlsSpec,
        fallback: &Arc<CertifiedKey>,
        now_unix: i64,
        cache: &mut CertificateCache,
    ) -> (CertificateStore, Vec<CertificateProblem>) {
        let mut problems = Vec::new();
        let mut used = HashMap::new();
        let mut expiries = Vec::new();
        let usable: Vec<Option<Arc<CertifiedKey>>> = spec
            .certificates
            .iter()
            .map(|certificate| {
                let fingerprint = fingerprint(certificate);
                let parsed = cache
                    .entries
                    .remove(&fingerprint)
                    .unwrap_or_else(|| parse(certificate));
                used.insert(fingerprint, parsed.clone());
                match parsed {
                    Ok(parsed) => {
                        expiries.push(CertificateExpiry {
                            secret: certificate.secret.clone(),
                            not_after: parsed.not_after,
                        });
                        match validity_problem(&parsed, now_unix) {
                            Some(reason) => {
                                problems.push(problem(certificate, reason));
                                None
                            }
                            None => Some(parsed.key),
                        }
                    }
                    Err(reason) => {
                        problems.push(problem(certificate, reason));
                        None
                    }
                }
            })
            .collect();
        cache.entries = used;

        let mut store = CertificateStore::only(
            spec.default_certificate
                .and_then(|index| usable.get(index).cloned().flatten())
                .unwrap_or_else(|| Arc::clone(fallback)),
        );
        store.expiries = expiries;
        for (host, index) in &spec.hosts {
            let Some(key) = usable.get(*index).cloned().flatten() else {
                continue;
            };
            match host {
                HostMatch::Exact(name) => {
                    store.exact.insert(name.as_str().into(), key);
                }
                HostMatch::Wildcard(suffix) => {
                    store.wildcard.insert(suffix.as_str().into(), key);
                }
                HostMatch::Suffix(suffix) => {
                    store.suffix.insert(suffix.as_str().into(), key);
                }
                HostMatch::Any => {}
            }
        }
        (store, problems)
    }

    /// The certificate for an SNI name: exact host, then `*.` wildcard, then the default.
    pub fn find(&self, server_name: Option<&str>) -> &Arc<CertifiedKey> {
        let Some(name) = server_name else {
            return &self.default;
        };
        let name = normalize_host(name);
        self.exact
            .get(name.as_ref())
            .or_else(|| wildcard_suffix(&name).and_then(|suffix| self.wildcard.get(suffix)))
            .or_else(|| self.longest_suffix(&name))
            .unwrap_or(&self.default)
    }

    /// The Gateway API wildcard certificate with the longest suffix of `name`, if any.
    fn longest_suffix(&self, name: &str) -> Option<&Arc<CertifiedKey>> {
        label_suffixes(name).find_map(|suffix| self.suffix.get(suffix))
    }

    /// Expiry of every Secret that parsed, expired ones included.
    pub fn expiries(&self) -> &[CertificateExpiry] {
        &self.expiries
    }
}

impl LiveCertificates {
    /// Starts with `initial`.
    pub fn new(initial: CertificateStore) -> Self {
        LiveCertificates {
            current: ArcSwap::from_pointee(initial),
        }
    }

    /// Replaces the store; handshakes already past certificate selection are unaffected.
    pub fn publish(&self, store: CertificateStore) {
        self.current.store(Arc::new(store));
    }

    /// The certificate for an SNI name in the current store.
    pub fn find(&self, server_name: Option<&str>) -> Arc<CertifiedKey> {
        Arc::clone(self.current.load().find(server_name))
    }
}

/// A self-signed certificate for names no Secret covers, generated at start, as ingress-nginx
/// serves its "Fake Certificate". Clients will (rightly) not trust it.
pub fn self_signed_default() -> Result<Arc<CertifiedKey>, String> {
    let failed = |e: rcgen::Error| format!("cannot generate the self-signed certificate: {e}");
    let signing_key = rcgen::KeyPair::generate().map_err(failed)?;
    let mut params =
        rcgen::CertificateParams::new(vec!["portcullis.invalid".to_string()]).map_err(failed)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Portcullis Default Certificate");
    let certificate = params.self_signed(&signing_key).map_err(failed)?;
    let chain = vec![certificate.der().clone()];
    let key = PrivateKeyDer::try_from(signing_key.serialize_der())
        .map_err(|e| format!("self-signed key: {e}"))?;
    CertifiedKey::from_der(chain, key, &rustls::crypto::ring::default_provider())
        .map(Arc::new)
        .map_err(|e| format!("self-signed certificate: {e}"))
}

fn problem(certificate: &CertificateSpec, reason: String) -> CertificateProblem {
    CertificateProblem {
        secret: certificate.secret.clone(),
        reason,
    }
}

fn validity_problem(parsed: &Parsed, now_unix: i64) -> Option<String> {
    if now_unix > parsed.not_after {
        Some(format!(
            "tls.crt expired at {}",
            unix_to_utc(parsed.not_after)
        ))
    } else if now_unix < parsed.not_before {
        Some(format!(
            "tls.crt is not valid before {}",
            unix_to_utc(parsed.not_before)
        ))
    } else {
        None
    }
}

/// Parses the chain and key, checks they match, and reads the leaf's validity.
fn parse(certificate: &CertificateSpec) -> Result<Parsed, String> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&certificate.chain_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("tls.crt is not valid PEM ({e})"))?;
    let Some(leaf) = chain.first() else {
        return Err("tls.crt holds no CERTIFICATE block".to_string());
    };
    let (_, x509) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| format!("tls.crt: the first certificate is not valid X.509 ({e})"))?;
    let validity = x509.validity();
    let (not_before, not_after) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    let key = PrivateKeyDer::from_pem_slice(&certificate.key_pem).map_err(|e| {
        format!("tls.key holds no PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key ({e})")
    })?;
    let key = CertifiedKey::from_der(chain, key, &rustls::crypto::ring::default_provider())
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                "tls.key does not match the certificate in tls.crt".to_string()
            }
            other => format!("tls.key cannot be used ({other})"),
        })?;
    Ok(Parsed {
        key: Arc::new(key),
        not_before,
        not_after,
    })
}

fn fingerprint(certificate: &CertificateSpec) -> u64 {
    let mut hasher = DefaultHasher::new();
    certificate.chain_pem.hash(&mut hasher);
    certificate.key_pem.hash(&mut hasher);
    hasher.finish()
}

/// `2026-11-24 10:00:00 UTC` from Unix seconds (proleptic Gregorian, no leap seconds).
fn unix_to_utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

impl portcullis_fault::Classified for CertificateProblem {
    /// The Secret's content is unusable (bad PEM, key mismatch, expired).
    fn fault(&self) -> portcullis_fault::Fault {
        portcullis_fault::Fault::User
    }

    /// The same Secret fails the same way.
    fn retryable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
