//! A test PKI made by rcgen: a CA and leaves it signs (rustls refuses a
//! self-signed leaf as its own root). Shared by every adapter's tests.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A leaf certificate and its key, as PEM, and the certificate as DER.
pub struct LeafPem {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

/// A CA named `name`: its certificate as PEM, and the issuer that signs.
pub fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("ca key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).expect("ca cert");
    (cert.pem(), Issuer::new(params, key))
}

/// A server certificate for `names`, signed by `issuer`.
pub fn leaf(issuer: &Issuer<'static, KeyPair>, names: &[&str]) -> LeafPem {
    let key = KeyPair::generate().expect("leaf key");
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer).expect("leaf cert");
    LeafPem {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

/// A fresh CA and one leaf for `localhost` and `127.0.0.1`.
pub fn localhost() -> (String, LeafPem) {
    let (ca_pem, issuer) = ca("wireloom test CA");
    (ca_pem, leaf(&issuer, &["localhost", "127.0.0.1"]))
}
