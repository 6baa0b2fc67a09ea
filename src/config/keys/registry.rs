//! One shared value per identity in the process: the key files open, so
//! tenants (and a reloaded configuration beside the running one) naming
//! the same files share one [`super::KeyFiles`]: one parse at load, one
//! look per refresh, one TLS client. Generic, so it knows nothing of what
//! it shares.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Every value in use, by what identifies it, held weakly: an entry that
/// no configuration uses any more is dropped at the next opening.
#[derive(Debug)]
pub struct Registry<K, V>(Mutex<HashMap<K, Weak<V>>>);

impl<K, V> Default for Registry<K, V> {
    fn default() -> Self {
        Registry(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash + Clone, V> Registry<K, V> {
    /// The value open for `id`, after `check` accepts it again, or a new
    /// one from `open`.
    pub fn open_shared<E>(
        &self,
        id: K,
        check: impl FnOnce(&V) -> Result<(), E>,
        open: impl FnOnce(K) -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        let mut values = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = values.get(&id).and_then(Weak::upgrade) {
            check(&shared)?;
            return Ok(shared);
        }
        let opened = Arc::new(open(id.clone())?);
        values.retain(|_, value| value.strong_count() > 0);
        values.insert(id, Arc::downgrade(&opened));
        Ok(opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_id_while_used_and_checked_again_when_shared() {
        let registry: Registry<&str, u32> = Registry::default();
        let first = registry
            .open_shared("a", |_| Ok::<_, ()>(()), |_| Ok(1))
            .unwrap();
        let again = registry
            .open_shared(
                "a",
                |_| Ok::<_, ()>(()),
                |_| panic!("shared, not opened again"),
            )
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(
            registry.open_shared("a", |_| Err("changed, broken"), |_| Ok(2)),
            Err("changed, broken")
        );
        drop((first, again));
        let fresh = registry
            .open_shared("a", |_| Ok::<_, ()>(()), |_| Ok(3))
            .unwrap();
        assert_eq!(*fresh, 3, "unused values are not kept");
    }
}
