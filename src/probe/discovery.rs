//! The token endpoint of a tenant that names only its issuer: read from
//! the issuer's discovery document (OpenID Connect's, RFC 8414's on a
//! 404) through [`super::jwks::discover`], so one document per issuer is
//! fetched at most hourly and shared with token verification. Never a
//! silent fallback: a document that cannot be read, names no
//! `token_endpoint`, or names one the tenant's URL rules refuse is a
//! [`DiscoveryError`], and the token request is not sent
//! (`discovery_failed`).

use std::borrow::Cow;
use std::time::Duration;

use url::Url;

use super::jwks::{self, FetchError};
use crate::config::TokenEndpoint;
use crate::config::discovery::RefusedEndpoint;

/// Why the token endpoint could not be discovered: the detail of a
/// `discovery_failed` token result. Names the URL read and what was wrong,
/// never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The document could not be fetched or read (status, not JSON, too
    /// large, no answer, another issuer).
    #[error("token endpoint discovery: {0}")]
    Fetch(#[from] FetchError),
    /// The document names no http(s) `token_endpoint`.
    #[error("token endpoint discovery: {document} names no http(s) token_endpoint")]
    NoTokenEndpoint {
        /// The well-known document that answered.
        document: String,
    },
    /// The document names an endpoint the tenant may not call.
    #[error("token endpoint discovery: {document}: {why}")]
    Refused {
        /// The well-known document that answered.
        document: String,
        /// Which rule it breaks.
        why: RefusedEndpoint,
    },
}

/// The URL to send the token request to: the configured one, or the
/// `token_endpoint` of the issuer's discovery document (from the cache
/// when read within the hour).
pub async fn token_url<'a>(
    client: &reqwest::Client,
    endpoint: &'a TokenEndpoint,
    timeout: Duration,
) -> Result<Cow<'a, Url>, DiscoveryError> {
    let discovered = match endpoint {
        TokenEndpoint::Configured(url) => return Ok(Cow::Borrowed(url)),
        TokenEndpoint::Discovered(discovered) => discovered,
    };
    let document = jwks::discover(client, &discovered.issuer, timeout).await?;
    let url = document
        .token_endpoint
        .as_ref()
        .ok_or_else(|| DiscoveryError::NoTokenEndpoint {
            document: document.document.to_string(),
        })?;
    discovered
        .accept(url)
        .map_err(|why| DiscoveryError::Refused {
            document: document.document.to_string(),
            why,
        })?;
    Ok(Cow::Owned(url.clone()))
}
