use std::fmt;

/// An Actor's name: 3–63 characters, letters, digits and hyphens, not starting or ending with a hyphen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorName(String);

impl ActorName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = (3..=63).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(ActorName(s.to_owned()))
        } else {
            Err(format!(
                "name {s:?} must be 3-63 characters of letters, digits and hyphens, not starting or ending with a hyphen"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        for ok in ["abc", "my-actor", "A1-b2", &"a".repeat(63)] {
            assert!(ActorName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "a_b_c",
            "a b c",
            &"a".repeat(64),
            "ábc",
        ] {
            assert!(ActorName::parse(bad).is_err(), "{bad}");
        }
    }
}
