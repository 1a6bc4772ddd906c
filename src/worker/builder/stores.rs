//! The worker's layer caches: one per build slot, each lent to one build at a time, so that a
//! build that did not succeed can have its leftovers removed from the cache it used without
//! touching another build's.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

pub struct CacheStores {
    dir: PathBuf,
    caches: Vec<Arc<Mutex<()>>>,
}

/// A cache lent to a build; given back when dropped.
pub struct CacheStore {
    pub path: PathBuf,
    _lent: OwnedMutexGuard<()>,
}

impl CacheStores {
    /// `count` caches under `dir` (`cache-0`, `cache-1`, ...).
    pub fn new(dir: PathBuf, count: usize) -> Self {
        CacheStores {
            dir,
            caches: (0..count.max(1)).map(|_| Arc::default()).collect(),
        }
    }

    /// A cache no other build uses now; `None` when all are lent.
    pub fn lend(&self) -> Option<CacheStore> {
        self.caches.iter().enumerate().find_map(|(i, cache)| {
            let lent = cache.clone().try_lock_owned().ok()?;
            Some(CacheStore {
                path: self.dir.join(format!("cache-{i}")),
                _lent: lent,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_is_lent_to_one_build_at_a_time() {
        let stores = CacheStores::new(PathBuf::from("/x"), 2);
        let first = stores.lend().expect("a first cache");
        let second = stores.lend().expect("a second cache");
        assert_ne!(first.path, second.path);
        assert!(stores.lend().is_none());
        drop(first);
        assert_eq!(
            stores.lend().map(|c| c.path),
            Some(PathBuf::from("/x/cache-0"))
        );
    }
}
