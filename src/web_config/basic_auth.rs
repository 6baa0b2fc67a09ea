//! `basic_auth_users`: who may use the HTTP server, checked against bcrypt
//! hashes the way exporter-toolkit does, without paying bcrypt on every
//! scrape.
//!
//! - A known user's password is checked with `bcrypt::verify`, whose final
//!   comparison is constant-time.
//! - An unknown user costs a bcrypt verification too (against the costliest
//!   configured hash, result ignored), so response time does not tell which
//!   user names exist.
//! - A verified (user, password) pair is remembered as a SHA-256 digest
//!   keyed with a random per-process salt (never the password itself), so
//!   Prometheus's scrape every 30 s pays bcrypt once, not every time. The
//!   memory is bounded; a wrong password is never remembered.
//! - At most one bcrypt runs at a time, off the async runtime: a flood of
//!   wrong passwords costs one core, not all of them, and never blocks the
//!   probes' tasks.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

/// How many verified (user, password) digests are kept. A handful of
/// users is the intended use (exporter-toolkit says the same); past this,
/// an arbitrary entry makes room.
pub const VERIFIED_CACHE_SIZE: usize = 256;

/// The configured users and what their checks have proven so far.
pub struct BasicAuth {
    /// User name to bcrypt hash. Hashes are not passwords but are still
    /// never printed.
    users: BTreeMap<String, String>,
    /// The hash an unknown user's password is checked against: the
    /// costliest configured one, so both paths take as long.
    decoy: String,
    /// Digests of (user, hash, password) that verified.
    verified: Mutex<HashSet<[u8; 32]>>,
    /// One bcrypt at a time; the permit lives as long as the computation,
    /// even when the request that started it is dropped.
    bcrypt: Arc<Semaphore>,
}

impl BasicAuth {
    /// Users whose hashes `validate` already checked parse as bcrypt.
    /// `None` when the map is empty: no authentication, as in
    /// exporter-toolkit.
    pub fn new(users: BTreeMap<String, String>) -> Option<BasicAuth> {
        let decoy = users
            .values()
            .max_by_key(|hash| bcrypt_cost(hash).unwrap_or(0))?
            .clone();
        Some(BasicAuth {
            users,
            decoy,
            verified: Mutex::new(HashSet::new()),
            bcrypt: Arc::new(Semaphore::new(1)),
        })
    }

    /// The configured user names, for messages.
    pub fn user_names(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// Whether `user` with `password` may come in.
    pub async fn check(&self, user: &str, password: &SecretString) -> bool {
        let (hash, known) = match self.users.get(user) {
            Some(hash) => (hash.clone(), true),
            None => (self.decoy.clone(), false),
        };
        let digest = pair_digest(user, &hash, password);
        if known && self.lock().contains(&digest) {
            return true;
        }
        let Ok(slot) = Arc::clone(&self.bcrypt).acquire_owned().await else {
            return false;
        };
        let password = password.clone();
        let matched = tokio::task::spawn_blocking(move || {
            let matched = bcrypt::verify(password.expose_secret(), &hash).unwrap_or(false);
            drop(slot);
            matched
        })
        .await
        .unwrap_or(false);
        let allowed = matched && known;
        if allowed {
            let mut verified = self.lock();
            if verified.len() >= VERIFIED_CACHE_SIZE
                && let Some(any) = verified.iter().next().copied()
            {
                verified.remove(&any);
            }
            verified.insert(digest);
        }
        allowed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Why a configured password hash is not a usable bcrypt hash. Never
/// holds the hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BcryptHashError {
    /// Not in bcrypt's `$2y$NN$...` form (bcrypt's own words).
    #[error("{0}")]
    Malformed(String),
    /// A cost bcrypt does not accept.
    #[error("bcrypt cost {0} is outside 4 to 31")]
    Cost(u32),
}

/// The cost of a bcrypt hash, or why it is not one (`validate`'s check).
pub fn bcrypt_cost(hash: &str) -> Result<u32, BcryptHashError> {
    let parts: bcrypt::HashParts = hash
        .parse()
        .map_err(|e: bcrypt::BcryptError| BcryptHashError::Malformed(e.to_string()))?;
    let cost = parts.get_cost();
    if (4..=31).contains(&cost) {
        Ok(cost)
    } else {
        Err(BcryptHashError::Cost(cost))
    }
}

/// SHA-256 over the process salt and the length-prefixed user, hash and
/// password: equal only for the same pair under the same configured hash,
/// and useless outside this process.
fn pair_digest(user: &str, hash: &str, password: &SecretString) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(process_salt());
    for part in [user.as_bytes(), hash.as_bytes()] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    context.update(password.expose_secret().as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// 32 random bytes drawn once per process.
fn process_salt() -> &'static [u8; 32] {
    static SALT: OnceLock<[u8; 32]> = OnceLock::new();
    SALT.get_or_init(|| {
        use ring::rand::SecureRandom as _;
        let mut salt = [0u8; 32];
        // The system RNG failing is not something a server can work around.
        ring::rand::SystemRandom::new()
            .fill(&mut salt)
            .expect("the system random number generator works");
        salt
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // bcrypt of "correct horse" at cost 4 (the minimum: fast tests).
    fn users() -> BTreeMap<String, String> {
        let hash = bcrypt::hash_with_salt("correct horse", 4, [7u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        BTreeMap::from([("prometheus".to_owned(), hash)])
    }

    #[tokio::test]
    async fn right_password_passes_and_is_remembered_wrong_ones_are_not() {
        let auth = BasicAuth::new(users()).unwrap();
        let right = SecretString::from("correct horse");
        let wrong = SecretString::from("battery staple");
        assert!(auth.check("prometheus", &right).await);
        assert_eq!(auth.lock().len(), 1);
        assert!(auth.check("prometheus", &right).await);
        assert_eq!(auth.lock().len(), 1);
        assert!(!auth.check("prometheus", &wrong).await);
        // An unknown user never passes, even with a configured password.
        assert!(!auth.check("grafana", &right).await);
        assert_eq!(auth.lock().len(), 1);
    }

    #[test]
    fn no_users_means_no_authentication() {
        assert!(BasicAuth::new(BTreeMap::new()).is_none());
    }

    #[test]
    fn digests_differ_by_user_hash_and_password() {
        let secret = SecretString::from("pw");
        let base = pair_digest("a", "h", &secret);
        assert_eq!(base, pair_digest("a", "h", &secret));
        assert_ne!(base, pair_digest("b", "h", &secret));
        assert_ne!(base, pair_digest("a", "g", &secret));
        assert_ne!(base, pair_digest("a", "h", &SecretString::from("px")));
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            pair_digest("ab", "c", &secret),
            pair_digest("a", "bc", &secret)
        );
    }

    #[test]
    fn costs_are_read_and_garbage_is_refused() {
        assert_eq!(bcrypt_cost(&users()["prometheus"]), Ok(4));
        assert!(bcrypt_cost("plaintext").is_err());
        assert!(
            bcrypt_cost("$2y$99$......................YgIDy4hFBdVlc/6LHnD9mX488r9cLd2").is_err()
        );
    }
}
