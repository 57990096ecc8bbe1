//! Server and client configuration: PEM loading, SNI certificate selection,
//! trusted roots, ALPN and the handshake timeout.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{InconsistentKeys, RootCertStore};

use super::{TlsError, TlsPump};

/// Default time allowed for a TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The ALPN protocol name for HTTP/1.1, offered by default.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider used by every configuration built here: the process
/// default if one was installed, otherwise ring.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    match CryptoProvider::get_default() {
        Some(p) => Arc::clone(p),
        None => Arc::new(rustls::crypto::ring::default_provider()),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::ReadFile {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses every `CERTIFICATE` section of `pem` (other sections are skipped).
///
/// Errors: [`TlsError::Pem`] for malformed input, [`TlsError::NoCertificate`]
/// when there is no certificate at all.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut out = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem) {
        out.push(item.map_err(|source| TlsError::Pem {
            what: "certificate",
            source,
        })?);
    }
    if out.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(out)
}

/// Parses the first private key (PKCS#8, PKCS#1 or SEC1) of `pem`.
///
/// Errors: [`TlsError::Pem`] for malformed input, [`TlsError::NoPrivateKey`]
/// when there is no key.
pub fn private_key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|source| match source {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey,
        source => TlsError::Pem {
            what: "private key",
            source,
        },
    })
}

/// A certificate chain with its private key, checked to belong together.
#[derive(Clone, Debug)]
pub struct Identity {
    key: Arc<CertifiedKey>,
}

impl Identity {
    /// Loads a chain (end-entity certificate first, then intermediates) and
    /// its private key from PEM bytes.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Identity, TlsError> {
        let chain = certificates_from_pem(cert_chain_pem)?;
        let key = private_key_from_pem(key_pem)?;
        Identity::from_der(chain, key)
    }

    /// Loads a chain and its private key from PEM files.
    pub fn from_pem_files(
        cert_chain_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<Identity, TlsError> {
        let chain = read_file(cert_chain_path.as_ref())?;
        let key = read_file(key_path.as_ref())?;
        Identity::from_pem(&chain, &key)
    }

    /// Builds from DER values. The key is loaded with [`crypto_provider`] and
    /// compared with the end-entity certificate's public key.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Identity, TlsError> {
        if chain.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        let signing_key = crypto_provider()
            .key_provider
            .load_private_key(key)
            .map_err(TlsError::BadPrivateKey)?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
                return Err(TlsError::KeyMismatch)
            }
            Err(e) => return Err(TlsError::BadCertificate(e)),
        }
        Ok(Identity {
            key: Arc::new(certified),
        })
    }

    /// The certificate chain, end-entity certificate first.
    pub fn certificate_chain(&self) -> &[CertificateDer<'static>] {
        &self.key.cert
    }

    /// The rustls form, for use with a hand-built rustls configuration.
    pub fn certified_key(&self) -> &Arc<CertifiedKey> {
        &self.key
    }
}

/// Normalises a configured or received host name: ASCII lower case, no
/// trailing dot.
fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

fn valid_dns_name(name: &str) -> bool {
    matches!(ServerName::try_from(name), Ok(ServerName::DnsName(_)))
}

/// Picks the server certificate from the SNI host name of the ClientHello.
///
/// Lookup order: the exact host name, then a wildcard `*.rest` whose `rest`
/// is the host name minus its first label (a wildcard covers exactly one
/// label, as in RFC 6125), then the default. The default serves clients that
/// send no SNI (for example clients that connect by IP address) and names
/// that match nothing; without a default those handshakes fail.
#[derive(Clone, Debug, Default)]
pub struct CertResolver {
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl CertResolver {
    /// An empty resolver.
    pub fn new() -> CertResolver {
        CertResolver::default()
    }

    /// Serves `identity` to clients asking for `name`: a DNS host name
    /// (`a.example.com`) or a wildcard (`*.example.com`). Names are
    /// case-insensitive; a later entry for the same name replaces the earlier.
    pub fn add(&mut self, name: &str, identity: &Identity) -> Result<(), TlsError> {
        let norm = normalize(name);
        let key = Arc::clone(&identity.key);
        if let Some(rest) = norm.strip_prefix("*.") {
            if rest.contains('*') || !rest.contains('.') || !valid_dns_name(rest) {
                return Err(TlsError::InvalidHostName(name.to_owned()));
            }
            self.wildcard.insert(rest.to_owned(), key);
        } else {
            if norm.contains('*') || !valid_dns_name(&norm) {
                return Err(TlsError::InvalidHostName(name.to_owned()));
            }
            self.exact.insert(norm, key);
        }
        Ok(())
    }

    /// Serves `identity` to clients without SNI or with an unknown name.
    pub fn set_default(&mut self, identity: &Identity) {
        self.default = Some(Arc::clone(&identity.key));
    }

    /// True when no certificate at all is configured.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.wildcard.is_empty() && self.default.is_none()
    }

    /// The certificate served for an SNI host name (`None`: no SNI).
    pub fn lookup(&self, server_name: Option<&str>) -> Option<&Arc<CertifiedKey>> {
        if let Some(name) = server_name {
            let name = normalize(name);
            if let Some(k) = self.exact.get(&name) {
                return Some(k);
            }
            if let Some((_, rest)) = name.split_once('.') {
                if let Some(k) = self.wildcard.get(rest) {
                    return Some(k);
                }
            }
        }
        self.default.as_ref()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.lookup(client_hello.server_name()).cloned()
    }
}

/// Server-side TLS settings shared by every adapter: the rustls
/// configuration plus the handshake timeout that drivers enforce.
#[derive(Clone, Debug)]
pub struct ServerTlsConfig {
    config: Arc<rustls::ServerConfig>,
    handshake_timeout: Duration,
}

impl ServerTlsConfig {
    /// Starts a builder (ALPN `["http/1.1"]`, handshake timeout 10 s).
    pub fn builder() -> ServerTlsConfigBuilder {
        ServerTlsConfigBuilder {
            resolver: CertResolver::new(),
            alpn: vec![ALPN_HTTP11.to_vec()],
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// One certificate chain for every client, from PEM bytes.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<ServerTlsConfig, TlsError> {
        ServerTlsConfig::builder()
            .default_identity(Identity::from_pem(cert_chain_pem, key_pem)?)
            .build()
    }

    /// One certificate chain for every client, from PEM files.
    pub fn from_pem_files(
        cert_chain_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<ServerTlsConfig, TlsError> {
        ServerTlsConfig::builder()
            .default_identity(Identity::from_pem_files(cert_chain_path, key_path)?)
            .build()
    }

    /// Wraps a hand-built rustls configuration (default handshake timeout).
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> ServerTlsConfig {
        ServerTlsConfig {
            config,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Replaces the handshake timeout.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> ServerTlsConfig {
        self.handshake_timeout = timeout;
        self
    }

    /// The rustls configuration.
    pub fn rustls_config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }

    /// Time a driver allows a client to complete the handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// A server-side pump for one accepted connection.
    pub fn accept(&self) -> Result<TlsPump, TlsError> {
        TlsPump::server(Arc::clone(&self.config))
    }
}

/// Builds a [`ServerTlsConfig`].
#[derive(Debug)]
pub struct ServerTlsConfigBuilder {
    resolver: CertResolver,
    alpn: Vec<Vec<u8>>,
    handshake_timeout: Duration,
}

impl ServerTlsConfigBuilder {
    /// The certificate for clients without SNI or with an unknown name.
    pub fn default_identity(mut self, identity: Identity) -> Self {
        self.resolver.set_default(&identity);
        self
    }

    /// The certificate for an SNI host name or wildcard (`*.example.com`);
    /// see [`CertResolver::add`].
    pub fn sni_identity(mut self, name: &str, identity: Identity) -> Result<Self, TlsError> {
        self.resolver.add(name, &identity)?;
        Ok(self)
    }

    /// ALPN protocols in preference order (default `["http/1.1"]`; empty
    /// disables ALPN). A client offering none of them is refused.
    pub fn alpn_protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<Vec<u8>>,
    {
        self.alpn = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Time a driver allows a client to complete the handshake (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Builds the configuration; fails without any certificate.
    pub fn build(self) -> Result<ServerTlsConfig, TlsError> {
        if self.resolver.is_empty() {
            return Err(TlsError::NoServerCertificate);
        }
        let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(self.resolver));
        config.alpn_protocols = self.alpn;
        Ok(ServerTlsConfig {
            config: Arc::new(config),
            handshake_timeout: self.handshake_timeout,
        })
    }
}

/// Turns a host name or IP address (IPv6 with or without brackets) into the
/// name rustls verifies the certificate against and sends as SNI (rustls
/// sends no SNI for IP addresses).
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let h = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(h.to_owned()).map_err(|_| TlsError::InvalidHostName(host.to_owned()))
}

/// Client-side TLS settings shared by every adapter. Certificate and host
/// name verification are always on unless a custom rustls configuration
/// says otherwise.
#[derive(Clone, Debug)]
pub struct ClientTlsConfig {
    config: Arc<rustls::ClientConfig>,
    handshake_timeout: Duration,
}

impl ClientTlsConfig {
    /// Verifies servers against the webpki-roots (Mozilla) trust store;
    /// ALPN `["http/1.1"]`.
    pub fn new() -> Result<ClientTlsConfig, TlsError> {
        ClientTlsConfig::builder().build()
    }

    /// Starts a builder (webpki roots, ALPN `["http/1.1"]`, 10 s handshake).
    pub fn builder() -> ClientTlsConfigBuilder {
        ClientTlsConfigBuilder {
            custom: RootCertStore::empty(),
            webpki_roots: true,
            alpn: vec![ALPN_HTTP11.to_vec()],
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Wraps a hand-built rustls configuration (default handshake timeout).
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> ClientTlsConfig {
        ClientTlsConfig {
            config,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Replaces the handshake timeout.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> ClientTlsConfig {
        self.handshake_timeout = timeout;
        self
    }

    /// The rustls configuration.
    pub fn rustls_config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }

    /// Time a driver allows the handshake to take.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// A rustls client connection to `host` (DNS name or IP address): the
    /// certificate is checked against that name, which is also sent as SNI.
    pub fn connection(&self, host: &str) -> Result<rustls::ClientConnection, TlsError> {
        rustls::ClientConnection::new(Arc::clone(&self.config), server_name(host)?)
            .map_err(TlsError::Config)
    }

    /// A client-side pump for a connection to `host`.
    pub fn connect(&self, host: &str) -> Result<TlsPump, TlsError> {
        Ok(TlsPump::new(self.connection(host)?))
    }
}

/// Builds a [`ClientTlsConfig`].
#[derive(Debug)]
pub struct ClientTlsConfigBuilder {
    custom: RootCertStore,
    webpki_roots: bool,
    alpn: Vec<Vec<u8>>,
    handshake_timeout: Duration,
}

impl ClientTlsConfigBuilder {
    /// Also trusts every CA certificate found in `pem`.
    pub fn add_root_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        for cert in certificates_from_pem(pem).map_err(|e| match e {
            TlsError::Pem { source, .. } => TlsError::Pem {
                what: "CA certificate",
                source,
            },
            e => e,
        })? {
            self.custom.add(cert).map_err(TlsError::BadCertificate)?;
        }
        Ok(self)
    }

    /// Also trusts every CA certificate in a PEM file.
    pub fn add_root_pem_file(self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let pem = read_file(path.as_ref())?;
        self.add_root_pem(&pem)
    }

    /// Also trusts one DER CA certificate.
    pub fn add_root_der(mut self, cert: CertificateDer<'static>) -> Result<Self, TlsError> {
        self.custom.add(cert).map_err(TlsError::BadCertificate)?;
        Ok(self)
    }

    /// Trusts only the roots added here, not webpki-roots.
    pub fn only_custom_roots(mut self) -> Self {
        self.webpki_roots = false;
        self
    }

    /// ALPN protocols to offer, in preference order (default `["http/1.1"]`;
    /// empty offers none, as for SMTP).
    pub fn alpn_protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<Vec<u8>>,
    {
        self.alpn = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Time a driver allows the handshake to take (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Builds the configuration; fails when no root at all is trusted.
    pub fn build(self) -> Result<ClientTlsConfig, TlsError> {
        let mut roots = self.custom;
        if self.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if roots.is_empty() {
            return Err(TlsError::NoRootCertificates);
        }
        let mut config = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = self.alpn;
        Ok(ClientTlsConfig {
            config: Arc::new(config),
            handshake_timeout: self.handshake_timeout,
        })
    }
}
