use std::fmt;

/// `MAJOR.MINOR`, each 0–99 without leading zeros (`0.0`, `1.12`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionNumber(String);

impl VersionNumber {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad =
            || format!("versionNumber {s:?} must be MAJOR.MINOR, each 0-99 without leading zeros");
        let (major, minor) = s.split_once('.').ok_or_else(bad)?;
        for part in [major, minor] {
            let ok = !part.is_empty()
                && part.len() <= 2
                && part.bytes().all(|b| b.is_ascii_digit())
                && !(part.len() > 1 && part.starts_with('0'));
            if !ok {
                return Err(bad());
            }
        }
        Ok(VersionNumber(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VersionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        for ok in ["0.0", "1.12", "99.99", "10.0"] {
            assert!(VersionNumber::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "1", "1.", ".1", "01.0", "1.01", "100.0", "1.2.3", "a.b", "1.-1",
        ] {
            assert!(VersionNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
