//! Client authentication without a secret, as an identity provider checks
//! it:
//!
//! - `private_key_jwt` (RFC 7523 section 2.2, OpenID Connect Core section
//!   9): `client_assertion_type` is the JWT bearer type; the assertion is
//!   signed with RS256, PS256 or ES256 and verifies (ring) against the
//!   client's `public_key`, else its `certificate`'s key, or one of its
//!   `additional_public_keys` (a key rotation); `iss` = `sub` =
//!   the client id (and the form's `client_id`, when sent); `aud` is the
//!   token URL the client called (scheme, `Host` header, path) or the
//!   client's `assertion_audience`, as a string or in an array; `exp` is in
//!   the future and at most [`MAX_AHEAD`] away; `nbf`, when sent, has come
//!   (with [`CLOCK_SKEW`]); `jti` is present and not seen before for that
//!   client (a replay cache of at most [`REPLAY_CAPACITY`] entries, each
//!   kept until its `exp`); an `x5t#S256` header must be the thumbprint of
//!   the client's `certificate` when it has one.
//! - `tls_client_auth` (RFC 8705 section 2.1.1): on a listener started with
//!   [`super::Simulator::start_mtls`], the TLS layer verified the client's
//!   certificate against the client CA; here its subject DN must equal the
//!   subject DN of the client's registered `certificate` (the client's
//!   `tls_client_auth_subject_dn`, compared as RFC 4514 text). The token
//!   issued is bound to that certificate (RFC 8705 section 3): an API call
//!   with it must come over a connection presenting the same certificate.
//!
//! Every refusal is `401 {"error":"invalid_client"}` with its own
//! `error_description`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;

use super::SimulatorError;
use super::client_keys::{KeyType, RegisteredCertificate, verification_key};
use super::listener::Connection;
use super::scenario::ClientBehaviour;

/// `client_assertion_type` of a JWT client assertion.
pub(super) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The furthest an assertion's `exp` may lie ahead, in seconds.
pub(super) const MAX_AHEAD: u64 = 600;

/// How far ahead of the simulator's clock an `nbf` may be, in seconds.
pub(super) const CLOCK_SKEW: u64 = 60;

/// The most `jti`s remembered; beyond it the oldest are forgotten first.
pub(super) const REPLAY_CAPACITY: usize = 100_000;

/// An authentication refused: `invalid_client` with this description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal(pub(super) &'static str);

/// A client's authentication passed; the token it gets is bound to this
/// certificate thumbprint, for `tls_client_auth`.
pub(super) struct Verified {
    pub(super) bound_to: Option<[u8; 32]>,
}

/// What the token endpoints remember across requests.
#[derive(Default)]
pub(super) struct ClientAuthState {
    /// `jti`s seen, per client, until their `exp`.
    replay: Mutex<ReplayCache>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `jti`s seen, in arrival order, each until its `exp`.
#[derive(Default)]
struct ReplayCache {
    seen: HashMap<String, u64>,
    order: VecDeque<String>,
}

impl ReplayCache {
    /// Remembers `key` until `exp`; false when it was seen before.
    fn first_use(&mut self, key: String, exp: u64, now: u64) -> bool {
        while let Some(oldest) = self.order.front() {
            let expired = self.seen.get(oldest).is_none_or(|until| *until < now);
            if !expired && self.order.len() < REPLAY_CAPACITY {
                break;
            }
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        if self.seen.get(&key).is_some_and(|until| *until >= now) {
            return false;
        }
        self.seen.insert(key.clone(), exp);
        self.order.push_back(key);
        true
    }
}

/// The client verifier of [`super::Simulator::start_mtls`]: asks for a
/// certificate, verifies one against the CAs of `ca_pem`, lets a client
/// without one through (its token request is refused later, as
/// `invalid_client`).
pub(super) fn client_verifier(
    ca_pem: &str,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, SimulatorError> {
    let tls_error = |message: String| SimulatorError::Tls { message };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| tls_error(format!("client CA PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| tls_error(format!("client CA: {e}")))?;
    }
    if roots.is_empty() {
        return Err(tls_error("no certificate in the client CA PEM".into()));
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .allow_unauthenticated()
        .build()
        .map_err(|e| tls_error(format!("client CA: {e}")))
}

/// The token URL a request was sent to, as the client must have written
/// it: scheme of the connection, `Host` header, path.
pub(super) fn token_url(headers: &HeaderMap, path: &str, connection: &Connection) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let scheme = if connection.tls { "https" } else { "http" };
    format!("{scheme}://{host}{path}")
}

/// Whether the form authenticates with a client assertion.
pub(super) fn uses_assertion(form: &HashMap<String, String>) -> bool {
    form.contains_key("client_assertion") || form.contains_key("client_assertion_type")
}

/// Who a token request without a secret claims to be: the form's
/// `client_id`, else the assertion's `sub` (read without verifying it).
pub(super) fn claimed_client_id(form: &HashMap<String, String>) -> Option<String> {
    if let Some(id) = form.get("client_id") {
        return Some(id.clone());
    }
    let claims = decode_part(form.get("client_assertion")?.split('.').nth(1)?)?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Checks a token request's client assertion, or its client certificate
/// when it has none, for `client`.
pub(super) fn verify(
    state: &ClientAuthState,
    client: &ClientBehaviour,
    form: &HashMap<String, String>,
    token_url: &str,
    connection: &Connection,
) -> Result<Verified, Refusal> {
    if uses_assertion(form) {
        verify_assertion(state, client, form, token_url)?;
        return Ok(Verified { bound_to: None });
    }
    let thumbprint = verify_certificate(client, connection)?;
    Ok(Verified {
        bound_to: Some(thumbprint),
    })
}

fn verify_assertion(
    state: &ClientAuthState,
    client: &ClientBehaviour,
    form: &HashMap<String, String>,
    token_url: &str,
) -> Result<(), Refusal> {
    if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
        return Err(Refusal(
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ));
    }
    let not_jwt = Refusal("client_assertion is not a signed JWT");
    let jwt = form
        .get("client_assertion")
        .ok_or(Refusal("client_assertion is missing"))?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, sig] = parts[..] else {
        return Err(not_jwt);
    };
    let header_json = decode_part(header).ok_or(not_jwt)?;
    let claims_json = decode_part(claims).ok_or(not_jwt)?;
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| not_jwt)?;

    let (algorithm, kind): (&'static dyn signature::VerificationAlgorithm, KeyType) =
        match header_json.get("alg").and_then(Value::as_str) {
            Some("RS256") => (&signature::RSA_PKCS1_2048_8192_SHA256, KeyType::Rsa),
            Some("PS256") => (&signature::RSA_PSS_2048_8192_SHA256, KeyType::Rsa),
            Some("ES256") => (&signature::ECDSA_P256_SHA256_FIXED, KeyType::EcP256),
            _ => return Err(Refusal("client_assertion alg is not RS256, PS256 or ES256")),
        };
    let certificate = client
        .certificate
        .as_deref()
        .and_then(|pem| RegisteredCertificate::from_pem(pem).ok());
    let registered = match (&client.public_key, &certificate) {
        (Some(pem), _) => verification_key(pem).ok(),
        (None, Some(certificate)) => Some(certificate.key.clone()),
        (None, None) => None,
    };
    // A key rotation: more keys the client may sign with.
    let keys: Vec<_> = registered
        .into_iter()
        .chain(
            client
                .additional_public_keys
                .iter()
                .filter_map(|pem| verification_key(pem).ok()),
        )
        .collect();
    if keys.is_empty() {
        return Err(Refusal(
            "the client has no registered public_key or certificate to verify client_assertion",
        ));
    }
    if keys.iter().all(|key| key.kind != kind) {
        return Err(Refusal(
            "client_assertion alg does not suit the client's registered key",
        ));
    }
    let signed = &jwt[..header.len() + 1 + claims.len()];
    let verifies = keys.iter().filter(|key| key.kind == kind).any(|key| {
        signature::UnparsedPublicKey::new(algorithm, &key.raw)
            .verify(signed.as_bytes(), &sig)
            .is_ok()
    });
    if !verifies {
        return Err(Refusal("client_assertion signature does not verify"));
    }
    if let (Some(sent), Some(certificate)) = (header_json.get("x5t#S256"), &certificate)
        && sent.as_str() != Some(URL_SAFE_NO_PAD.encode(certificate.thumbprint).as_str())
    {
        return Err(Refusal(
            "client_assertion x5t#S256 is not the registered certificate's thumbprint",
        ));
    }

    let id = client.client_id.as_str();
    let claim = |name: &str| claims_json.get(name);
    if form
        .get("client_id")
        .is_some_and(|form_id| claim("sub").and_then(Value::as_str) != Some(form_id))
    {
        return Err(Refusal("client_id differs from the client_assertion's sub"));
    }
    if claim("iss").and_then(Value::as_str) != Some(id)
        || claim("sub").and_then(Value::as_str) != Some(id)
    {
        return Err(Refusal(
            "client_assertion iss and sub must both be the client id",
        ));
    }
    let audience_ok =
        |aud: &str| aud == token_url || client.assertion_audience.as_deref() == Some(aud);
    let aud_ok = match claim("aud") {
        Some(Value::String(aud)) => audience_ok(aud),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(audience_ok),
        _ => false,
    };
    if !aud_ok {
        return Err(Refusal("client_assertion aud is not this token endpoint"));
    }
    let now = unix_now();
    let exp = claim("exp")
        .and_then(Value::as_u64)
        .ok_or(Refusal("client_assertion has no exp"))?;
    if exp <= now {
        return Err(Refusal("client_assertion has expired"));
    }
    if exp > now + MAX_AHEAD {
        return Err(Refusal(
            "client_assertion exp is more than 10 minutes ahead",
        ));
    }
    if claim("nbf")
        .and_then(Value::as_u64)
        .is_some_and(|nbf| nbf > now + CLOCK_SKEW)
    {
        return Err(Refusal("client_assertion is not valid yet (nbf)"));
    }
    let jti = claim("jti")
        .and_then(Value::as_str)
        .filter(|jti| !jti.is_empty())
        .ok_or(Refusal("client_assertion has no jti"))?;
    let first = lock(&state.replay).first_use(format!("{id}\n{jti}"), exp, now);
    if !first {
        return Err(Refusal("client_assertion jti was already used"));
    }
    Ok(())
}

fn verify_certificate(
    client: &ClientBehaviour,
    connection: &Connection,
) -> Result<[u8; 32], Refusal> {
    let presented = connection.certificate.as_deref().ok_or(Refusal(
        "no client certificate was presented (tls_client_auth)",
    ))?;
    let presented = RegisteredCertificate::from_der(presented)
        .map_err(|_| Refusal("the client certificate cannot be read"))?;
    let registered = client
        .certificate
        .as_deref()
        .and_then(|pem| RegisteredCertificate::from_pem(pem).ok())
        .ok_or(Refusal(
            "the client has no registered certificate for tls_client_auth",
        ))?;
    if presented.subject != registered.subject {
        return Err(Refusal(
            "the client certificate's subject is not the client's tls_client_auth_subject_dn",
        ));
    }
    Ok(presented.thumbprint)
}

/// Whether `connection` presented the client certificate with SHA-256
/// thumbprint `thumbprint`: what a certificate-bound token needs.
pub(super) fn presents(connection: &Connection, thumbprint: &[u8; 32]) -> bool {
    connection
        .certificate
        .as_deref()
        .is_some_and(|der| ring::digest::digest(&ring::digest::SHA256, der).as_ref() == thumbprint)
}

#[cfg(test)]
mod tests;
