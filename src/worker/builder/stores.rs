//! The worker's layer caches: each lent to one build at a time, across all the worker processes
//! that share `IMAGE_STORE_DIR` (an exclusive `flock` on the cache's lock file), so that the
//! leftovers of a build that did not succeed, or of a worker that died, can be removed from the
//! cache without touching another build's.

use std::fs::File;
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};

/// How many caches a store directory holds at most; a build finding all lent builds clean.
const MAX_CACHES: usize = 64;

pub struct CacheStores {
    dir: PathBuf,
}

/// A cache lent to a build; given back when dropped.
pub struct CacheStore {
    pub path: PathBuf,
    _lent: Flock<File>,
}

impl CacheStores {
    pub fn new(dir: PathBuf) -> Self {
        CacheStores { dir }
    }

    /// A cache no other build uses now (`cache-0`, `cache-1`, ...); `None` when none is free or
    /// the store directory cannot be written.
    pub fn lend(&self) -> Option<CacheStore> {
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "no layer cache: the image store directory cannot be made");
            return None;
        }
        (0..MAX_CACHES).find_map(|i| {
            let lock = File::create(self.dir.join(format!("cache-{i}.lock"))).ok()?;
            let lent = Flock::lock(lock, FlockArg::LockExclusiveNonblock).ok()?;
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
        let dir = std::env::temp_dir().join(format!("caches-{}", crate::domain::new_id()));
        let stores = CacheStores::new(dir.clone());
        let other_process = CacheStores::new(dir.clone());
        let first = stores.lend().expect("a first cache");
        let second = other_process.lend().expect("a second cache");
        assert_eq!(first.path, dir.join("cache-0"));
        assert_eq!(second.path, dir.join("cache-1"));
        drop(first);
        assert_eq!(stores.lend().map(|c| c.path), Some(dir.join("cache-0")));
        drop(second);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
