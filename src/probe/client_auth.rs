//! How a token request presents the tenant's credential (`client_auth`):
//! a Basic header (`basic`); `client_id` and `client_secret` in the form
//! (`post`); `client_id`, `client_assertion_type` and a freshly signed
//! `client_assertion` in the form (`private_key_jwt`); or only `client_id`
//! in the form (`tls_client_auth`: the certificate went in the TLS
//! handshake, see [`super::http::TenantClients`]). Never a Basic header
//! beside a form credential: identity providers refuse both at once.

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

use super::assertion::{ASSERTION_TYPE, SigningError, client_assertion};
use crate::config::{ClientAuth, Credential, TokenSettings};

/// The credential as one token request presents it.
pub enum Presentation<'a> {
    /// `Authorization: Basic`.
    Basic {
        /// The client id.
        client_id: &'a str,
        /// The secret, read now (shared with its source: not copied).
        secret: Arc<SecretString>,
    },
    /// Form fields, some of them secret.
    Form {
        /// `client_id` and any public field.
        public: Vec<(&'static str, &'a str)>,
        /// `client_secret` or `client_assertion`.
        secret: Option<(&'static str, Arc<SecretString>)>,
    },
}

impl<'a> Presentation<'a> {
    /// The presentation of `credential` (`settings`' own, or the next one
    /// of a rotation) for a request at `now`, as `settings`' method
    /// presents it: takes the secret's last good value (its file is looked
    /// at once per interval, by [`crate::watched_file::refresher`]) or
    /// signs an assertion with the key files' current version, for
    /// `token_url` (the configured or discovered endpoint: the assertion's
    /// `aud`). `Err` (a signing failure) says why, without key material.
    pub async fn with(
        settings: &'a TokenSettings,
        credential: &Credential,
        token_url: &url::Url,
        now: SystemTime,
    ) -> Result<Presentation<'a>, SigningError> {
        let client_id = settings.client_id.as_str();
        Ok(match credential {
            Credential::Secret(source) => {
                let secret = source.current();
                match settings.client_auth {
                    ClientAuth::Post => Presentation::Form {
                        public: vec![("client_id", client_id)],
                        secret: Some(("client_secret", secret)),
                    },
                    _ => Presentation::Basic { client_id, secret },
                }
            }
            Credential::Assertion(assertion) => {
                let material = assertion.keys.current();
                let jwt = client_assertion(assertion, &material, client_id, token_url, now)?;
                Presentation::Form {
                    public: vec![
                        ("client_id", client_id),
                        ("client_assertion_type", ASSERTION_TYPE),
                    ],
                    secret: Some(("client_assertion", Arc::new(jwt))),
                }
            }
            Credential::Certificate(_) => Presentation::Form {
                public: vec![("client_id", client_id)],
                secret: None,
            },
        })
    }

    /// Adds the credential to a request whose other form fields are
    /// `form`; the caller sends `form` (when not empty) after this.
    pub fn apply<'b>(
        &'b self,
        builder: reqwest::RequestBuilder,
        form: &mut Vec<(&'b str, &'b str)>,
    ) -> reqwest::RequestBuilder {
        match self {
            Presentation::Basic { client_id, secret } => {
                builder.header(AUTHORIZATION, basic_header(client_id, secret))
            }
            Presentation::Form { public, secret } => {
                form.extend(public.iter().copied());
                if let Some((name, value)) = secret {
                    form.push((name, value.expose_secret()));
                }
                builder
            }
        }
    }
}

/// `Authorization: Basic base64(client_id:secret)`, as reqwest's
/// `basic_auth` writes it (neither part form-encoded), marked sensitive; its
/// intermediate texts are wiped when dropped. Encoded in one pass: reqwest's
/// formatting writer cost more than the rest of building the request.
fn basic_header(client_id: &str, secret: &SecretString) -> HeaderValue {
    let secret = secret.expose_secret();
    let mut pair = Zeroizing::new(String::with_capacity(client_id.len() + 1 + secret.len()));
    pair.push_str(client_id);
    pair.push(':');
    pair.push_str(secret);
    let mut text = Zeroizing::new(String::with_capacity(6 + pair.len().div_ceil(3) * 4));
    text.push_str("Basic ");
    base64::engine::general_purpose::STANDARD.encode_string(pair.as_bytes(), &mut text);
    let mut value = HeaderValue::from_str(&text).expect("base64 is a valid header value");
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_basic_header_is_what_reqwest_would_send() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        for (id, secret) in [
            ("acme", "s3cr\u{e9}t:with colon"),
            ("", ""),
            ("id", "x".repeat(100).as_str()),
        ] {
            let ours = basic_header(id, &SecretString::from(secret.to_owned()));
            let theirs = client
                .get("http://127.0.0.1:9/")
                .basic_auth(id, Some(secret))
                .build()
                .unwrap();
            assert_eq!(&ours, &theirs.headers()[AUTHORIZATION], "{id}");
            assert!(ours.is_sensitive());
        }
    }
}
