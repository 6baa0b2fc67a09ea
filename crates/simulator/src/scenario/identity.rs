//! The identity-provider side of a scenario: how access tokens are signed
//! and the signing keys rotate ([`Signing`]), how discovery answers
//! ([`Discovery`]), what a token looks like ([`TokenFormat`], clock
//! offsets), and the credentials Microsoft Graph lists for an application
//! ([`AppCredential`]).

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::client_keys::ClientKeyError;

/// Why a time written in a scenario (`iat_offset`, an application
/// credential's `starts` or `expires`) is not one; carries the text as
/// written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimeError {
    /// A signed duration (`-5m`, `30s`) whose magnitude does not parse.
    #[error("{text:?} is not a duration such as -5m or 30s: {error}")]
    NotSignedDuration {
        /// The text as written.
        text: String,
        /// What humantime said.
        error: humantime::DurationError,
    },
    /// A signed duration of more seconds than an `i64` holds.
    #[error("{text:?} is too large a duration")]
    DurationTooLarge {
        /// The text as written.
        text: String,
    },
    /// `in D` or `D ago` whose duration does not parse.
    #[error("{text:?}: {error} (write `in 10d`, `3d ago` or RFC 3339)")]
    NotRelative {
        /// The text as written.
        text: String,
        /// What humantime said.
        error: humantime::DurationError,
    },
    /// `in D` past the end of `SystemTime`.
    #[error("{text:?} is too far ahead")]
    TooFarAhead {
        /// The text as written.
        text: String,
    },
    /// `D ago` before the start of `SystemTime`.
    #[error("{text:?} is too far back")]
    TooFarBack {
        /// The text as written.
        text: String,
    },
    /// Neither relative nor an RFC 3339 time in UTC.
    #[error("{text:?}: {error} (write `in 10d`, `3d ago` or RFC 3339 in UTC)")]
    NotRfc3339 {
        /// The text as written.
        text: String,
        /// What humantime said.
        error: humantime::TimestampError,
    },
}

/// The algorithm access tokens are signed with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum SigningAlgorithm {
    /// ECDSA P-256 with SHA-256: a key generated at start (and at each
    /// rotation); cheap to sign with, so the default.
    #[default]
    ES256,
    /// RSA PKCS#1 v1.5 with SHA-256, as Microsoft Entra ID signs: 2048-bit
    /// throwaway keys shipped with the simulator (ring cannot generate RSA
    /// keys), used in turn; every rotation still gets a new `kid`.
    RS256,
}

impl SigningAlgorithm {
    /// The JOSE name (`alg`).
    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::RS256 => "RS256",
        }
    }
}

/// How the simulator signs access tokens and rotates its signing key, so a
/// verifier's handling of the JWKS (an unknown `kid`, a key published late)
/// can be tested.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// `ES256` (default) or `RS256`.
    #[serde(default)]
    pub algorithm: SigningAlgorithm,
    /// Rotate the signing key this often (a new key, a new `kid`); never
    /// when unset. `POST /__simulator/rotate-signing-key` rotates at once.
    #[serde(default, with = "humantime_serde")]
    pub rotation: Option<Duration>,
    /// A rotated key signs at once but appears in the JWKS only this long
    /// after, so a verifier that caches the JWKS meets an unknown `kid`
    /// and must fetch it again. The JWKS always lists the previous key.
    #[serde(default, with = "humantime_serde")]
    pub publish_delay: Option<Duration>,
}

/// How a discovery document answers, so each way discovery fails can be
/// produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryAnswer {
    /// The document, correct.
    #[default]
    Normal,
    /// 404 (the other well-known document may still answer).
    NotFound,
    /// 500.
    ServerError,
    /// 200 with a body that is not JSON (a truncated document).
    InvalidJson,
    /// The document, naming an `issuer` other than the one it belongs to
    /// (`https://mismatched-issuer.invalid`).
    WrongIssuer,
    /// The document, correct but without `token_endpoint` (a provider that
    /// publishes only its keys).
    NoTokenEndpoint,
}

/// What the discovery documents (`/.well-known/openid-configuration`, RFC
/// 8414's `/.well-known/oauth-authorization-server`) say and how they fail.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discovery {
    /// The issuer of the root authority, instead of the simulator's URL as
    /// the request reached it (scheme and `Host`); the other authorities
    /// append their path to it. Tokens carry it as `iss`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// How every `openid-configuration` document answers.
    #[serde(default)]
    pub openid_configuration: DiscoveryAnswer,
    /// How every `oauth-authorization-server` document answers.
    #[serde(default)]
    pub oauth_authorization_server: DiscoveryAnswer,
}

/// What an issued access token is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    /// A signed JWT (the key is in the JWKS).
    #[default]
    Jwt,
    /// A random string, not a JWT, as some providers issue.
    Opaque,
}

/// What kind of credential Microsoft Graph lists, and what identifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppCredentialKind {
    /// A client secret (`passwordCredentials`), known by its `hint`: the
    /// first three characters of the secret, as Entra ID shows them.
    Secret {
        /// The hint.
        hint: String,
    },
    /// A certificate (`keyCredentials`), known by its thumbprint:
    /// SHA-1 of the DER, hex upper case (Graph lists it in base64 as
    /// `customKeyIdentifier`).
    Certificate {
        /// The thumbprint.
        thumbprint: String,
    },
}

/// One credential of an application as Microsoft Graph lists it, so the
/// expiry of secrets and certificates can be read from the simulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppCredential {
    /// A secret or a certificate, with what identifies it.
    pub kind: AppCredentialKind,
    /// `keyId`; derived from the client id and the position when `None`.
    pub key_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `startDateTime`; a year before `end` when `None`.
    pub start: Option<SystemTime>,
    /// `endDateTime`.
    pub end: SystemTime,
}

impl AppCredential {
    /// A client secret credential for `secret`, ending at `end`.
    pub fn secret(secret: &str, end: SystemTime) -> AppCredential {
        AppCredential {
            kind: AppCredentialKind::Secret {
                hint: secret_hint(secret),
            },
            key_id: None,
            display_name: None,
            start: None,
            end,
        }
    }

    /// A certificate credential with SHA-1 thumbprint `thumbprint` (hex, any
    /// case), ending at `end`.
    pub fn certificate(thumbprint: &str, end: SystemTime) -> AppCredential {
        AppCredential {
            kind: AppCredentialKind::Certificate {
                thumbprint: thumbprint.to_ascii_uppercase(),
            },
            key_id: None,
            display_name: None,
            start: None,
            end,
        }
    }
}

/// Entra ID's hint of a secret: its first three characters.
pub fn secret_hint(secret: &str) -> String {
    secret.chars().take(3).collect()
}

/// The SHA-1 thumbprint (hex upper case) and the end of validity of a PEM
/// certificate, as Graph lists a certificate credential.
pub(crate) fn certificate_facts(pem: &str) -> Result<(String, SystemTime), ClientKeyError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(ClientKeyError::NotPemCertificate)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| ClientKeyError::NotCertificate(Box::new(e)))?;
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    let thumbprint = digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect();
    let not_after = cert.validity().not_after.timestamp();
    let end = u64::try_from(not_after)
        .ok()
        .and_then(|secs| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Ok((thumbprint, end))
}

/// A signed duration as YAML writes it: `-5m`, `+30s`, `90s`: seconds.
pub(crate) fn signed_seconds(text: &str) -> Result<i64, TimeError> {
    let text = text.trim();
    let (sign, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let duration = humantime::parse_duration(magnitude.trim()).map_err(|error| {
        TimeError::NotSignedDuration {
            text: text.to_owned(),
            error,
        }
    })?;
    let secs = i64::try_from(duration.as_secs()).map_err(|_| TimeError::DurationTooLarge {
        text: text.to_owned(),
    })?;
    Ok(sign * secs)
}

/// A point in time as YAML writes it: `in 10d`, `3d ago`, or RFC 3339 in
/// UTC (`2027-01-31T00:00:00Z`); relative ones count from `now`.
pub(crate) fn point_in_time(text: &str, now: SystemTime) -> Result<SystemTime, TimeError> {
    let text = text.trim();
    let relative = |duration: &str| {
        humantime::parse_duration(duration.trim()).map_err(|error| TimeError::NotRelative {
            text: text.to_owned(),
            error,
        })
    };
    if let Some(ahead) = text.strip_prefix("in ") {
        let ahead = relative(ahead)?;
        return now
            .checked_add(ahead)
            .ok_or_else(|| TimeError::TooFarAhead {
                text: text.to_owned(),
            });
    }
    if let Some(behind) = text.strip_suffix(" ago") {
        let behind = relative(behind)?;
        return now
            .checked_sub(behind)
            .ok_or_else(|| TimeError::TooFarBack {
                text: text.to_owned(),
            });
    }
    humantime::parse_rfc3339_weak(text).map_err(|error| TimeError::NotRfc3339 {
        text: text.to_owned(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_seconds_take_a_sign() {
        assert_eq!(signed_seconds("-5m"), Ok(-300));
        assert_eq!(signed_seconds("+30s"), Ok(30));
        assert_eq!(signed_seconds("1h"), Ok(3600));
        assert!(signed_seconds("soon").is_err());
    }

    #[test]
    fn points_in_time_are_relative_or_rfc3339() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let day = Duration::from_secs(86_400);
        assert_eq!(point_in_time("in 10d", now), Ok(now + day * 10));
        assert_eq!(point_in_time("2d ago", now), Ok(now - day * 2));
        assert_eq!(
            point_in_time("1970-01-02T00:00:00Z", now),
            Ok(SystemTime::UNIX_EPOCH + day)
        );
        let error = point_in_time("tomorrow", now).unwrap_err().to_string();
        assert!(error.contains("tomorrow"), "{error}");
    }

    #[test]
    fn hints_are_three_characters() {
        assert_eq!(secret_hint("abcdef"), "abc");
        assert_eq!(secret_hint("ab"), "ab");
    }
}
