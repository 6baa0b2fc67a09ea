//! Whether the access token would be accepted by an API that verifies it:
//! signed (ES256 or RS256) by a key the identity provider publishes, by
//! the expected issuer, for an expected audience, and within its validity
//! at the time it arrived; and how far the provider's clock is from ours.
//!
//! Only for tenants with `issuer:` or `jwks_url:`
//! ([`crate::config::Verification`]); the keys come from [`super::jwks`].
//! Microsoft Graph's tokens are not meant to be verified by clients (their
//! signature covers a nonce the client never sees): for a tenant that
//! expects Graph (or no audience in particular) they are reported as not
//! verifiable by design, not as failing; for a tenant that expects another
//! audience a Graph token is a wrong audience (it asks for the wrong
//! resource).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Serialize;
use serde_json::Value;

use super::http::TenantClients;
use super::jwks::{self, KeySet, PublicKey};
use crate::config::Verification;

/// Why a token is verified or not: a closed set, shown on the page and in
/// the JSON (`token_verification.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyReason {
    /// Every check passed.
    Verified,
    /// The token is not a JWT (an opaque token): nothing to verify.
    Opaque,
    /// A JWT whose claims are not a JSON object.
    Malformed,
    /// Signed with an algorithm credprobe does not verify (or `none`).
    UnsupportedAlgorithm,
    /// The issuer's discovery document could not be read.
    DiscoveryFailed,
    /// The JWK Set could not be read.
    KeysUnavailable,
    /// The token's `kid` is not in the JWK Set, even fetched again.
    UnknownKid,
    /// The signature does not verify with the published key.
    BadSignature,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` names none of `expect_audience`.
    WrongAudience,
    /// `exp` had passed when the token arrived.
    Expired,
    /// `nbf` was still ahead when the token arrived.
    NotYetValid,
    /// A Microsoft Graph token: not meant to be verified by clients.
    NotVerifiableByDesign,
}

impl VerifyReason {
    /// The machine name.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyReason::Verified => "verified",
            VerifyReason::Opaque => "opaque",
            VerifyReason::Malformed => "malformed",
            VerifyReason::UnsupportedAlgorithm => "unsupported_algorithm",
            VerifyReason::DiscoveryFailed => "discovery_failed",
            VerifyReason::KeysUnavailable => "keys_unavailable",
            VerifyReason::UnknownKid => "unknown_kid",
            VerifyReason::BadSignature => "bad_signature",
            VerifyReason::WrongIssuer => "wrong_issuer",
            VerifyReason::WrongAudience => "wrong_audience",
            VerifyReason::Expired => "expired",
            VerifyReason::NotYetValid => "not_yet_valid",
            VerifyReason::NotVerifiableByDesign => "not_verifiable_by_design",
        }
    }

    /// The value of `credprobe_token_verified`: 1 verified, 0 not, none
    /// for a token not meant to be verified.
    pub fn verified(self) -> Option<bool> {
        match self {
            VerifyReason::Verified => Some(true),
            VerifyReason::NotVerifiableByDesign => None,
            _ => Some(false),
        }
    }
}

/// What verifying the newest token found: what the record keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenVerification {
    /// True when verified, false when not, `null` when the token is not
    /// meant to be verified (Graph).
    pub verified: Option<bool>,
    /// Why.
    pub reason: VerifyReason,
    /// More words on a failure (the unknown `kid`, the `iss` found, the
    /// fetch that failed); never the token.
    pub detail: Option<Arc<str>>,
    /// Our receive time minus the token's `iat`, in seconds, when the
    /// token is a JWT with an `iat`.
    pub clock_skew_seconds: Option<i64>,
}

impl TokenVerification {
    fn of(reason: VerifyReason, detail: Option<String>, skew: Option<i64>) -> TokenVerification {
        TokenVerification {
            verified: reason.verified(),
            reason,
            detail: detail.map(Arc::from),
            clock_skew_seconds: skew,
        }
    }
}

/// Graph's audiences, by URI (global and national clouds) or app id.
const GRAPH_AUDIENCES: [&str; 5] = [
    "https://graph.microsoft.com",
    "00000003-0000-0000-c000-000000000000",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn",
];

/// A JWT taken apart (not yet verified).
struct Jwt<'a> {
    header: Value,
    claims: Value,
    signed: &'a str,
    signature: Vec<u8>,
}

impl Jwt<'_> {
    /// Splits and decodes a compact JWS; `Err(Opaque)` when it is not one,
    /// `Err(Malformed)` when its claims are not a JSON object.
    fn parse(token: &str) -> Result<Jwt<'_>, VerifyReason> {
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok();
        let object = |part: &str| {
            decode(part)
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .filter(Value::is_object)
        };
        let mut parts = token.splitn(4, '.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyReason::Opaque);
        };
        let header_value = object(header).ok_or(VerifyReason::Opaque)?;
        let claims = object(payload).ok_or(VerifyReason::Malformed)?;
        let signature = decode(signature).ok_or(VerifyReason::Malformed)?;
        Ok(Jwt {
            header: header_value,
            claims,
            signed: &token[..header.len() + 1 + payload.len()],
            signature,
        })
    }

    fn header_text(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    fn seconds(&self, name: &str) -> Option<i64> {
        let value = self.claims.get(name)?;
        value
            .as_i64()
            .or_else(|| value.as_f64().filter(|s| s.is_finite()).map(|s| s as i64))
    }

    /// `aud`, a string or a list of strings.
    fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Seconds since the epoch, signed.
fn unix(at: SystemTime) -> i64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Verifies `token`, received at `received_at`, as `settings` say.
pub async fn verify(
    clients: &TenantClients,
    settings: &Verification,
    token: &str,
    received_at: SystemTime,
    timeout: Duration,
) -> TokenVerification {
    let jwt = match Jwt::parse(token) {
        Ok(jwt) => jwt,
        Err(reason) => return TokenVerification::of(reason, None, None),
    };
    let skew = jwt.seconds("iat").map(|iat| unix(received_at) - iat);
    let fail = |reason, detail: String| TokenVerification::of(reason, Some(detail), skew);
    if jwt.audiences().iter().any(|aud| is_graph(aud)) {
        if expects_graph(&settings.expect_audience) {
            return fail(
                VerifyReason::NotVerifiableByDesign,
                "a Microsoft Graph token: only Graph verifies it".into(),
            );
        }
        // A Graph token where another audience is expected: the tenant asks
        // for the wrong resource. Its signature would not verify either
        // (Graph signs over a nonce), which would hide the real mistake.
        return fail(
            VerifyReason::WrongAudience,
            wrong_audience(
                &jwt,
                &settings.expect_audience,
                " (a Microsoft Graph token)",
            ),
        );
    }
    let algorithm = jwt.header_text("alg").unwrap_or("");
    if !matches!(algorithm, "ES256" | "RS256") {
        return fail(
            VerifyReason::UnsupportedAlgorithm,
            format!(
                "alg {:?} (ES256 and RS256 are verified)",
                algorithm.chars().take(16).collect::<String>()
            ),
        );
    }
    let client = match &clients.token {
        Ok(client) => client,
        Err(why) => return fail(VerifyReason::KeysUnavailable, why.to_string()),
    };
    let jwks_url = match (&settings.jwks_url, &settings.issuer) {
        (Some(url), _) => url.clone(),
        (None, Some(issuer)) => match jwks::discover(client, issuer, timeout).await {
            Ok(found) => match &found.jwks_uri {
                Some(url) => url.clone(),
                None => {
                    return fail(
                        VerifyReason::DiscoveryFailed,
                        format!("{} has no jwks_uri URL", found.document),
                    );
                }
            },
            Err(why) => return fail(VerifyReason::DiscoveryFailed, why.to_string()),
        },
        (None, None) => return fail(VerifyReason::KeysUnavailable, "no JWKS configured".into()),
    };
    let kid = jwt.header_text("kid");
    let keys = match jwks::key_set(client, &jwks_url, kid, timeout).await {
        Ok(keys) => keys,
        Err(why) => return fail(VerifyReason::KeysUnavailable, why.to_string()),
    };
    if let Err((reason, detail)) = check_signature(&jwt, algorithm, kid, &keys) {
        return fail(reason, detail);
    }
    if let Some(issuer) = &settings.issuer {
        let iss = jwt.claims.get("iss").and_then(Value::as_str).unwrap_or("");
        if iss != issuer {
            return fail(
                VerifyReason::WrongIssuer,
                format!(
                    "iss {:?}, expected {issuer:?}",
                    iss.chars().take(256).collect::<String>()
                ),
            );
        }
    }
    let now = unix(received_at);
    if let Some(exp) = jwt.seconds("exp")
        && exp <= now
    {
        return fail(
            VerifyReason::Expired,
            format!("exp was {}s before it arrived", now - exp),
        );
    }
    if let Some(nbf) = jwt.seconds("nbf")
        && nbf > now
    {
        return fail(
            VerifyReason::NotYetValid,
            format!("nbf is {}s after it arrived", nbf - now),
        );
    }
    if !settings.expect_audience.is_empty()
        && !jwt
            .audiences()
            .iter()
            .any(|aud| settings.expect_audience.iter().any(|want| want == aud))
    {
        return fail(
            VerifyReason::WrongAudience,
            wrong_audience(&jwt, &settings.expect_audience, ""),
        );
    }
    TokenVerification::of(VerifyReason::Verified, None, skew)
}

/// Whether `audience` is Microsoft Graph's (any cloud, URI or app id).
fn is_graph(audience: &str) -> bool {
    GRAPH_AUDIENCES
        .iter()
        .any(|graph| audience.trim_end_matches('/').eq_ignore_ascii_case(graph))
}

/// Whether a tenant expecting `expected` asks for Graph tokens: it expects
/// no audience in particular, or a Graph one (the Entra preset for the
/// resource `https://graph.microsoft.com`). Only then is a Graph token
/// "not verifiable by design" rather than a wrong audience.
fn expects_graph(expected: &[String]) -> bool {
    expected.is_empty() || expected.iter().any(|aud| is_graph(aud))
}

/// The detail of `wrong_audience`: the `aud` found (bounded) and the
/// audiences expected.
fn wrong_audience(jwt: &Jwt<'_>, expected: &[String], what: &str) -> String {
    let found: Vec<String> = jwt
        .audiences()
        .iter()
        .take(4)
        .map(|a| a.chars().take(256).collect())
        .collect();
    format!("aud {found:?}{what}, expected one of {expected:?}")
}

/// Checks the signature with the key `kid` names (any key of the
/// algorithm's type when the token has no `kid`).
fn check_signature(
    jwt: &Jwt<'_>,
    algorithm: &str,
    kid: Option<&str>,
    keys: &KeySet,
) -> Result<(), (VerifyReason, String)> {
    let suits = |key: &PublicKey| {
        matches!(
            (algorithm, key),
            ("ES256", PublicKey::P256(_)) | ("RS256", PublicKey::Rsa { .. })
        )
    };
    let candidates: Vec<&PublicKey> = keys
        .keys
        .iter()
        .filter(|k| kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)))
        .map(|k| &k.key)
        .collect();
    if candidates.is_empty() {
        let kid = kid.unwrap_or("").chars().take(128).collect::<String>();
        return Err((
            VerifyReason::UnknownKid,
            format!("kid {kid:?} is not in the JWK Set"),
        ));
    }
    let message = jwt.signed.as_bytes();
    let good = candidates
        .into_iter()
        .filter(|key| suits(key))
        .any(|key| match key {
            PublicKey::P256(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, &jwt.signature)
                    .is_ok()
            }
            PublicKey::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    message,
                    &jwt.signature,
                )
                .is_ok(),
        });
    if good {
        Ok(())
    } else {
        Err((
            VerifyReason::BadSignature,
            format!("the {algorithm} signature does not verify with the published key"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_and_malformed_tokens_are_told_apart() {
        for token in ["opaque", "a.b", "a.b.c.d", "e30.e30"] {
            assert!(
                matches!(Jwt::parse(token), Err(VerifyReason::Opaque)),
                "{token}"
            );
        }
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#);
        let not_claims = URL_SAFE_NO_PAD.encode("[1]");
        assert!(matches!(
            Jwt::parse(&format!("{header}.{not_claims}.AA")),
            Err(VerifyReason::Malformed)
        ));
        let claims = URL_SAFE_NO_PAD.encode(r#"{"aud":["a","b"],"iat":1.5e9}"#);
        let token = format!("{header}.{claims}.AA");
        let jwt = Jwt::parse(&token).unwrap();
        assert_eq!(jwt.audiences(), ["a", "b"]);
        assert_eq!(jwt.seconds("iat"), Some(1_500_000_000));
        assert_eq!(jwt.signed, format!("{header}.{claims}"));
    }

    #[test]
    fn graph_tokens_are_by_design_only_where_graph_or_nothing_is_expected() {
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(expects_graph(&[]));
        assert!(expects_graph(&list(&["https://graph.microsoft.com/"])));
        assert!(expects_graph(&list(&[
            "api://x",
            "00000003-0000-0000-c000-000000000000"
        ])));
        assert!(!expects_graph(&list(&["api://x"])));
        assert!(!expects_graph(&list(&["https://graph.microsoft.com.evil"])));
    }

    #[test]
    fn only_graph_tokens_are_not_verifiable_by_design() {
        for reason in [
            VerifyReason::Opaque,
            VerifyReason::BadSignature,
            VerifyReason::WrongAudience,
        ] {
            assert_eq!(reason.verified(), Some(false));
        }
        assert_eq!(VerifyReason::Verified.verified(), Some(true));
        assert_eq!(VerifyReason::NotVerifiableByDesign.verified(), None);
    }
}
