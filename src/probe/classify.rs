//! The closed sets of result classes, and the one place that maps HTTP
//! statuses and transport errors to them. The metric label `result` is the
//! class's [`ResultClass::as_str`].
//!
//! Both sets implement [`ResultClass`], so recording, logging, the views
//! and the exposition are written once for the token request and for
//! endpoint calls; [`StepResult`] holds either where one list mixes them
//! (a tenant's history).

use std::error::Error as StdError;
use std::fmt;

/// What every closed set of result classes offers: its members in counter
/// order, a label value each, and which one is success.
pub trait ResultClass: Copy + Eq + fmt::Debug + serde::Serialize + Send + Sync + 'static {
    /// Every class, in declaration order (the index of a class is its
    /// place here, see [`ResultClass::index`]).
    const ALL: &'static [Self];
    /// The class of a step that did what it should.
    const SUCCESS: Self;
    /// The class of a request not sent because its scope is backing off
    /// after a 429 with Retry-After.
    const BACKED_OFF: Self;
    /// Result counters, one per class: `[u64; ALL.len()]`, kept inline in
    /// the tenant's record instead of behind a pointer.
    type Counts: Default + Clone + AsRef<[u64]> + AsMut<[u64]> + Send + fmt::Debug;

    /// The `result` label value.
    fn as_str(self) -> &'static str;

    /// The counter index: the place in [`ResultClass::ALL`].
    fn index(self) -> usize;

    /// The class as a member of the mixed [`StepResult`].
    fn step_result(self) -> StepResult;

    /// True for [`ResultClass::SUCCESS`].
    fn is_success(self) -> bool {
        self == Self::SUCCESS
    }

    /// True for [`ResultClass::BACKED_OFF`].
    fn is_backed_off(self) -> bool {
        self == Self::BACKED_OFF
    }
}

/// Why the identity provider rejected a credential, where it says so: a
/// closed set, so it can be a label (`reason`) an alert tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    /// The secret (or certificate credential) has expired.
    Expired,
    /// The secret, or a client assertion's signature, is wrong.
    InvalidSecret,
    /// The identity provider does not know the client (deleted, or a wrong
    /// client id or tenant).
    UnknownClient,
    /// The client exists but is disabled.
    Disabled,
    /// The provider rejected the credential without saying why in a way
    /// credprobe recognises.
    Other,
}

impl RejectionReason {
    /// Every reason.
    pub const ALL: [RejectionReason; 5] = [
        RejectionReason::Expired,
        RejectionReason::InvalidSecret,
        RejectionReason::UnknownClient,
        RejectionReason::Disabled,
        RejectionReason::Other,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::Expired => "expired",
            RejectionReason::InvalidSecret => "invalid_secret",
            RejectionReason::UnknownClient => "unknown_client",
            RejectionReason::Disabled => "disabled",
            RejectionReason::Other => "other",
        }
    }

    /// The reason a rejection's error body gives. Microsoft Entra ID's
    /// `error_codes` say it exactly (AADSTS7000215 invalid secret, 7000222
    /// expired secret, 700016 application not found, 7000112 application
    /// disabled, 700027 invalid assertion signature); other providers
    /// (Okta, Keycloak, Auth0) only in `error_description`, read for a few
    /// words and never kept.
    pub fn of(codes: &[u64], description: Option<&str>) -> RejectionReason {
        for code in codes {
            match code {
                7_000_222 => return RejectionReason::Expired,
                7_000_215 | 700_027 => return RejectionReason::InvalidSecret,
                700_016 => return RejectionReason::UnknownClient,
                7_000_112 => return RejectionReason::Disabled,
                _ => {}
            }
        }
        let Some(text) = description.map(str::to_ascii_lowercase) else {
            return RejectionReason::Other;
        };
        let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
        if has(&["expired"]) {
            RejectionReason::Expired
        } else if has(&["disabled", "inactive", "deactivated"]) {
            RejectionReason::Disabled
        } else if has(&[
            "not found",
            "does not exist",
            "unknown client",
            "was not found",
        ]) {
            RejectionReason::UnknownClient
        } else if has(&["secret"]) && has(&["invalid", "wrong", "incorrect", "mismatch"]) {
            RejectionReason::InvalidSecret
        } else {
            RejectionReason::Other
        }
    }
}

/// A token or endpoint result, where one list holds both (the history).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    /// A token request's class.
    Token(TokenResult),
    /// An endpoint call's class.
    Endpoint(EndpointResult),
}

impl StepResult {
    /// The `result` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            StepResult::Token(r) => r.as_str(),
            StepResult::Endpoint(r) => r.as_str(),
        }
    }

    /// True when the step succeeded.
    pub fn is_success(self) -> bool {
        match self {
            StepResult::Token(r) => r.is_success(),
            StepResult::Endpoint(r) => r.is_success(),
        }
    }
}

impl serde::Serialize for StepResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for StepResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a token request ended as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenResult {
    /// A usable bearer token came back.
    Success,
    /// 401, or 400 with invalid_client / unauthorized_client / invalid_grant:
    /// the credential is revoked, deleted, expired or wrong.
    CredentialsRejected,
    /// 403 from the token endpoint.
    Forbidden,
    /// 429.
    RateLimited,
    /// Any other 4xx.
    ClientError,
    /// 5xx: the identity provider is failing.
    ServerError,
    /// No complete answer within the timeout.
    Timeout,
    /// The host name did not resolve.
    DnsError,
    /// No connection (refused, reset, unreachable, proxy failure).
    ConnectError,
    /// The TLS handshake failed (untrusted or expired certificate).
    TlsError,
    /// A 2xx (or a redirect) that is not a usable token response.
    InvalidResponse,
    /// Not sent: this credential at this token endpoint is backing off
    /// after a 429 with Retry-After.
    BackedOff,
    /// Not sent: the `private_key_jwt` client assertion could not be
    /// signed with the tenant's key (a local problem, not the IdP's).
    SigningError,
    /// Not sent: the token endpoint of a tenant configured with `issuer:`
    /// and no `token_url:` could not be read from the issuer's discovery
    /// document (not found, not JSON, no usable `token_endpoint`, an
    /// endpoint the tenant's URL rules refuse, or no answer).
    DiscoveryFailed,
}

impl ResultClass for TokenResult {
    const ALL: &'static [TokenResult] = &[
        TokenResult::Success,
        TokenResult::CredentialsRejected,
        TokenResult::Forbidden,
        TokenResult::RateLimited,
        TokenResult::ClientError,
        TokenResult::ServerError,
        TokenResult::Timeout,
        TokenResult::DnsError,
        TokenResult::ConnectError,
        TokenResult::TlsError,
        TokenResult::InvalidResponse,
        TokenResult::BackedOff,
        TokenResult::SigningError,
        TokenResult::DiscoveryFailed,
    ];
    const SUCCESS: TokenResult = TokenResult::Success;
    const BACKED_OFF: TokenResult = TokenResult::BackedOff;
    type Counts = [u64; 14];

    fn as_str(self) -> &'static str {
        match self {
            TokenResult::Success => "success",
            TokenResult::CredentialsRejected => "credentials_rejected",
            TokenResult::Forbidden => "forbidden",
            TokenResult::RateLimited => "rate_limited",
            TokenResult::ClientError => "client_error",
            TokenResult::ServerError => "server_error",
            TokenResult::Timeout => "timeout",
            TokenResult::DnsError => "dns_error",
            TokenResult::ConnectError => "connect_error",
            TokenResult::TlsError => "tls_error",
            TokenResult::InvalidResponse => "invalid_response",
            TokenResult::BackedOff => "backed_off",
            TokenResult::SigningError => "signing_error",
            TokenResult::DiscoveryFailed => "discovery_failed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn step_result(self) -> StepResult {
        StepResult::Token(self)
    }
}

impl TokenResult {
    /// Classifies a token endpoint's status; `oauth_error` is the `error`
    /// field of a JSON error body, when there was one.
    pub fn from_status(status: u16, oauth_error: Option<&str>) -> TokenResult {
        match status {
            200..=299 => TokenResult::Success,
            401 => TokenResult::CredentialsRejected,
            400 if matches!(
                oauth_error,
                Some("invalid_client" | "unauthorized_client" | "invalid_grant")
            ) =>
            {
                TokenResult::CredentialsRejected
            }
            403 => TokenResult::Forbidden,
            429 => TokenResult::RateLimited,
            400..=499 => TokenResult::ClientError,
            500..=599 => TokenResult::ServerError,
            _ => TokenResult::InvalidResponse,
        }
    }
}

impl From<TransportFailure> for TokenResult {
    fn from(failure: TransportFailure) -> TokenResult {
        match failure {
            TransportFailure::Timeout => TokenResult::Timeout,
            TransportFailure::Dns => TokenResult::DnsError,
            TransportFailure::Connect => TokenResult::ConnectError,
            TransportFailure::Tls => TokenResult::TlsError,
        }
    }
}

/// How an endpoint call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointResult {
    /// An expected status and every body expectation met.
    Success,
    /// 401: the API refused the token.
    Unauthorized,
    /// 403: the credential lacks this API's permission.
    Forbidden,
    /// 404.
    NotFound,
    /// 429.
    RateLimited,
    /// Any other 4xx.
    ClientError,
    /// 5xx.
    ServerError,
    /// No complete answer within the timeout.
    Timeout,
    /// The host name did not resolve.
    DnsError,
    /// No connection.
    ConnectError,
    /// The TLS handshake failed.
    TlsError,
    /// A status outside the expected list that is none of the above.
    UnexpectedStatus,
    /// Body expectations not met, or the body was over the limit.
    ValidationFailed,
    /// No valid token to send, so the call was not made.
    NoToken,
    /// Not sent: this tenant is backing off this origin after a 429 with
    /// Retry-After.
    BackedOff,
}

impl ResultClass for EndpointResult {
    const ALL: &'static [EndpointResult] = &[
        EndpointResult::Success,
        EndpointResult::Unauthorized,
        EndpointResult::Forbidden,
        EndpointResult::NotFound,
        EndpointResult::RateLimited,
        EndpointResult::ClientError,
        EndpointResult::ServerError,
        EndpointResult::Timeout,
        EndpointResult::DnsError,
        EndpointResult::ConnectError,
        EndpointResult::TlsError,
        EndpointResult::UnexpectedStatus,
        EndpointResult::ValidationFailed,
        EndpointResult::NoToken,
        EndpointResult::BackedOff,
    ];
    const SUCCESS: EndpointResult = EndpointResult::Success;
    const BACKED_OFF: EndpointResult = EndpointResult::BackedOff;
    type Counts = [u64; 15];

    fn as_str(self) -> &'static str {
        match self {
            EndpointResult::Success => "success",
            EndpointResult::Unauthorized => "unauthorized",
            EndpointResult::Forbidden => "forbidden",
            EndpointResult::NotFound => "not_found",
            EndpointResult::RateLimited => "rate_limited",
            EndpointResult::ClientError => "client_error",
            EndpointResult::ServerError => "server_error",
            EndpointResult::Timeout => "timeout",
            EndpointResult::DnsError => "dns_error",
            EndpointResult::ConnectError => "connect_error",
            EndpointResult::TlsError => "tls_error",
            EndpointResult::UnexpectedStatus => "unexpected_status",
            EndpointResult::ValidationFailed => "validation_failed",
            EndpointResult::NoToken => "no_token",
            EndpointResult::BackedOff => "backed_off",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn step_result(self) -> StepResult {
        StepResult::Endpoint(self)
    }
}

impl EndpointResult {
    /// Classifies a status that is not in the endpoint's expected list.
    pub fn from_unexpected_status(status: u16) -> EndpointResult {
        match status {
            401 => EndpointResult::Unauthorized,
            403 => EndpointResult::Forbidden,
            404 => EndpointResult::NotFound,
            429 => EndpointResult::RateLimited,
            400..=499 => EndpointResult::ClientError,
            500..=599 => EndpointResult::ServerError,
            _ => EndpointResult::UnexpectedStatus,
        }
    }
}

impl From<TransportFailure> for EndpointResult {
    fn from(failure: TransportFailure) -> EndpointResult {
        match failure {
            TransportFailure::Timeout => EndpointResult::Timeout,
            TransportFailure::Dns => EndpointResult::DnsError,
            TransportFailure::Connect => EndpointResult::ConnectError,
            TransportFailure::Tls => EndpointResult::TlsError,
        }
    }
}

/// A request that got no HTTP answer, by cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// The timeout elapsed.
    Timeout,
    /// Name resolution failed.
    Dns,
    /// The connection failed or broke.
    Connect,
    /// The TLS handshake failed.
    Tls,
}

impl TransportFailure {
    /// Maps a reqwest error by walking its cause chain: rustls errors are
    /// TLS, resolver errors are DNS, the rest of the connect/IO failures are
    /// connection failures.
    pub fn of(error: &reqwest::Error) -> TransportFailure {
        if error.is_timeout() {
            return TransportFailure::Timeout;
        }
        let mut cause: Option<&(dyn StdError + 'static)> = Some(error);
        while let Some(current) = cause {
            if is_rustls(current) {
                return TransportFailure::Tls;
            }
            if let Some(io) = current.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::TimedOut
            {
                return TransportFailure::Timeout;
            }
            // hyper-util's resolver error has no public type; its message is stable.
            if current.to_string().starts_with("dns error") {
                return TransportFailure::Dns;
            }
            cause = current.source();
        }
        TransportFailure::Connect
    }
}

/// A rustls error, possibly inside (nested) `io::Error`s: tokio-rustls
/// wraps it in one and reqwest's connector in another, and `io::Error`'s
/// `source()` skips the error it wraps.
fn is_rustls(error: &(dyn StdError + 'static)) -> bool {
    if error.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    match error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => is_rustls(inner),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_statuses() {
        use TokenResult as T;
        for (status, error, class) in [
            (200, None, T::Success),
            (401, None, T::CredentialsRejected),
            (400, Some("invalid_client"), T::CredentialsRejected),
            (400, Some("unauthorized_client"), T::CredentialsRejected),
            (400, Some("invalid_grant"), T::CredentialsRejected),
            (400, Some("invalid_scope"), T::ClientError),
            (400, None, T::ClientError),
            (403, None, T::Forbidden),
            (429, None, T::RateLimited),
            (503, None, T::ServerError),
            (302, None, T::InvalidResponse),
        ] {
            assert_eq!(T::from_status(status, error), class, "{status} {error:?}");
        }
    }

    #[test]
    fn rejection_reasons_from_entra_codes_and_descriptions() {
        use RejectionReason as R;
        for (codes, description, reason) in [
            (&[7_000_222u64][..], None, R::Expired),
            (&[7_000_215], None, R::InvalidSecret),
            (&[700_027], None, R::InvalidSecret),
            (&[700_016], None, R::UnknownClient),
            (&[7_000_112], None, R::Disabled),
            (&[50_000, 7_000_222], None, R::Expired),
            (&[], None, R::Other),
            (
                &[],
                Some("The client secret supplied for a confidential client is invalid."),
                R::InvalidSecret,
            ),
            (&[], Some("Invalid client secret"), R::InvalidSecret),
            (&[], Some("Client credentials have expired"), R::Expired),
            (&[], Some("Client is disabled"), R::Disabled),
            (
                &[],
                Some("Application with identifier 'x' was not found in the directory"),
                R::UnknownClient,
            ),
            (&[], Some("Client authentication failed."), R::Other),
        ] {
            assert_eq!(
                R::of(codes, description),
                reason,
                "{codes:?} {description:?}"
            );
        }
        let labels: std::collections::HashSet<&str> = R::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels.len(), R::ALL.len());
    }

    #[test]
    fn endpoint_statuses() {
        use EndpointResult as E;
        for (status, class) in [
            (401, E::Unauthorized),
            (403, E::Forbidden),
            (404, E::NotFound),
            (409, E::ClientError),
            (429, E::RateLimited),
            (502, E::ServerError),
            (204, E::UnexpectedStatus),
            (301, E::UnexpectedStatus),
        ] {
            assert_eq!(E::from_unexpected_status(status), class, "{status}");
        }
    }

    fn classes_are_complete<R: ResultClass>() {
        let mut seen = std::collections::HashSet::new();
        for (i, r) in R::ALL.iter().enumerate() {
            assert!(seen.insert(r.as_str()), "{r:?} twice");
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(r.index(), i, "{r:?}: ALL is in declaration order");
            assert_eq!(r.step_result().as_str(), r.as_str());
            assert_eq!(r.is_success(), r.as_str() == "success");
        }
        assert_eq!(R::Counts::default().as_ref().len(), R::ALL.len());
    }

    #[test]
    fn label_values_are_unique_snake_case_and_indexes_follow_all() {
        classes_are_complete::<TokenResult>();
        classes_are_complete::<EndpointResult>();
    }
}
