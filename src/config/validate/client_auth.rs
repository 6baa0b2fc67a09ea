//! The `client_auth` of a tenant and what each method needs: a secret for
//! `basic` and `post`; a key file (and optionally its certificate and
//! `client_assertion:`) for `private_key_jwt`; a key and certificate over
//! https for `tls_client_auth`. Settings of another method are refused, so
//! a key never sits unused beside a secret that is sent instead.

use url::Url;

use super::LoadOptions;
use super::check::TenantCheck;
use crate::config::client_auth::{AssertionSettings, ClientIdentity, Credential};
use crate::config::keys::{KeyField, KeyFiles, SigningAlgorithm};
use crate::config::raw::{ClientAuth, RawTenant};
use std::sync::Arc;

/// The method a tenant uses: `client_auth` when set; otherwise `post` for
/// an `entra:` tenant (Entra ID documents the secret in the form body),
/// else `basic`.
pub(super) fn method(raw: &RawTenant) -> ClientAuth {
    raw.client_auth.unwrap_or(if raw.entra.is_some() {
        ClientAuth::Post
    } else {
        ClientAuth::default()
    })
}

impl TenantCheck<'_> {
    /// The credential `client_auth` asks for, and for `tls_client_auth` the
    /// identity the tenant's HTTP client presents.
    pub(super) fn credential(
        &mut self,
        raw: &RawTenant,
        options: &LoadOptions,
        token_url: Option<&Url>,
    ) -> (Option<Credential>, Option<ClientIdentity>) {
        let method = method(raw);
        match method {
            ClientAuth::Basic | ClientAuth::Post => {
                self.refuse_key_settings(raw, method);
                (self.secret(raw, options).map(Credential::Secret), None)
            }
            ClientAuth::PrivateKeyJwt => {
                self.refuse_secret_settings(raw, method);
                let assertion = raw.client_assertion.clone().unwrap_or_default();
                let key_id = self.non_empty("client_assertion.key_id", assertion.key_id);
                let audience = self.non_empty("client_assertion.audience", assertion.audience);
                let credential = self
                    .key_files(raw, method, assertion.algorithm)
                    .map(|keys| {
                        Credential::Assertion(AssertionSettings {
                            keys,
                            key_id,
                            audience,
                        })
                    });
                (credential, None)
            }
            ClientAuth::TlsClientAuth => {
                self.refuse_secret_settings(raw, method);
                if raw.client_assertion.is_some() {
                    self.problem(
                        "client_assertion",
                        "only used with client_auth: private_key_jwt",
                    );
                }
                if token_url.is_some_and(|url| url.scheme() != "https") {
                    self.problem(
                        "token_url",
                        "client_auth: tls_client_auth presents the certificate in the TLS \
                         handshake, so the token URL must be https",
                    );
                }
                if raw.client_certificate_file.is_none() {
                    self.problem(
                        "client_certificate_file",
                        "required with client_auth: tls_client_auth",
                    );
                    return (None, None);
                }
                let files = self.key_files(raw, method, None);
                (
                    files.clone().map(Credential::Certificate),
                    files.map(ClientIdentity),
                )
            }
        }
    }

    /// Opens `client_key_file` and `client_certificate_file` (relative to
    /// the defining file's folder) and checks them together.
    fn key_files(
        &mut self,
        raw: &RawTenant,
        method: ClientAuth,
        algorithm: Option<SigningAlgorithm>,
    ) -> Option<Arc<KeyFiles>> {
        let Some(key) = &raw.client_key_file else {
            self.problem(
                "client_key_file",
                format!("required with client_auth: {}", method_name(method)),
            );
            return None;
        };
        if !self.read_files {
            // Another shard's tenant: its key files are that shard's to read.
            return None;
        }
        let key = self.base_dir.join(key);
        let certificate = raw
            .client_certificate_file
            .as_ref()
            .map(|path| self.base_dir.join(path));
        match KeyFiles::open(&key, certificate.as_deref(), algorithm) {
            Ok(files) => {
                self.private_file("client_key_file", &key);
                Some(files)
            }
            Err(error) => {
                self.problem(error.field.name(), error.to_string());
                None
            }
        }
    }

    /// `next_client_key_file` (with `next_client_certificate_file`, which
    /// is required when the current credential has a certificate): the key
    /// a rotation moves to, read and checked now as the current one is, and
    /// presented as the current one is: an assertion signed with it (its
    /// `kid` is `client_assertion.next_key_id`, the rest as configured), or
    /// the next certificate in its own mTLS client.
    pub(super) fn next_key_credential(
        &mut self,
        raw: &RawTenant,
        method: ClientAuth,
        current: Option<&Credential>,
    ) -> Option<Credential> {
        let assertion = raw.client_assertion.clone().unwrap_or_default();
        let Some(key) = &raw.next_client_key_file else {
            for (field, given) in [
                (
                    "next_client_certificate_file",
                    raw.next_client_certificate_file.is_some(),
                ),
                (
                    "client_assertion.next_key_id",
                    assertion.next_key_id.is_some(),
                ),
            ] {
                if given {
                    self.problem(field, "only used with next_client_key_file");
                }
            }
            return None;
        };
        if raw.client_certificate_file.is_some() && raw.next_client_certificate_file.is_none() {
            self.problem(
                "next_client_certificate_file",
                format!(
                    "required with next_client_key_file when client_certificate_file is set \
                     (client_auth: {} {})",
                    method_name(method),
                    if method == ClientAuth::TlsClientAuth {
                        "presents the next key's certificate in the TLS handshake"
                    } else {
                        "sends the next certificate's x5t#S256"
                    }
                ),
            );
            return None;
        }
        let next_key_id = self.non_empty("client_assertion.next_key_id", assertion.next_key_id);
        if !self.read_files {
            // Another shard's tenant: its key files are that shard's to read.
            return None;
        }
        let key = self.base_dir.join(key);
        let certificate = raw
            .next_client_certificate_file
            .as_ref()
            .map(|path| self.base_dir.join(path));
        let files = match KeyFiles::open(&key, certificate.as_deref(), assertion.algorithm) {
            Ok(files) => {
                self.private_file("next_client_key_file", &key);
                files
            }
            Err(error) => {
                self.problem(next_field(error.field), error.to_string());
                return None;
            }
        };
        match current? {
            Credential::Assertion(current) => Some(Credential::Assertion(AssertionSettings {
                keys: files,
                key_id: next_key_id,
                audience: current.audience.clone(),
            })),
            Credential::Certificate(_) => Some(Credential::Certificate(files)),
            Credential::Secret(_) => None,
        }
    }

    /// `basic` and `post` send a secret: a key or certificate beside it
    /// would never be used.
    fn refuse_key_settings(&mut self, raw: &RawTenant, method: ClientAuth) {
        let given = [
            ("client_key_file", raw.client_key_file.is_some()),
            (
                "client_certificate_file",
                raw.client_certificate_file.is_some(),
            ),
            ("client_assertion", raw.client_assertion.is_some()),
        ];
        let default = if raw.client_auth.is_none() {
            ", the default"
        } else {
            ""
        };
        for (field, _) in given.iter().filter(|(_, given)| *given) {
            self.problem(
                *field,
                format!(
                    "only used with client_auth: private_key_jwt or tls_client_auth \
                     (client_auth is {}{default})",
                    method_name(method)
                ),
            );
        }
    }

    /// `private_key_jwt` and `tls_client_auth` send no secret.
    fn refuse_secret_settings(&mut self, raw: &RawTenant, method: ClientAuth) {
        let given = [
            ("client_secret_file", raw.client_secret_file.is_some()),
            ("client_secret_env", raw.client_secret_env.is_some()),
            ("client_secret", raw.client_secret.is_some()),
        ];
        for (field, _) in given.iter().filter(|(_, given)| *given) {
            self.problem(
                *field,
                format!(
                    "no secret is sent with client_auth: {}; remove it",
                    method_name(method)
                ),
            );
        }
    }

    /// An optional text that, when given, is not blank.
    fn non_empty(&mut self, field: &str, value: Option<String>) -> Option<String> {
        let value = value?;
        if value.trim().is_empty() {
            self.problem(field, "is empty");
            return None;
        }
        Some(value)
    }
}

/// The field of the next credential a key file problem is about.
fn next_field(field: KeyField) -> &'static str {
    match field {
        KeyField::Key => "next_client_key_file",
        KeyField::Certificate => "next_client_certificate_file",
        KeyField::Algorithm => KeyField::Algorithm.name(),
    }
}

/// `client_auth` as written in YAML.
fn method_name(method: ClientAuth) -> &'static str {
    match method {
        ClientAuth::Basic => "basic",
        ClientAuth::Post => "post",
        ClientAuth::PrivateKeyJwt => "private_key_jwt",
        ClientAuth::TlsClientAuth => "tls_client_auth",
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::load_str;
    use crate::config::{ClientAuth, Credential, LoadOptions, SigningAlgorithm};

    const RSA_A: &str = include_str!("../../../tests/keys/example-rsa-a.pem");
    const RSA_B: &str = include_str!("../../../tests/keys/example-rsa-b.pem");

    fn certificate_for(key_pem: &str) -> String {
        let pair = rcgen::KeyPair::from_pem(key_pem).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["client.example".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 1, 15);
        params.self_signed(&pair).unwrap().pem()
    }

    /// A folder with `a.pem`/`a.crt` (matching), `b.crt` (another key's).
    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.pem"), RSA_A).unwrap();
        std::fs::write(dir.path().join("a.crt"), certificate_for(RSA_A)).unwrap();
        std::fs::write(dir.path().join("b.crt"), certificate_for(RSA_B)).unwrap();
        dir
    }

    const QUIET: LoadOptions = LoadOptions {
        warn_inline_secrets: false,
        log_warnings: false,
        shard: crate::shard::Shard::ALL,
    };

    fn tenant(fields: &str) -> String {
        format!(
            "tenants: [{{name: acme, token_url: 'https://login.example.com/oauth2/token', client_id: abc{fields}}}]\n"
        )
    }

    /// The problems of a tenant with `fields`: (field, message) pairs.
    fn problems(dir: &Path, fields: &str) -> Vec<(String, String)> {
        let main = dir.join("main.yml");
        match load_str(&tenant(fields), &main, &QUIET) {
            Ok(_) => Vec::new(),
            Err(error) => error
                .problems
                .into_iter()
                .map(|p| {
                    assert_eq!(p.file, main);
                    assert_eq!(p.tenant.as_deref(), Some("acme"));
                    (p.field.unwrap_or_default(), p.message)
                })
                .collect(),
        }
    }

    #[test]
    fn each_wrong_combination_is_one_problem_naming_its_field() {
        let dir = folder();
        let cases: &[(&str, &str, &str)] = &[
            (
                ", client_auth: private_key_jwt",
                "client_key_file",
                "required with client_auth: private_key_jwt",
            ),
            (
                ", client_auth: private_key_jwt, client_key_file: a.pem, client_secret: s",
                "client_secret",
                "no secret is sent with client_auth: private_key_jwt; remove it",
            ),
            (
                ", client_auth: tls_client_auth, client_key_file: a.pem",
                "client_certificate_file",
                "required with client_auth: tls_client_auth",
            ),
            (
                ", client_auth: tls_client_auth, client_key_file: a.pem, client_certificate_file: a.crt, client_secret_env: X",
                "client_secret_env",
                "no secret is sent with client_auth: tls_client_auth",
            ),
            (
                ", client_auth: tls_client_auth, client_key_file: a.pem, client_certificate_file: b.crt",
                "client_certificate_file",
                "b.crt is not the certificate of the key in",
            ),
            (
                ", client_auth: tls_client_auth, client_key_file: a.pem, client_certificate_file: a.crt, client_assertion: {key_id: k}",
                "client_assertion",
                "only used with client_auth: private_key_jwt",
            ),
            (
                ", client_secret: s, client_key_file: a.pem",
                "client_key_file",
                "only used with client_auth: private_key_jwt or tls_client_auth (client_auth is basic, the default)",
            ),
            (
                ", client_auth: post, client_secret: s, client_certificate_file: a.crt",
                "client_certificate_file",
                "(client_auth is post)",
            ),
            (
                ", client_auth: private_key_jwt, client_key_file: a.pem, client_assertion: {algorithm: ES256}",
                "client_assertion.algorithm",
                "a.pem holds an RSA key, which cannot sign ES256 (that needs a P-256 EC key)",
            ),
            (
                ", client_auth: private_key_jwt, client_key_file: a.pem, client_assertion: {audience: ' '}",
                "client_assertion.audience",
                "is empty",
            ),
            (
                ", client_auth: private_key_jwt, client_key_file: a.crt",
                "client_key_file",
                "a.crt holds no PEM private key",
            ),
            (
                ", client_auth: private_key_jwt, client_key_file: missing.pem",
                "client_key_file",
                "missing.pem cannot be read",
            ),
            (
                ", client_auth: private_key_jwt, client_key_file: a.pem, params: {client_assertion: x}",
                "params.client_assertion",
                "set by credprobe",
            ),
            (
                ", client_auth: private_key_jwt, client_key_file: a.pem, next_client_key_file: a.pem, next_client_certificate_file: b.crt",
                "next_client_certificate_file",
                "b.crt is not the certificate of the key in",
            ),
            (
                ", client_auth: private_key_jwt, client_key_file: a.pem, next_client_key_file: missing.pem",
                "next_client_key_file",
                "missing.pem cannot be read",
            ),
            (
                ", client_auth: private_key_jwt, client_key_file: a.pem, next_client_certificate_file: a.crt",
                "next_client_certificate_file",
                "only used with next_client_key_file",
            ),
            (
                ", client_auth: private_key_jwt, client_key_file: a.pem, client_assertion: {next_key_id: k2}",
                "client_assertion.next_key_id",
                "only used with next_client_key_file",
            ),
            (
                ", client_auth: tls_client_auth, client_key_file: a.pem, client_certificate_file: a.crt, next_client_key_file: a.pem",
                "next_client_certificate_file",
                "required with next_client_key_file when client_certificate_file is set (client_auth: tls_client_auth presents",
            ),
            (
                ", client_auth: tls_client_auth, client_key_file: a.pem, client_certificate_file: a.crt, next_client_secret_file: a.pem",
                "next_client_secret_file",
                "only used with client_auth: basic or post",
            ),
            (
                ", client_auth: post, client_secret: s, next_client_certificate_file: a.crt",
                "next_client_certificate_file",
                "only used with client_auth: private_key_jwt or tls_client_auth",
            ),
        ];
        for (fields, field, message) in cases {
            let found = problems(dir.path(), fields);
            assert_eq!(found.len(), 1, "{fields}: {found:?}");
            assert_eq!(found[0].0, *field, "{fields}: {found:?}");
            assert!(found[0].1.contains(message), "{fields}: {found:?}");
        }
        // An unknown algorithm is a YAML error of the file, with its line.
        let text = tenant(
            ", client_auth: private_key_jwt, client_key_file: a.pem, client_assertion: {algorithm: RS512}",
        );
        let error = load_str(&text, &dir.path().join("main.yml"), &QUIET).unwrap_err();
        assert_eq!(error.problems.len(), 1, "{error}");
        assert!(
            error.problems[0].message.contains("RS512")
                && error.problems[0].message.contains("ES256"),
            "{error}"
        );
    }

    #[test]
    fn tls_client_auth_needs_an_https_token_url() {
        let dir = folder();
        let text = "tenants: [{name: acme, token_url: 'http://127.0.0.1:9/token', client_id: abc, client_auth: tls_client_auth, client_key_file: a.pem, client_certificate_file: a.crt}]\n";
        let error = load_str(text, &dir.path().join("main.yml"), &QUIET).unwrap_err();
        assert_eq!(error.problems.len(), 1, "{error}");
        assert_eq!(error.problems[0].field.as_deref(), Some("token_url"));
        assert!(error.problems[0].message.contains("must be https"));
    }

    #[test]
    fn valid_methods_carry_their_settings_and_the_certificate_expiry() {
        let dir = folder();
        let main = dir.path().join("main.yml");
        let text = tenant(
            ", client_auth: private_key_jwt, client_key_file: a.pem, client_certificate_file: a.crt, client_assertion: {algorithm: PS256, key_id: k1, audience: 'https://login.example.com'}",
        );
        let config = load_str(&text, &main, &QUIET).unwrap();
        let acme = &config.tenants[0];
        assert_eq!(acme.token.client_auth, ClientAuth::PrivateKeyJwt);
        let Credential::Assertion(assertion) = &acme.token.credential else {
            panic!("{:?}", acme.token.credential)
        };
        assert_eq!(assertion.key_id.as_deref(), Some("k1"));
        assert_eq!(
            assertion.audience.as_deref(),
            Some("https://login.example.com")
        );
        assert_eq!(assertion.keys.current().algorithm, SigningAlgorithm::Ps256);
        assert!(acme.http.identity.is_none(), "no certificate in TLS");
        let expected = humantime::parse_rfc3339("2031-01-15T00:00:00Z").unwrap();
        assert_eq!(acme.credential_expiry(), Some(expected));

        // A configured expiry wins over the certificate's.
        let text = tenant(
            ", client_auth: tls_client_auth, client_key_file: a.pem, client_certificate_file: a.crt, credential_expires: '2028-01-01'",
        );
        let config = load_str(&text, &main, &QUIET).unwrap();
        let acme = &config.tenants[0];
        assert!(matches!(acme.token.credential, Credential::Certificate(_)));
        assert!(acme.http.identity.is_some());
        let configured = humantime::parse_rfc3339("2028-01-01T00:00:00Z").unwrap();
        assert_eq!(acme.credential_expiry(), Some(configured));

        // The next key is presented as the current one: an assertion with
        // the configured audience and its own kid, or a certificate.
        let text = tenant(
            ", client_auth: private_key_jwt, client_key_file: a.pem, client_certificate_file: a.crt, client_assertion: {key_id: k1, next_key_id: k2, audience: 'https://login.example.com'}, next_client_key_file: a.pem, next_client_certificate_file: a.crt",
        );
        let config = load_str(&text, &main, &QUIET).unwrap();
        let Some(Credential::Assertion(next)) = &config.tenants[0].token.next_credential else {
            panic!("{:?}", config.tenants[0].token.next_credential)
        };
        assert_eq!(next.key_id.as_deref(), Some("k2"));
        assert_eq!(next.audience.as_deref(), Some("https://login.example.com"));
        assert!(next.keys.current().certificate.is_some());
        let text = tenant(
            ", client_auth: tls_client_auth, client_key_file: a.pem, client_certificate_file: a.crt, next_client_key_file: a.pem, next_client_certificate_file: a.crt",
        );
        let config = load_str(&text, &main, &QUIET).unwrap();
        assert!(matches!(
            config.tenants[0].token.next_credential,
            Some(Credential::Certificate(_))
        ));

        // Without a certificate there is no expiry to tell.
        let text = tenant(", client_auth: private_key_jwt, client_key_file: a.pem");
        let config = load_str(&text, &main, &QUIET).unwrap();
        assert_eq!(config.tenants[0].credential_expiry(), None);
    }
}
