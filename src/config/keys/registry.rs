//! The key files open in this process, so tenants (and a reloaded
//! configuration beside the running one) naming the same files share one
//! [`KeyFiles`]: one parse at load, one look per refresh, one TLS client.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

use super::files::{KeyFiles, KeyPairFormat};
use super::material::KeyError;

/// Every set of key files in use, by what identifies it; an entry whose
/// files are no longer used by any configuration is dropped at the next
/// opening.
static OPEN: LazyLock<Mutex<HashMap<KeyPairFormat, Weak<KeyFiles>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The open [`KeyFiles`] for `id`, checked again (a version changed since
/// its last good one is read now, and must be good), or a new one from
/// `open`.
pub(super) fn open_shared(
    id: KeyPairFormat,
    open: impl FnOnce(KeyPairFormat) -> Result<KeyFiles, KeyError>,
) -> Result<Arc<KeyFiles>, KeyError> {
    let mut files = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(shared) = files.get(&id).and_then(Weak::upgrade) {
        shared.check_now()?;
        return Ok(shared);
    }
    let opened = Arc::new(open(id.clone())?);
    files.retain(|_, files| files.strong_count() > 0);
    files.insert(id, Arc::downgrade(&opened));
    Ok(opened)
}
