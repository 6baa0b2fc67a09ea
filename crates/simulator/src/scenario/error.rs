//! Why a scenario is refused: [`ScenarioError`] for the whole scenario,
//! [`ClientError`] for one client's knobs, [`AppCredentialError`] for one
//! entry of a client's `app_credentials`. Each names the field (and the
//! client, by position and id) so `credprobe simulate --scenario` can say
//! exactly what to fix.

use super::identity::TimeError;
use crate::client_keys::ClientKeyError;

/// Why a scenario is not valid: its YAML, or what serde cannot check.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The YAML does not parse or does not fit the scenario's shape
    /// (serde's message, with line and column; a client's [`ClientError`]
    /// arrives this way too).
    #[error("{0}")]
    Yaml(serde_norway::Error),
    /// `accept_any_public_key` is not a public key or certificate.
    #[error("accept_any_public_key: {0}")]
    AcceptAnyPublicKey(ClientKeyError),
    /// A client's knobs are wrong.
    #[error("clients[{index}] ({client_id}): {problem}")]
    Client {
        /// The client's position in `clients`.
        index: usize,
        /// The client's id.
        client_id: String,
        /// What is wrong with it (boxed: a scenario error is returned
        /// often and is rarely this).
        problem: Box<ClientError>,
    },
    /// Two clients have the same id.
    #[error("clients[{index}]: client_id {client_id:?} is listed twice")]
    DuplicateClient {
        /// The position of the second one in `clients`.
        index: usize,
        /// The id both have.
        client_id: String,
    },
}

/// Why one client's knobs are wrong; names the knob.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `client_id` is empty.
    #[error("client_id is empty")]
    EmptyClientId,
    /// `client_id` holds a `:`.
    #[error("client_id contains ':', which Basic authentication cannot carry")]
    ColonInClientId,
    /// A status knob (`token_status`, `api_status[PATH]`) is no HTTP status.
    #[error("{knob} {status} is not an HTTP status (100-599)")]
    NotStatus {
        /// The knob, with the path for `api_status`.
        knob: String,
        /// The value given.
        status: u16,
    },
    /// A path knob (`api_status`, `forbidden_paths`) holds a path without
    /// its leading `/`.
    #[error("{knob}: path {path:?} does not start with '/'")]
    NotPath {
        /// The knob.
        knob: &'static str,
        /// The path given.
        path: String,
    },
    /// A key knob (`public_key`, `certificate`,
    /// `additional_public_keys[N]`) is not a public key or certificate.
    #[error("{knob}: {problem}")]
    Key {
        /// The knob, with the position for `additional_public_keys`.
        knob: String,
        /// What is wrong with the key.
        problem: ClientKeyError,
    },
    /// `failure_rate` is not a probability.
    #[error("failure_rate {0} is not between 0 and 1")]
    FailureRate(f64),
    /// A Retry-After knob cannot be a header value.
    #[error("{knob} {value:?} is not a valid header value")]
    NotHeaderValue {
        /// `token_retry_after` or `api_retry_after`.
        knob: &'static str,
        /// The value given.
        value: String,
    },
    /// `iat_offset` is not a signed duration.
    #[error("iat_offset: {0}")]
    IatOffset(TimeError),
    /// `nbf_offset` is not a signed duration.
    #[error("nbf_offset: {0}")]
    NbfOffset(TimeError),
    /// An entry of `app_credentials` is wrong.
    #[error("app_credentials[{index}]: {problem}")]
    AppCredential {
        /// The entry's position.
        index: usize,
        /// What is wrong with it.
        problem: AppCredentialError,
    },
}

/// Why an entry of a client's `app_credentials` is wrong.
#[derive(Debug, thiserror::Error)]
pub enum AppCredentialError {
    /// `starts` or `expires` is not a point in time.
    #[error("{knob}: {problem}")]
    Time {
        /// `starts` or `expires`.
        knob: &'static str,
        /// What is wrong with it.
        problem: TimeError,
    },
    /// A secret with `certificate` or `thumbprint`.
    #[error("a secret has no certificate or thumbprint")]
    SecretWithCertificate,
    /// A certificate with `secret`.
    #[error("a certificate has no secret")]
    CertificateWithSecret,
    /// A certificate with both `certificate` and `thumbprint`.
    #[error("give a certificate or a thumbprint, not both")]
    CertificateAndThumbprint,
    /// `thumbprint` is not a SHA-1 in hex.
    #[error("thumbprint {0:?} is not 40 hexadecimal digits")]
    NotThumbprint(String),
    /// A certificate with neither its own `certificate` or `thumbprint`
    /// nor the client's certificate to default to.
    #[error(
        "a certificate credential needs `certificate`, `thumbprint` or the client's certificate"
    )]
    NoCertificate,
    /// `certificate` is not a PEM certificate.
    #[error("certificate: {0}")]
    Certificate(ClientKeyError),
}
