//! What a token endpoint's answer says: on success the token, its lifetime
//! and the scopes it grants (RFC 6749 section 5.1, and the claims of a JWT
//! access token, read without verifying it); on failure the error body
//! (section 5.2, and Entra ID's `error_codes`). Read field by field with
//! [`super::json_fields`]: this runs on every token request.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use secrecy::SecretString;

use super::http::Answer;
use super::json_fields::{Field, NotAnObject, read_object};
use super::outcome::Grant;

/// A token obtained from the identity provider.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The bearer token; never shown.
    pub access_token: SecretString,
    /// When it was obtained.
    pub obtained_at: SystemTime,
    /// `expires_in`, or the JWT's `exp - iat`, when known.
    pub lifetime: Option<Duration>,
    /// When it expires, when known.
    pub expires_at: Option<SystemTime>,
    /// The scopes, roles and permissions granted, from the response's
    /// `scope` and the JWT's `scp`, `scope`, `roles` and `permissions`
    /// claims (read, not verified); `None` when neither says.
    pub scopes: Option<Arc<[Box<str>]>>,
}

impl IssuedToken {
    /// Whether the token can still be sent at `now`. A token of unknown
    /// expiry is trusted for `fallback` (one tenant interval).
    pub fn valid_at(&self, now: SystemTime, fallback: Duration) -> bool {
        let end = self.expires_at.unwrap_or(self.obtained_at + fallback);
        now < end
    }

    /// What may be kept of the token: its expiry, lifetime and scopes.
    pub fn grant(&self) -> Grant {
        Grant {
            expires_at: self.expires_at,
            lifetime: self.lifetime,
            scopes: self.scopes.clone(),
        }
    }
}

/// What an error body says, as far as credprobe reads it.
#[derive(Debug, Default)]
pub(super) struct ErrorBody {
    /// The RFC 6749 `error` code, when it looks like one: only a short
    /// code of letters and underscores is kept, as a free-text field could
    /// echo what was sent.
    pub code: Option<String>,
    /// Microsoft Entra ID's `error_codes` (numbers, at most four).
    pub codes: Vec<u64>,
    /// `error_description`, cut to 512 bytes: read for a few words by
    /// [`super::classify::RejectionReason::of`], never kept or shown.
    pub description: Option<String>,
}

impl ErrorBody {
    /// Reads `body`; anything that is not an object of these fields says
    /// nothing.
    pub fn of(body: &[u8]) -> ErrorBody {
        let Ok(fields) = read_object(body, &["error", "error_codes", "error_description"]) else {
            return ErrorBody::default();
        };
        let [error, codes, description] = fields;
        let code = error
            .as_ref()
            .and_then(Field::as_str)
            .filter(|code| {
                !code.is_empty()
                    && code.len() <= 64
                    && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
            .map(str::to_owned);
        let codes = match codes {
            Some(Field::List(items)) => items.iter().filter_map(Field::as_u64).take(4).collect(),
            _ => Vec::new(),
        };
        let description = description
            .as_ref()
            .and_then(Field::as_str)
            .map(|text| text.chars().take(512).collect());
        ErrorBody {
            code,
            codes,
            description,
        }
    }
}

/// Why a 2xx token response is not a usable token (the detail of
/// `invalid_response`). Never holds the token or any other field's value
/// but a short `token_type`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidToken {
    /// The body was cut at the limit.
    #[error("response body over the {0}-byte limit")]
    OverLimit(usize),
    /// Not JSON at all.
    #[error("response is not JSON")]
    NotJson,
    /// JSON, but not an object.
    #[error("response is not a JSON object")]
    NotObject,
    /// `access_token` missing, empty or not a string.
    #[error("response has no access_token")]
    NoAccessToken,
    /// A `token_type` other than bearer (its first 32 characters).
    #[error("token_type {0:?} is not bearer")]
    NotBearer(String),
    /// A `token_type` that is not a string.
    #[error("token_type is not a string")]
    TokenTypeNotText,
    /// `expires_in` zero, negative or beyond any sensible lifetime.
    #[error("expires_in is zero, negative or out of range")]
    ExpiresInOutOfRange,
    /// `expires_in` neither a number nor a numeric string.
    #[error("expires_in is not a number")]
    ExpiresInNotNumber,
}

/// Reads a successful token response (RFC 6749 section 5.1).
pub(super) fn parse_token(answer: &Answer) -> Result<IssuedToken, InvalidToken> {
    if answer.over_limit {
        return Err(InvalidToken::OverLimit(answer.body.len()));
    }
    let fields = read_object(
        &answer.body,
        &["access_token", "token_type", "expires_in", "scope"],
    )
    .map_err(|why| match why {
        NotAnObject::NotJson => InvalidToken::NotJson,
        NotAnObject::NotObject => InvalidToken::NotObject,
    })?;
    let [access_token, token_type, expires, scope] = fields;
    let access_token = match access_token {
        Some(Field::Text(token)) if !token.is_empty() => token.into_owned(),
        _ => return Err(InvalidToken::NoAccessToken),
    };
    match token_type {
        None => {}
        Some(Field::Text(kind)) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(Field::Text(kind)) => {
            return Err(InvalidToken::NotBearer(kind.chars().take(32).collect()));
        }
        Some(_) => return Err(InvalidToken::TokenTypeNotText),
    }
    let obtained_at = SystemTime::now();
    let lifetime = match &expires {
        None | Some(Field::Null) => None,
        Some(value) => Some(expires_in(value)?),
    };
    let payload = jwt_payload(&access_token);
    let claims = payload.as_deref().and_then(JwtClaims::read);
    let (lifetime, expires_at) = match lifetime {
        Some(lifetime) => (Some(lifetime), Some(obtained_at + lifetime)),
        None => match claims.as_ref().and_then(JwtClaims::times) {
            // exp at or before iat: no lifetime (a zero one would read as granted).
            Some((exp, iat)) => (
                iat.and_then(|iat| exp.duration_since(iat).ok())
                    .filter(|lifetime| !lifetime.is_zero()),
                Some(exp),
            ),
            None => (None, None),
        },
    };
    let scopes = granted_scopes(scope.as_ref(), claims.as_ref());
    Ok(IssuedToken {
        access_token: SecretString::from(access_token),
        obtained_at,
        lifetime,
        expires_at,
        scopes,
    })
}

/// The most scopes kept of one token, and the longest one: a hostile
/// token must not grow the record.
pub(super) const MAX_SCOPES: usize = 256;
const MAX_SCOPE_LEN: usize = 256;

/// The claims [`JwtClaims`] reads, in its field order.
const CLAIMS: [&str; 6] = ["exp", "iat", "scp", "scope", "roles", "permissions"];

/// The claims of a JWT access token that credprobe reads without verifying
/// the signature: when to expect expiry and what was granted. Borrows the
/// decoded payload ([`jwt_payload`]).
struct JwtClaims<'a> {
    /// The values of [`CLAIMS`], in its order.
    fields: [Option<Field<'a>>; CLAIMS.len()],
}

/// The decoded payload of `token` when it looks like a JWT.
fn jwt_payload(token: &str) -> Option<Vec<u8>> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()
}

impl<'a> JwtClaims<'a> {
    /// The claims of a payload that is a JSON object.
    fn read(payload: &'a [u8]) -> Option<JwtClaims<'a>> {
        let fields = read_object(payload, &CLAIMS).ok()?;
        Some(JwtClaims { fields })
    }

    /// The claim named `name` (one of [`CLAIMS`]).
    fn get(&self, name: &str) -> Option<&Field<'a>> {
        let index = CLAIMS.iter().position(|claim| *claim == name)?;
        self.fields[index].as_ref()
    }

    /// `exp` (and `iat`); a claim past what a `SystemTime` holds counts as
    /// absent.
    fn times(&self) -> Option<(SystemTime, Option<SystemTime>)> {
        let at = |name: &str| {
            self.get(name)?
                .as_f64()
                .filter(|s| s.is_finite() && *s > 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .and_then(|since_epoch| SystemTime::UNIX_EPOCH.checked_add(since_epoch))
        };
        Some((at("exp")?, at("iat")))
    }
}

/// The scopes a token grants: the union of the response's `scope` and the
/// JWT's `scp`, `scope`, `roles` and `permissions` claims, each a
/// space-separated string or a list of strings (providers differ, and
/// Nexthink does not say which it uses). `None` when none of them is there.
fn granted_scopes(response: Option<&Field>, claims: Option<&JwtClaims>) -> Option<Arc<[Box<str>]>> {
    let mut found = false;
    let mut scopes = BTreeSet::new();
    let mut add = |value: Option<&Field>| {
        let mut take = |word: &str| {
            if scopes.len() < MAX_SCOPES && !word.is_empty() && word.len() <= MAX_SCOPE_LEN {
                scopes.insert(Box::<str>::from(word));
            }
        };
        match value {
            Some(Field::Text(text)) => text.split_whitespace().for_each(&mut take),
            Some(Field::List(items)) => items.iter().filter_map(Field::as_str).for_each(&mut take),
            _ => return,
        }
        found = true;
    };
    add(response);
    if let Some(claims) = claims {
        for claim in ["scp", "scope", "roles", "permissions"] {
            add(claims.get(claim));
        }
    }
    found.then(|| scopes.into_iter().collect())
}

/// `expires_in` as a number or a numeric string; zero, negative or
/// non-numeric values are invalid.
fn expires_in(value: &Field) -> Result<Duration, InvalidToken> {
    let seconds = match value {
        Field::Number { value, .. } => Some(*value),
        Field::Text(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match seconds {
        // Under a nanosecond is zero to a Duration: no lifetime either.
        Some(s) if s.is_finite() && s > 0.0 && s < 1e10 => Some(Duration::from_secs_f64(s))
            .filter(|lifetime| !lifetime.is_zero())
            .ok_or(InvalidToken::ExpiresInOutOfRange),
        Some(_) => Err(InvalidToken::ExpiresInOutOfRange),
        None => Err(InvalidToken::ExpiresInNotNumber),
    }
}
