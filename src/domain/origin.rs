/// Where a build request came from (`meta.origin`).
pub struct Origin;

impl Origin {
    const KNOWN: [&'static str; 11] = [
        "DEVELOPMENT",
        "WEB",
        "API",
        "SCHEDULER",
        "TEST",
        "WEBHOOK",
        "ACTOR",
        "CLI",
        "CI",
        "STANDBY",
        "MCP",
    ];

    /// The `X-Apify-Request-Origin` header when it names a known origin, else `API`.
    pub fn from_header(value: Option<&str>) -> &'static str {
        value
            .and_then(|v| {
                Self::KNOWN
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(v.trim()))
            })
            .copied()
            .unwrap_or("API")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_or_api() {
        assert_eq!(Origin::from_header(Some("CLI")), "CLI");
        assert_eq!(Origin::from_header(Some("cli")), "CLI");
        assert_eq!(Origin::from_header(Some("HACKER")), "API");
        assert_eq!(Origin::from_header(None), "API");
    }
}
