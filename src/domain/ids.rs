use rand::distributions::Alphanumeric;
use rand::Rng;

/// Length of user, Actor and build ids.
pub const ID_LEN: usize = 17;

/// A new id: 17 characters from `[A-Za-z0-9]`, from a cryptographically secure generator
/// (`thread_rng` is ChaCha seeded from the OS), so build ids can serve as capabilities.
pub fn new_id() -> String {
    random_alphanumeric(ID_LEN)
}

/// A new API token: 43 alphanumeric characters, about 256 bits of entropy, printable.
pub fn new_token() -> String {
    format!("apify_api_{}", random_alphanumeric(43))
}

pub fn is_id(s: &str) -> bool {
    s.len() == ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_17_alphanumeric_and_distinct() {
        let a = new_id();
        assert!(is_id(&a), "{a}");
        assert_ne!(a, new_id());
        assert!(!is_id("short"));
        assert!(!is_id("abcdefghijklmnop-"));
    }
}
