//! How a tenant's access token is verified: against the keys its identity
//! provider publishes (`jwks_url:`, or the JWKS discovery of `issuer:`
//! names), for the issuer and the audiences it must name. Built by
//! `validate::verification`; used by [`crate::probe::verify`].

use url::Url;

/// A tenant's token verification settings; a tenant has them when it sets
/// `issuer:` or `jwks_url:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// `issuer:` as written: the token's `iss` must equal it, and its
    /// discovery document names the JWKS unless `jwks_url` is set.
    pub issuer: Option<String>,
    /// `jwks_url:`: the JWK Set, instead of the one discovery names.
    pub jwks_url: Option<Url>,
    /// `expect_audience:` (for the Entra preset, its resource unless set):
    /// the token's `aud` must name one of them; not checked when empty.
    pub expect_audience: Vec<String>,
}
