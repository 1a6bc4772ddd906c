//! Requests per second per token (`RATE_LIMIT_PER_SECOND`), as token buckets kept in memory:
//! each token may burst up to one second's worth, then gets its rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Past this many tracked tokens, full buckets are forgotten (they hold no state worth keeping).
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    pub fn new(per_second: f64) -> Self {
        RateLimiter {
            per_second,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from the token's bucket; false when it is empty.
    pub fn allow(&self, token: &str) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        let capacity = self.per_second.max(1.0);
        if buckets.len() > PRUNE_ABOVE {
            let per_second = self.per_second;
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < capacity
            });
        }
        let bucket = buckets.entry(token.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        bucket.tokens = (bucket.tokens
            + now.duration_since(bucket.at).as_secs_f64() * self.per_second)
            .min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_limits_per_token() {
        let limiter = RateLimiter::new(3.0);
        let allowed = (0..10).filter(|_| limiter.allow("a")).count();
        assert_eq!(allowed, 3);
        assert!(limiter.allow("b"), "another token has its own bucket");
    }
}
