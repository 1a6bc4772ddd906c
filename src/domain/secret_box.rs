//! Secret values at rest: XChaCha20-Poly1305 under the service's key (`SECRETS_KEY`), a random
//! nonce per value, and the place of the value (its Actor and name) as associated data, so that a
//! sealed value copied to another Actor or variable does not open.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{AeadCore, XChaCha20Poly1305, XNonce};

/// What marks a sealed value; anything else is a value from before encryption at rest.
const PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 24;

/// The key that seals secret values. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SecretBox(XChaCha20Poly1305);

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a secret value could not be opened: it was sealed under another SECRETS_KEY, or altered")]
pub struct OpenError;

/// Writes a new file readable by its owner only, through to the disk.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl SecretBox {
    /// A key given as base64 (standard alphabet) or hex of 32 bytes.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| e.to_string())?
        } else {
            STANDARD
                .decode(text)
                .map_err(|_| "must be 32 bytes as base64 or as 64 hex digits".to_owned())?
        };
        if bytes.len() != 32 {
            return Err(format!(
                "must be 32 bytes (as base64 or 64 hex digits), not {}",
                bytes.len()
            ));
        }
        XChaCha20Poly1305::new_from_slice(&bytes)
            .map(SecretBox)
            .map_err(|e| e.to_string())
    }

    /// The key kept in `path`, made there (readable by its owner alone) when there is none yet.
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                return Self::from_text(&text).map_err(|e| format!("{}: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let text = STANDARD.encode(key);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        // The key is written whole to a file of its own, then linked into place: a process that
        // finds the file finds all of it, and of two processes that start at once, one key wins.
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let tmp = path.with_file_name(format!(
            ".{}.{}.{}",
            name.as_deref().unwrap_or("secrets.key"),
            std::process::id(),
            super::new_id()
        ));
        let written = write_private(&tmp, text.as_bytes());
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                tracing::warn!(
                    path = %path.display(),
                    "SECRETS_KEY is not set: secret values are sealed under a new key kept in this file; keep it safe and back it up"
                );
                Self::from_text(&text)
            }
            // Another process made it first: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Self::from_text(&text).map_err(|e| format!("{}: {e}", path.display()))
            }
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Whether a stored value is sealed.
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// The value sealed, bound to `context`.
    pub fn seal(&self, context: &str, plain: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption fails only for messages beyond what this cipher can count (~256 GiB).
        let sealed = self.0.encrypt(&nonce, payload).unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(bytes))
    }

    /// A sealed value opened; a value that is not sealed comes back as it is.
    pub fn open(&self, context: &str, stored: &str) -> Result<String, OpenError> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let bytes = STANDARD.decode(encoded).map_err(|_| OpenError)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: sealed,
            aad: context.as_bytes(),
        };
        let plain = self
            .0
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretBox {
        SecretBox::from_text(&hex::encode([byte; 32])).expect("key")
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let sealed = key(1).seal("actor\0K", "s3cret");
        assert!(SecretBox::is_sealed(&sealed));
        assert!(!sealed.contains("s3cret"));
        assert_eq!(key(1).open("actor\0K", &sealed).expect("open"), "s3cret");
        assert!(key(2).open("actor\0K", &sealed).is_err(), "another key");
        assert!(key(1).open("actor\0L", &sealed).is_err(), "another place");
        assert_ne!(
            sealed,
            key(1).seal("actor\0K", "s3cret"),
            "a nonce per value"
        );
    }

    #[test]
    fn keys_are_32_bytes_of_base64_or_hex() {
        assert!(SecretBox::from_text(&STANDARD.encode([7u8; 32])).is_ok());
        assert!(SecretBox::from_text(&hex::encode([7u8; 32])).is_ok());
        assert!(SecretBox::from_text(&STANDARD.encode([7u8; 16])).is_err());
        assert!(SecretBox::from_text("not a key").is_err());
        assert_eq!(format!("{:?}", key(1)), "SecretBox(***)");
    }

    #[test]
    fn a_key_file_is_made_once_and_private() {
        let dir = std::env::temp_dir().join(format!("secret-box-{}", uuid::Uuid::new_v4()));
        let path = dir.join("secrets.key");
        let first = SecretBox::load_or_create(&path).expect("create");
        let again = SecretBox::load_or_create(&path).expect("load");
        let sealed = first.seal("c", "v");
        assert_eq!(again.open("c", &sealed).expect("open"), "v");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Processes that start at once with no key file all end up with the one key that was
    /// written, never with a file caught half written.
    #[test]
    fn a_key_file_made_at_once_by_many_is_one_key() {
        let dir = std::env::temp_dir().join(format!("secret-box-{}", uuid::Uuid::new_v4()));
        for round in 0..20 {
            let path = dir.join(format!("secrets-{round}.key"));
            let boxes: Vec<Result<SecretBox, String>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..8)
                    .map(|_| scope.spawn(|| SecretBox::load_or_create(&path)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
                    .collect()
            });
            let first = boxes[0].as_ref().expect("a key");
            let probe = first.seal("c", "v");
            for other in &boxes {
                let other = other.as_ref().expect("a key");
                assert_eq!(
                    other.open("c", &probe).ok().as_deref(),
                    Some("v"),
                    "round {round}"
                );
            }
        }
        let leftovers = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert_eq!(leftovers, 20, "only the key files remain");
        let _ = std::fs::remove_dir_all(dir);
    }
}
