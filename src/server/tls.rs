//! HTTPS and WSS: a certificate from files, or one made at start for trying Tandem
//! across a LAN (browsers grant camera access only to https:// pages, or to localhost).

use super::config::{ConfigError, Tls};
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// A ready TLS setup, and what to tell the person starting the server.
pub struct TlsSetup {
    pub rustls: RustlsConfig,
    /// For a generated certificate: the names it covers and its SHA-256 fingerprint, so
    /// the person can check what their browser warns about.
    pub self_signed: Option<(Vec<String>, String)>,
}

/// Loads or makes the certificate.
pub fn setup(tls: &Tls) -> Result<TlsSetup, ConfigError> {
    match tls {
        Tls::Files { cert, key } => {
            let chain = read_certs(cert)?;
            let key = read_key(key)?;
            Ok(TlsSetup {
                rustls: server_config(chain, key, "tls_cert")?,
                self_signed: None,
            })
        }
        Tls::SelfSigned { hosts } => {
            let hosts: Vec<String> = hosts
                .iter()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect();
            let made = rcgen::generate_simple_self_signed(hosts.clone()).map_err(|e| {
                ConfigError::invalid("self_signed", format!("cannot make a certificate: {e}"))
            })?;
            let cert = made.cert.der().clone();
            let fingerprint = fingerprint(&cert);
            let key =
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
            Ok(TlsSetup {
                rustls: server_config(vec![cert], key, "self_signed")?,
                self_signed: Some((hosts, fingerprint)),
            })
        }
    }
}

/// SHA-256 of a certificate, as browsers show it (`AB:CD:…`).
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn read(path: &Path, setting: &'static str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::invalid(setting, format!("cannot read {}: {e}", path.display())))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let pem = read(path, "tls_cert")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::invalid("tls_cert", format!("{}: {e}", path.display())))?;
    if chain.is_empty() {
        return Err(ConfigError::invalid(
            "tls_cert",
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let pem = read(path, "tls_key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        ConfigError::invalid(
            "tls_key",
            format!("{}: no usable private key ({e})", path.display()),
        )
    })
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    setting: &'static str,
) -> Result<RustlsConfig, ConfigError> {
    // The provider is passed in rather than installed process-wide.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::invalid(setting, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            ConfigError::invalid(
                setting,
                format!("certificate and key do not work together: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn self_signed_covers_names_and_addresses() {
        let setup = setup(&Tls::SelfSigned {
            hosts: vec!["localhost".into(), " 192.168.1.20".into()],
        })
        .unwrap();
        let (hosts, fingerprint) = setup.self_signed.unwrap();
        assert_eq!(hosts, ["localhost", "192.168.1.20"]);
        assert_eq!(fingerprint.len(), 32 * 3 - 1);
    }

    #[test]
    fn unreadable_or_mismatched_files_name_the_setting() {
        let dir = std::env::temp_dir().join(format!("tandem-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let one = rcgen::generate_simple_self_signed(vec!["a".into()]).unwrap();
        let two = rcgen::generate_simple_self_signed(vec!["b".into()]).unwrap();
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let cert = write("cert.pem", one.cert.pem());
        let key = write("key.pem", one.signing_key.serialize_pem());
        let other_key = write("other.pem", two.signing_key.serialize_pem());
        let garbage = write("garbage.pem", "not pem".into());
        assert!(setup(&Tls::Files {
            cert: cert.clone(),
            key: key.clone()
        })
        .is_ok());
        for (cert, key, setting) in [
            (PathBuf::from("/nonexistent.pem"), key.clone(), "tls_cert"),
            (cert.clone(), PathBuf::from("/nonexistent.pem"), "tls_key"),
            (garbage.clone(), key.clone(), "tls_cert"),
            (cert.clone(), garbage.clone(), "tls_key"),
            (cert.clone(), other_key, "tls_cert"),
        ] {
            match setup(&Tls::Files { cert, key }) {
                Err(ConfigError::Invalid { setting: s, .. }) => assert_eq!(s, setting),
                Err(other) => panic!("{other}"),
                Ok(_) => panic!("accepted a bad {setting}"),
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
