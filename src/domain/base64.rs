//! The one rule for base64 in a version's source files: the standard alphabet, padding optional,
//! whitespace anywhere ignored (as line-wrapped output of `base64` has it). Input is checked
//! with it and sources are written with it, so what the API accepts always decodes.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The bytes `text` stands for; `None` when it is not base64.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    ENGINE.decode(compact).ok()
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn padding_optional_whitespace_ignored() {
        assert_eq!(decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode("aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode(" aGVs\nbG8=\n").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode("").as_deref(), Some(&b""[..]));
        assert_eq!(decode("aGVsbG8*"), None);
        assert_eq!(decode("a"), None);
    }
}
