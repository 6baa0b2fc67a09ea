//! The credential of a tenant: its client id, where its secret comes from
//! (read now, so a missing secret is a configuration problem), and when it
//! expires; a secret or key file others can read, and an expiry already
//! passed, are warnings.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;

use super::LoadOptions;
use super::check::TenantCheck;
use crate::config::Credential;
use crate::config::raw::{ClientAuth, RawTenant};
use crate::config::secrets::{SecretFile, SecretSource};

impl TenantCheck<'_> {
    /// The client id, trimmed; required.
    pub(super) fn client_id(&mut self, raw: &RawTenant) -> String {
        match raw.client_id.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => {
                self.problem("client_id", "required");
                String::new()
            }
        }
    }

    /// Exactly one of a file (relative to the defining file's folder), an
    /// environment variable or an inline value, read and non-empty.
    pub(super) fn secret(
        &mut self,
        raw: &RawTenant,
        options: &LoadOptions,
    ) -> Option<SecretSource> {
        let given = [
            raw.client_secret_file.is_some(),
            raw.client_secret_env.is_some(),
            raw.client_secret.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            self.problem(
                "client_secret_file",
                "exactly one of client_secret_file, client_secret_env or client_secret is required",
            );
            return None;
        }
        if let Some(path) = &raw.client_secret_file {
            if !self.read_files {
                // Another shard's tenant: its file is that shard's to read.
                return None;
            }
            let path = self.base_dir.join(path);
            return match SecretFile::open(&path) {
                Ok(file) => {
                    self.private_file("client_secret_file", &path);
                    Some(SecretSource::File(file))
                }
                Err(error) => {
                    self.problem("client_secret_file", error.to_string());
                    None
                }
            };
        }
        if let Some(var) = &raw.client_secret_env {
            return self.secret_from_env(var);
        }
        let inline = raw.client_secret.as_deref().unwrap_or_default();
        if inline.trim().is_empty() {
            self.problem("client_secret", "is empty");
            return None;
        }
        if options.warn_inline_secrets && self.read_files {
            tracing::warn!(
                file = %self.file.display(),
                tenant = self.tenant,
                "client_secret is written inline in the configuration; prefer client_secret_file or client_secret_env"
            );
        }
        Some(SecretSource::Fixed(Arc::new(SecretString::from(
            inline.to_owned(),
        ))))
    }

    /// The next credential of a rotation: `next_client_secret_file` for
    /// the methods that send a secret, `next_client_key_file` (with
    /// `next_client_certificate_file`) for those that use a key
    /// ([`TenantCheck::next_key_credential`]); the other method's field is
    /// a problem naming it.
    pub(super) fn next_credential(
        &mut self,
        raw: &RawTenant,
        current: Option<&Credential>,
    ) -> Option<Credential> {
        let method = super::client_auth::method(raw);
        if !matches!(method, ClientAuth::Basic | ClientAuth::Post) {
            if raw.next_client_secret_file.is_some() {
                self.problem(
                    "next_client_secret_file",
                    "only used with client_auth: basic or post (no secret is sent otherwise); \
                     a key rotation is next_client_key_file",
                );
            }
            return self.next_key_credential(raw, method, current);
        }
        for (field, given) in [
            ("next_client_key_file", raw.next_client_key_file.is_some()),
            (
                "next_client_certificate_file",
                raw.next_client_certificate_file.is_some(),
            ),
        ] {
            if given {
                self.problem(
                    field,
                    "only used with client_auth: private_key_jwt or tls_client_auth; \
                     a secret rotation is next_client_secret_file",
                );
            }
        }
        self.next_secret(raw)
    }

    /// `next_client_secret_file`: the secret a rotation moves to, read now
    /// (relative to the defining file's folder).
    fn next_secret(&mut self, raw: &RawTenant) -> Option<Credential> {
        let path = raw.next_client_secret_file.as_ref()?;
        if !self.read_files {
            // Another shard's tenant: its file is that shard's to read.
            return None;
        }
        let path = self.base_dir.join(path);
        match SecretFile::open(&path) {
            Ok(file) => {
                self.private_file("next_client_secret_file", &path);
                Some(Credential::Secret(SecretSource::File(file)))
            }
            Err(error) => {
                self.problem("next_client_secret_file", error.to_string());
                None
            }
        }
    }

    fn secret_from_env(&mut self, var: &str) -> Option<SecretSource> {
        match std::env::var(var) {
            Ok(value) if !value.trim().is_empty() => {
                Some(SecretSource::Fixed(Arc::new(SecretString::from(value))))
            }
            Ok(_) => {
                self.problem(
                    "client_secret_env",
                    format!("environment variable {var} is empty"),
                );
                None
            }
            Err(std::env::VarError::NotPresent) => {
                self.problem(
                    "client_secret_env",
                    format!("environment variable {var} is not set"),
                );
                None
            }
            // The value is the secret: it is dropped unseen.
            Err(std::env::VarError::NotUnicode(_)) => {
                self.problem(
                    "client_secret_env",
                    format!("environment variable {var} is not UTF-8 text"),
                );
                None
            }
        }
    }

    /// When the client secret expires, if configured; a date already
    /// passed is a warning (the probe will say the credential fails; this
    /// says why before the first cycle).
    pub(super) fn credential_expires(&mut self, raw: &RawTenant) -> Option<SystemTime> {
        let text = raw.credential_expires.as_deref()?;
        let time = parse_date(text);
        match time.map(|t| SystemTime::now().duration_since(t)) {
            None => self.problem(
                "credential_expires",
                format!("{text:?} is not a date (YYYY-MM-DD) or RFC 3339 time"),
            ),
            Some(Ok(ago)) if self.read_files => self.warning(
                "credential_expires",
                format!(
                    "{} has passed ({} ago): the credential has expired; renew it and update credential_expires",
                    text.trim(),
                    rough(ago)
                ),
            ),
            Some(_) => {}
        }
        time
    }

    /// Warns when a secret or private key file is open to others, or to
    /// its group while this process owns it (then `chmod 600` keeps it
    /// readable). Group access to a file this process does not own is how
    /// it reads it at all, as with a Kubernetes secret volume under
    /// `fsGroup` (root-owned, mode 0440): not reported. The file a
    /// symbolic link points to is judged (a Kubernetes secret's files are
    /// links into `..data/`).
    pub(super) fn private_file(&mut self, field: &str, path: &Path) {
        let Ok(metadata) = std::fs::metadata(path) else {
            return;
        };
        let mode = metadata.permissions().mode() & 0o7777;
        let who = if mode & 0o007 != 0 {
            "others"
        } else if mode & 0o070 != 0 && metadata.uid() == effective_uid() {
            "its group"
        } else {
            return;
        };
        self.warning(
            field,
            format!(
                "{path} is open to {who} (mode {mode:04o}): chmod 600 {path} (on Kubernetes: defaultMode: 0400 on the secret volume)",
                path = path.display()
            ),
        );
    }
}

/// The user this process runs as.
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A duration as a person says it: days, else hours, else minutes.
fn rough(ago: Duration) -> String {
    let (n, unit) = match ago.as_secs() {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3_600 => (s / 3_600, "hour"),
        s => (s / 60, "minute"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `2027-06-30` (midnight UTC, the start of that day) or an RFC 3339 time.
fn parse_date(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    if text.len() == 10 {
        return humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).ok();
    }
    humantime::parse_rfc3339_weak(text).ok()
}
