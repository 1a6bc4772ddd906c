//! Signed storage URLs, computed exactly as Apify computes them (`@apify/utilities`), so that the
//! URLs the official clients sign with a store's `urlSigningSecretKey` are accepted here.
//!
//! - `createHmacSignature(secret, message)`: HMAC-SHA256 of `message` keyed by `secret`, the first
//!   30 hex digits of the digest read as one number, written in base 62
//!   (`0-9a-zA-Z`). A record URL is signed over the record's key alone (the CLI's TARBALL upload,
//!   the JavaScript client's `getRecordPublicUrl`).
//! - `createStorageContentSignature`: base64url of `"{version}.{expiresAt}.{hmac}"`, where `hmac`
//!   is `createHmacSignature(secret, "{version}.{expiresAt}.{storeId}")` and `expiresAt` is in
//!   milliseconds since the epoch, `0` for never. It grants reading the whole store until it expires.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::Sha256;

const BASE62: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A new URL-signing secret for a store: 32 alphanumeric characters from a secure generator.
pub fn new_signing_secret() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

fn base62(mut n: u128) -> String {
    if n == 0 {
        return "0".into();
    }
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    digits.reverse();
    String::from_utf8_lossy(&digits).into_owned()
}

/// `createHmacSignature(secret, message)` of `@apify/utilities`.
pub fn hmac_signature(secret: &str, message: &str) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(message.as_bytes());
    let digest = mac.finalize().into_bytes();
    // 30 hex digits are the first 15 bytes: a 120-bit number.
    let n = digest
        .iter()
        .take(15)
        .fold(0u128, |n, byte| (n << 8) | u128::from(*byte));
    base62(n)
}

/// Compares in time that does not depend on where the two differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// True when `signature` grants reading the record `key` of the store `store_id` whose secret is
/// `secret`: a record signature over the key, or a storage content signature over the store that
/// has not expired (`now_millis` is the current time in milliseconds since the epoch).
pub fn allows_record(
    secret: &str,
    store_id: &str,
    key: &str,
    signature: &str,
    now_millis: i64,
) -> bool {
    if signature.is_empty() {
        return false;
    }
    if same(&hmac_signature(secret, key), signature) {
        return true;
    }
    allows_store(secret, store_id, signature, now_millis)
}

/// True when `signature` is an unexpired `createStorageContentSignature` of the store.
pub fn allows_store(secret: &str, store_id: &str, signature: &str, now_millis: i64) -> bool {
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let Ok(decoded) = lenient.decode(signature) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    let mut parts = text.splitn(3, '.');
    let (Some(version), Some(expires_at), Some(hmac)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(expires) = expires_at.parse::<i64>() else {
        return false;
    };
    if expires != 0 && expires < now_millis {
        return false;
    }
    same(
        &hmac_signature(secret, &format!("{version}.{expires_at}.{store_id}")),
        hmac,
    )
}

/// `createStorageContentSignature` of `@apify/utilities` with a fixed expiry (`0`: never).
pub fn store_signature(secret: &str, store_id: &str, expires_at_millis: i64) -> String {
    let hmac = hmac_signature(secret, &format!("0.{expires_at_millis}.{store_id}"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("0.{expires_at_millis}.{hmac}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values computed by node with @apify/utilities 2.35.11:
    //   createHmacSignature(secret, message)
    //   createStorageContentSignature({resourceId, urlSigningSecretKey})
    const SECRET: &str = "Qs9Bv0sYxR2hL7pW4nKd8eTzA1mC6uFj";

    #[test]
    fn record_signatures_match_apify_utilities() {
        assert_eq!(
            hmac_signature(SECRET, "version-0.0.zip"),
            "kT8Bv3GkBc89hdVSXS5n"
        );
        assert_eq!(hmac_signature("secret", "OUTPUT"), "1i8Igbei9uoBwpEshyavA");
        // The digest starts with 000: leading zeros drop out of the number.
        assert_eq!(hmac_signature("k", "m8719"), "1D6aa0ATpo08eadPcFT");
    }

    #[test]
    fn store_signatures_match_apify_utilities() {
        assert_eq!(
            store_signature(SECRET, "WkzbQMuFYuamGv3YF", 0),
            "MC4wLjNVVUYxTURkeHlGTjlCa2ZOazFn"
        );
        assert!(allows_store(
            SECRET,
            "WkzbQMuFYuamGv3YF",
            "MC4wLjNVVUYxTURkeHlGTjlCa2ZOazFn",
            1
        ));
        assert!(!allows_store(
            SECRET,
            "OtherStoreIdxxxxx",
            "MC4wLjNVVUYxTURkeHlGTjlCa2ZOazFn",
            1
        ));
    }

    #[test]
    fn record_access() {
        let store = "WkzbQMuFYuamGv3YF";
        assert!(allows_record(
            SECRET,
            store,
            "version-0.0.zip",
            "kT8Bv3GkBc89hdVSXS5n",
            1
        ));
        assert!(!allows_record(
            SECRET,
            store,
            "version-0.1.zip",
            "kT8Bv3GkBc89hdVSXS5n",
            1
        ));
        assert!(!allows_record(
            "another secret",
            store,
            "version-0.0.zip",
            "kT8Bv3GkBc89hdVSXS5n",
            1
        ));
        assert!(!allows_record(SECRET, store, "version-0.0.zip", "", 1));
        // A store signature that expired no longer grants anything.
        let expiring = store_signature(SECRET, store, 1_000);
        assert!(allows_record(SECRET, store, "any", &expiring, 999));
        assert!(!allows_record(SECRET, store, "any", &expiring, 1_001));
    }

    #[test]
    fn base62_edges() {
        assert_eq!(base62(0), "0");
        assert_eq!(base62(61), "Z");
        assert_eq!(base62(62), "10");
    }

    #[test]
    fn secrets_are_random() {
        let a = new_signing_secret();
        assert_eq!(a.len(), 32);
        assert_ne!(a, new_signing_secret());
    }
}
