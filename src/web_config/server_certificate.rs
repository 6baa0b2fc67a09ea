//! The HTTP server's certificate and key, a [`WatchedFile`] pair: a
//! background task of the server refreshes it every
//! [`CERT_CHECK_INTERVAL`] ([`refresh_every`]), so a rotated pair
//! (cert-manager, a renewed Kubernetes Secret) reaches new connections
//! without a reload, and a handshake only hands out the current pair
//! ([`ResolvesServerCert::resolve`]), never touching the disk. A pair
//! that does not load (a half-written file, a key that does not match)
//! is logged once and the last good pair goes on being served.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use secrecy::zeroize::Zeroizing;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::WebConfig;
use super::tls_options::{FieldError, FieldProblem, PemInput};
use crate::bounded_file;
use crate::watched_file::{FileFormat, FileProblem, WatchedFile};

/// How often the server looks at its certificate and key files for a
/// change: a `stat` of two files, off the runtime. A rotated certificate
/// is served within this long of being written.
pub const CERT_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// The server's certificate and key, with the last good pair loaded from
/// them.
pub struct ServerCertificate {
    /// The files (those not inline) and the last good pair.
    watched: WatchedFile<ServerPair>,
}

impl ServerCertificate {
    /// Loads the pair once; an error here names the field.
    pub fn load(
        cert: PemInput,
        key: PemInput,
        provider: Arc<CryptoProvider>,
    ) -> Result<ServerCertificate, FieldError> {
        let pair = ServerPair {
            cert,
            key,
            provider,
        };
        let paths = pair.files().map(|(_, path)| path.to_owned()).collect();
        Ok(ServerCertificate {
            watched: WatchedFile::open(pair, paths)?,
        })
    }

    /// The pair to serve now, without any I/O.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.watched.current()
    }

    /// Looks at the files and loads them again if they changed, off the
    /// runtime; a pair that does not load is logged once and kept out.
    pub async fn refresh(&self) {
        self.watched.refresh().await;
    }

    /// Which file does not load, since when and why.
    pub fn problem(&self) -> Option<FileProblem> {
        self.watched.problem()
    }
}

impl fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("cert", &self.watched.format().cert)
            .field("key", &self.watched.format().key)
            .field("problem", &self.watched.problem())
            .finish()
    }
}

/// A handshake gets the current pair: no I/O on the runtime.
impl ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Refreshes the current web configuration's server certificate every
/// `every`, one refresh at a time, until `shutdown`. A reload that
/// replaces the web configuration is followed at the next tick.
pub async fn refresh_every(
    web: watch::Receiver<Arc<WebConfig>>,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is now: the files were just read.
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let certificate = web.borrow().certificate.clone();
        if let Some(certificate) = certificate {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = certificate.refresh() => {}
            }
        }
    }
}

/// The certificate chain and private key inputs, and the provider the
/// key must load with: how one version of the pair is read.
struct ServerPair {
    /// `cert_file` or `cert`.
    cert: PemInput,
    /// `key_file` or `key`.
    key: PemInput,
    /// The crypto provider of the server configuration.
    provider: Arc<CryptoProvider>,
}

impl ServerPair {
    /// The inputs that are files, with their paths, in the order they are
    /// watched.
    fn files(&self) -> impl Iterator<Item = (&PemInput, &Path)> {
        [&self.cert, &self.key]
            .into_iter()
            .filter_map(|input| input.path().map(|path| (input, path)))
    }
}

impl FileFormat for ServerPair {
    type Value = CertifiedKey;
    type Error = FieldError;
    const LIMIT: u64 = bounded_file::PEM_LIMIT;
    const LABEL: &'static str = "server certificate";

    fn unreadable(&self, index: usize, path: &Path, source: io::Error) -> FieldError {
        let field = self
            .files()
            .nth(index)
            .map_or(self.cert.field, |(input, _)| input.field);
        FieldError {
            field,
            problem: FieldProblem::Unreadable {
                path: PathBuf::from(path),
                source,
            },
        }
    }

    fn parse(&self, contents: Vec<Zeroizing<Vec<u8>>>) -> Result<CertifiedKey, FieldError> {
        let mut files = contents.into_iter();
        let cert = self.cert.text(&mut files);
        let key = self.key.text(&mut files);
        certified_key((&self.cert, &cert), (&self.key, &key), &self.provider)
    }

    fn culprit(&self, error: &FieldError) -> usize {
        self.files()
            .position(|(input, _)| input.field == error.field)
            .unwrap_or(0)
    }
}

/// Checks a certificate chain and its private key, given their texts.
fn certified_key(
    (cert, cert_text): (&PemInput, &[u8]),
    (key, key_text): (&PemInput, &[u8]),
    provider: &CryptoProvider,
) -> Result<CertifiedKey, FieldError> {
    let fail = |input: &PemInput, problem| FieldError {
        field: input.field,
        problem,
    };
    let chain = CertificateDer::pem_slice_iter(cert_text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| fail(cert, FieldProblem::NotPem(error)))?;
    if chain.is_empty() {
        return Err(fail(cert, FieldProblem::NoCertificate));
    }
    let private = PrivateKeyDer::from_pem_slice(key_text)
        .map_err(|error| fail(key, FieldProblem::NoPrivateKey(error)))?;
    CertifiedKey::from_der(chain, private, provider).map_err(|error| {
        fail(
            key,
            FieldProblem::KeyMismatch {
                cert_field: cert.field,
                source: error,
            },
        )
    })
}
