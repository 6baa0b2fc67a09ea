//! Private keys and certificates of `private_key_jwt` and `tls_client_auth`,
//! and CA bundles: read at load (an unusable file is a configuration
//! problem), kept in types that never show a key from the moment it is
//! read. Signing and hashing use ring, which rustls already brings.
//!
//! By job:
//! - [`private_key`]: a private key from its PEM text (PKCS#8, PKCS#1,
//!   SEC1), [`ClientKey`];
//! - [`signing`]: the JWS algorithms and the signature of a client
//!   assertion;
//! - [`certificate`]: a client certificate chain and what its leaf tells,
//!   [`ClientCertificate`];
//! - [`material`]: one version of a tenant's key files checked as a whole
//!   (the certificate is the key's, the algorithm suits it),
//!   [`KeyMaterial`], and what is wrong with it, [`KeyError`];
//! - [`files`]: a tenant's key and certificate files as one
//!   [`crate::watched_file::WatchedFile`], [`KeyFiles`], re-read when they
//!   change;
//! - [`registry`]: one [`KeyFiles`] per set of files in the process,
//!   shared by the tenants (and configurations) naming them;
//! - [`ca_bundle`]: the one reading of a CA bundle, [`ca_roots`].

pub mod ca_bundle;
pub mod certificate;
pub mod files;
pub mod material;
pub mod private_key;
pub mod registry;
pub mod signing;

#[cfg(test)]
mod tests;

pub use ca_bundle::{CaBundleError, ca_roots};
pub use certificate::{CertificateError, ClientCertificate};
pub use files::KeyFiles;
pub use material::{KeyError, KeyField, KeyMaterial, KeyProblem, TlsIdentityError};
pub use private_key::{ClientKey, KeyKind, PrivateKeyError};
pub use signing::{SignError, SigningAlgorithm};
