//! What a verifier and a discovered token endpoint fetch from the
//! identity provider: the discovery document of an issuer (OpenID Connect
//! Discovery, falling back to RFC 8414 on a 404) and JWK Sets, each cached
//! per URL and shared by every tenant that names it, for both uses.
//!
//! Bounds: every fetch has the tenant's token timeout and reads at most
//! [`MAX_DOCUMENT_BYTES`]; a discovery document is re-read at most once an
//! hour ([`REFRESH`]); a JWK Set is re-read hourly and, on a `kid` it does
//! not list, at most once a minute ([`REFETCH_BOUND`]); a failure is
//! retried no sooner than a minute later. One fetch per URL runs at a time:
//! tenants asking meanwhile wait for its answer instead of sending their
//! own.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use url::Url;

/// How long a fetched document or key set is used before it is read again.
pub const REFRESH: Duration = Duration::from_secs(3600);

/// The least time between two fetches of one JWK Set for an unknown `kid`,
/// and before a failed fetch is tried again.
pub const REFETCH_BOUND: Duration = Duration::from_secs(60);

/// The largest discovery document or JWK Set read.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// The most keys kept of one JWK Set.
const MAX_KEYS: usize = 64;

/// The most URLs remembered per cache; past it the cache starts afresh
/// (the URLs come from the configuration and discovery documents, so this
/// only bounds a configuration that keeps changing them).
const MAX_ENTRIES: usize = 4096;

/// Why a document could not be fetched or read. Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// An HTTP status other than 200.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL fetched.
        url: String,
        /// Its status.
        status: u16,
    },
    /// No complete answer (timeout, DNS, connection, TLS).
    #[error("{url}: {why}")]
    Transport {
        /// The URL fetched.
        url: String,
        /// What failed.
        why: String,
    },
    /// The body passed [`MAX_DOCUMENT_BYTES`].
    #[error("{0}: body over the {MAX_DOCUMENT_BYTES}-byte limit")]
    TooLarge(String),
    /// The body is not a JSON object.
    #[error("{0}: not a JSON object")]
    NotJson(String),
    /// A discovery document without a usable field.
    #[error("{url}: {why}")]
    Document {
        /// The URL fetched.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The HTTP client of the tenant could not be built.
    #[error("no HTTP client: {0}")]
    NoClient(String),
}

/// What an issuer's discovery document says, as far as verifying needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The document's `issuer` (equal to the configured one: checked).
    pub issuer: String,
    /// Its `jwks_uri`, when it names one (RFC 8414 makes it optional; a
    /// verifier without it fails, a token request does not need it).
    pub jwks_uri: Option<Url>,
    /// Its `token_endpoint`, when it names one.
    pub token_endpoint: Option<Url>,
    /// Which well-known document answered.
    pub document: Url,
}

/// One public key of a JWK Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    /// Its `kid`, when it has one.
    pub kid: Option<String>,
    /// The key.
    pub key: PublicKey,
}

/// A public key a token may be signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// P-256, as an uncompressed point (ES256).
    P256(Vec<u8>),
    /// RSA modulus and exponent, big-endian (RS256).
    Rsa {
        /// `n`.
        n: Vec<u8>,
        /// `e`.
        e: Vec<u8>,
    },
}

/// A fetched JWK Set: the keys credprobe can verify with (EC P-256 and
/// RSA signing keys; others are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    /// The keys, in the set's order.
    pub keys: Vec<Jwk>,
}

impl KeySet {
    /// Whether a key has `kid`.
    pub fn has(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Reads a JWK Set document.
    pub fn parse(document: &Value) -> KeySet {
        let keys = document
            .get("keys")
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(jwk).take(MAX_KEYS).collect())
            .unwrap_or_default();
        KeySet { keys }
    }
}

/// One JWK, when it is a signing key credprobe can use.
fn jwk(value: &Value) -> Option<Jwk> {
    let text = |name: &str| value.get(name).and_then(Value::as_str);
    let bytes = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(text(name)?.trim_end_matches('='))
            .ok()
    };
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let key = match text("kty")? {
        "EC" if text("crv") == Some("P-256") => {
            let (x, y) = (bytes("x")?, bytes("y")?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            PublicKey::P256(point)
        }
        "RSA" => PublicKey::Rsa {
            n: bytes("n")?,
            e: bytes("e")?,
        },
        _ => return None,
    };
    Some(Jwk {
        kid: text("kid").map(str::to_owned),
        key,
    })
}

/// A cached document: the newest one read, and when fetching last ended.
#[derive(Debug)]
struct Entry<T> {
    value: Option<Arc<T>>,
    fetched_at: Option<Instant>,
    failed: Option<(Instant, FetchError)>,
}

impl<T> Default for Entry<T> {
    fn default() -> Entry<T> {
        Entry {
            value: None,
            fetched_at: None,
            failed: None,
        }
    }
}

type Cache<T> = LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry<T>>>>>>;

static DISCOVERY: Cache<Discovered> = LazyLock::new(Default::default);
static JWKS: Cache<KeySet> = LazyLock::new(Default::default);

/// The entry of `url` in `cache`, made when missing.
fn entry<T>(cache: &Cache<T>, url: &str) -> Arc<tokio::sync::Mutex<Entry<T>>> {
    let mut map = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if map.len() >= MAX_ENTRIES && !map.contains_key(url) {
        map.clear();
    }
    map.entry(url.to_owned()).or_default().clone()
}

/// The discovery document of `issuer`, from the cache when read within
/// the hour.
pub async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    timeout: Duration,
) -> Result<Arc<Discovered>, FetchError> {
    let entry = entry(&DISCOVERY, issuer);
    let mut entry = entry.lock().await;
    if let (Some(value), Some(at)) = (&entry.value, entry.fetched_at)
        && at.elapsed() < REFRESH
    {
        return Ok(value.clone());
    }
    if let Some((at, why)) = &entry.failed
        && at.elapsed() < REFETCH_BOUND
    {
        return Err(why.clone());
    }
    match fetch_discovery(client, issuer, timeout).await {
        Ok(found) => {
            let found = Arc::new(found);
            *entry = Entry {
                value: Some(found.clone()),
                fetched_at: Some(Instant::now()),
                failed: None,
            };
            Ok(found)
        }
        Err(why) => {
            *entry = Entry {
                value: None,
                fetched_at: None,
                failed: Some((Instant::now(), why.clone())),
            };
            Err(why)
        }
    }
}

/// The two well-known URLs of `issuer`: OpenID Connect's (appended to the
/// issuer) and RFC 8414's (inserted between the host and the issuer's path).
pub fn well_known(issuer: &Url) -> (Url, Url) {
    let path = issuer.path().trim_end_matches('/');
    let mut openid = issuer.clone();
    openid.set_path(&format!("{path}/.well-known/openid-configuration"));
    let mut oauth = issuer.clone();
    oauth.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    for url in [&mut openid, &mut oauth] {
        url.set_query(None);
        url.set_fragment(None);
    }
    (openid, oauth)
}

async fn fetch_discovery(
    client: &reqwest::Client,
    issuer: &str,
    timeout: Duration,
) -> Result<Discovered, FetchError> {
    let parsed = Url::parse(issuer).map_err(|e| FetchError::Document {
        url: issuer.to_owned(),
        why: format!("the issuer is not a URL: {e}"),
    })?;
    let (openid, oauth) = well_known(&parsed);
    let (document, value) = match get_json(client, &openid, timeout).await {
        Ok(value) => (openid, value),
        Err(FetchError::Status { status: 404, .. }) => {
            let value = get_json(client, &oauth, timeout).await?;
            (oauth, value)
        }
        Err(why) => return Err(why),
    };
    let bad = |why: String| FetchError::Document {
        url: document.to_string(),
        why,
    };
    let named = value.get("issuer").and_then(Value::as_str).unwrap_or("");
    if named != issuer {
        return Err(bad(format!(
            "names issuer {:?}, not {issuer:?}",
            named.chars().take(256).collect::<String>()
        )));
    }
    let url_field = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .and_then(|text| Url::parse(text).ok())
            .filter(|url| matches!(url.scheme(), "https" | "http"))
    };
    Ok(Discovered {
        issuer: issuer.to_owned(),
        jwks_uri: url_field("jwks_uri"),
        token_endpoint: url_field("token_endpoint"),
        document,
    })
}

/// The JWK Set at `url`: from the cache when read within the hour and, if
/// `kid` is given, listing it; fetched again otherwise, but for an unknown
/// `kid` at most once per [`REFETCH_BOUND`] (then the cached set is
/// answered, without the key).
pub async fn key_set(
    client: &reqwest::Client,
    url: &Url,
    kid: Option<&str>,
    timeout: Duration,
) -> Result<Arc<KeySet>, FetchError> {
    let entry = entry(&JWKS, url.as_str());
    let mut entry = entry.lock().await;
    if let (Some(keys), Some(at)) = (&entry.value, entry.fetched_at) {
        let fresh = at.elapsed() < REFRESH;
        let known = kid.is_none_or(|kid| keys.has(kid));
        if (fresh && known) || at.elapsed() < REFETCH_BOUND {
            return Ok(keys.clone());
        }
    }
    if let Some((at, why)) = &entry.failed
        && at.elapsed() < REFETCH_BOUND
    {
        return match &entry.value {
            Some(keys) => Ok(keys.clone()),
            None => Err(why.clone()),
        };
    }
    match get_json(client, url, timeout).await {
        Ok(document) => {
            let keys = Arc::new(KeySet::parse(&document));
            *entry = Entry {
                value: Some(keys.clone()),
                fetched_at: Some(Instant::now()),
                failed: None,
            };
            Ok(keys)
        }
        Err(why) => {
            entry.failed = Some((Instant::now(), why.clone()));
            // A set read within the hour still serves the keys it lists.
            match (&entry.value, entry.fetched_at) {
                (Some(keys), Some(at)) if at.elapsed() < REFRESH => Ok(keys.clone()),
                _ => Err(why),
            }
        }
    }
}

/// GETs `url` and reads a JSON object of at most [`MAX_DOCUMENT_BYTES`],
/// all within `timeout`.
async fn get_json(
    client: &reqwest::Client,
    url: &Url,
    timeout: Duration,
) -> Result<Value, FetchError> {
    let name = url.to_string();
    let transport = |why: String| FetchError::Transport {
        url: name.clone(),
        why,
    };
    let read = async {
        let mut response = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport(super::http::error_chain(&e)))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(FetchError::Status {
                url: name.clone(),
                status,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport(super::http::error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge(name.clone()));
            }
            body.extend_from_slice(&chunk);
        }
        let value: Value =
            serde_json::from_slice(&body).map_err(|_| FetchError::NotJson(name.clone()))?;
        if value.is_object() {
            Ok(value)
        } else {
            Err(FetchError::NotJson(name.clone()))
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| Err(transport(format!("no answer within {timeout:?}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_of_an_issuer_with_and_without_a_path() {
        let (openid, oauth) = well_known(&Url::parse("https://idp.example/tenant/v2.0").unwrap());
        assert_eq!(
            openid.as_str(),
            "https://idp.example/tenant/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            oauth.as_str(),
            "https://idp.example/.well-known/oauth-authorization-server/tenant/v2.0"
        );
        let (openid, oauth) = well_known(&Url::parse("https://idp.example/").unwrap());
        assert_eq!(
            openid.as_str(),
            "https://idp.example/.well-known/openid-configuration"
        );
        assert_eq!(
            oauth.as_str(),
            "https://idp.example/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn a_key_set_keeps_the_signing_keys_it_can_use() {
        let set = KeySet::parse(&serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec", "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])},
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
            {"kty": "oct", "kid": "hmac", "k": "AA"},
        ]}));
        let kids: Vec<_> = set.keys.iter().map(|k| k.kid.as_deref().unwrap()).collect();
        assert_eq!(kids, ["ec", "rsa"]);
        assert!(set.has("ec") && !set.has("enc"));
        assert_eq!(KeySet::parse(&serde_json::json!({})).keys, []);
    }
}
