//! A test CA that signs `kubernetes.io/tls` Secrets, and what `openssl s_client` sees served.

use std::process::Command;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A CA that signs the test Secrets; its PEM is what curl trusts.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, for clients to trust.
    pub pem: String,
}

/// A fresh test CA.
pub fn ca() -> TestCa {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Portcullis E2E CA");
    let pem = params.self_signed(&key).unwrap().pem();
    TestCa {
        issuer: Issuer::new(params, key),
        pem,
    }
}

impl TestCa {
    /// A `kubernetes.io/tls` Secret in namespace `store` for `host`, with CN `cn`.
    pub fn secret(&self, name: &str, host: &str, cn: &str) -> String {
        let key = KeyPair::generate().unwrap();
        self.secret_with_key(name, host, cn, &key, &key)
    }

    /// The same Secret as an API server returns it: JSON, with base64 `data` (an API server
    /// turns `stringData` into `data` on write).
    pub fn api_secret(&self, name: &str, host: &str, cn: &str) -> String {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("store".into()),
                ..Default::default()
            },
            type_: Some("kubernetes.io/tls".into()),
            data: Some(
                [
                    ("tls.crt".to_string(), ByteString(cert.pem().into_bytes())),
                    (
                        "tls.key".to_string(),
                        ByteString(key.serialize_pem().into_bytes()),
                    ),
                ]
                .into(),
            ),
            ..Default::default()
        };
        let mut json = serde_json::to_value(&secret).unwrap();
        json["apiVersion"] = "v1".into();
        json["kind"] = "Secret".into();
        json.to_string()
    }

    /// A certificate for `host` with CN `cn` and its key, as PEM (for a test's own TLS server).
    pub fn certificate(&self, host: &str, cn: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Like [`TestCa::secret`], signing the certificate for `key` but serving `served_key`.
    pub fn secret_with_key(
        &self,
        name: &str,
        host: &str,
        cn: &str,
        key: &KeyPair,
        served_key: &KeyPair,
    ) -> String {
        let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(key, &self.issuer).unwrap();
        let indent = |pem: &str| {
            pem.lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        };
        format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: store}}\ntype: kubernetes.io/tls\n\
             stringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
            indent(&cert.pem()),
            indent(&served_key.serialize_pem())
        )
    }
}

/// The subject line `openssl s_client` prints for the certificate served to `sni`.
pub fn served_subject(port: u16, sni: &str) -> String {
    let output = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            sni,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl installed");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find(|l| l.starts_with("subject="))
        .unwrap_or("")
        .to_string()
}
