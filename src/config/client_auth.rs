//! What a tenant proves its identity with at the token endpoint
//! (`client_auth`): a client secret (`basic`, `post`), a client assertion
//! signed with its private key (`private_key_jwt`, RFC 7523), or its
//! certificate in the TLS handshake (`tls_client_auth`, RFC 8705).
//!
//! Keys and certificates live in [`super::keys`]; this module says which
//! method uses them and how, and is what the probes and the views read.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::SystemTime;

use super::keys::KeyFiles;
use super::secrets::SecretSource;
use crate::watched_file::{FileProblem, Watch};

/// The credential of a tenant, by method.
#[derive(Debug, PartialEq)]
pub enum Credential {
    /// `basic` or `post`: a client secret.
    Secret(SecretSource),
    /// `private_key_jwt`: a client assertion signed for every token request.
    Assertion(AssertionSettings),
    /// `tls_client_auth`: the certificate and key presented in the TLS
    /// handshake; the tenant's [`super::HttpProfile`] holds the same files
    /// as its [`ClientIdentity`].
    Certificate(Arc<KeyFiles>),
}

impl Credential {
    /// The key files, for the methods that have them.
    pub fn key_files(&self) -> Option<&Arc<KeyFiles>> {
        match self {
            Credential::Secret(_) => None,
            Credential::Assertion(assertion) => Some(&assertion.keys),
            Credential::Certificate(files) => Some(files),
        }
    }

    /// The secret, key and certificate files to look at once per
    /// interval ([`crate::watched_file::refresher`]); the cycle's requests
    /// use what was last read, without any I/O.
    pub fn watched(&self) -> Vec<Arc<dyn Watch>> {
        match self {
            Credential::Secret(source) => source.watched().into_iter().collect(),
            Credential::Assertion(AssertionSettings { keys: files, .. })
            | Credential::Certificate(files) => vec![Arc::clone(files) as Arc<dyn Watch>],
        }
    }

    /// True while a secret, key or certificate file of this credential is
    /// missing, unreadable or holds a version that cannot be used: the
    /// last good copy stays in use, and the tenant's state says so
    /// ([`crate::views::Warning::CredentialFileUnreadable`]).
    pub fn file_problem(&self) -> bool {
        match self {
            Credential::Secret(source) => source.file_problem(),
            Credential::Assertion(assertion) => assertion.keys.file_problem(),
            Credential::Certificate(files) => files.file_problem(),
        }
    }

    /// While [`Credential::file_problem`] holds: which file, since when and
    /// why.
    pub fn broken_file(&self) -> Option<FileProblem> {
        match self {
            Credential::Secret(source) => source.problem(),
            Credential::Assertion(AssertionSettings { keys: files, .. })
            | Credential::Certificate(files) => files.problem(),
        }
    }

    /// The notAfter of the client certificate in use, if there is one.
    pub fn certificate_expiry(&self) -> Option<SystemTime> {
        let material = self.key_files()?.current();
        material.certificate.as_ref().map(|c| c.not_after)
    }
}

/// How `private_key_jwt` client assertions are made.
#[derive(Debug, PartialEq)]
pub struct AssertionSettings {
    /// The signing key, its optional certificate (then the JWT header
    /// carries `x5t#S256`) and the algorithm.
    pub keys: Arc<KeyFiles>,
    /// `client_assertion.key_id`: the JWT header's `kid`.
    pub key_id: Option<String>,
    /// `client_assertion.audience`: `aud` instead of the token URL.
    pub audience: Option<String>,
}

/// The client certificate and key a tenant's HTTP client presents
/// (`tls_client_auth`). Tenants naming the same files share one client:
/// equality and hash are the files' paths; the client is rebuilt when the
/// files' content changes.
#[derive(Debug, Clone)]
pub struct ClientIdentity(pub Arc<KeyFiles>);

impl PartialEq for ClientIdentity {
    fn eq(&self, other: &ClientIdentity) -> bool {
        self.0.key_path() == other.0.key_path()
            && self.0.certificate_path() == other.0.certificate_path()
    }
}

impl Eq for ClientIdentity {}

impl Hash for ClientIdentity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.key_path().hash(state);
        self.0.certificate_path().hash(state);
    }
}
