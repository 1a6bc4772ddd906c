//! What a response may show of a source reference to someone who is not its owner.

use super::build_document::ActVersion;

/// `url` without the credentials of its authority (`https://user:pass@host/x` → `https://host/x`).
/// Strings that are no `scheme://` URL (`git@host:repo`, a plain path) are returned as they are:
/// they hold no password.
pub fn without_userinfo(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..start], &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// `url` without credentials, query or fragment: a signed URL loses its signature.
pub fn without_credentials_or_query(url: &str) -> String {
    let clean = without_userinfo(url);
    let end = clean.find(['?', '#']).unwrap_or(clean.len());
    clean[..end].to_owned()
}

/// A build's `actVersion` as shown to anyone but the Actor's owner: the git URL without its
/// credentials, the tarball URL without credentials and without its query (where a record URL
/// keeps its signature).
pub fn act_version_for_others(act_version: &ActVersion) -> ActVersion {
    ActVersion {
        git_repo_url: act_version.git_repo_url.as_deref().map(without_userinfo),
        tarball_url: act_version
            .tarball_url
            .as_deref()
            .map(without_credentials_or_query),
        ..act_version.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_dropped() {
        assert_eq!(
            without_userinfo("https://user:pass@github.com/a/b.git#main"),
            "https://github.com/a/b.git#main"
        );
        assert_eq!(
            without_userinfo("https://tok@en@host/x?y=a@b"),
            "https://host/x?y=a@b"
        );
        assert_eq!(
            without_userinfo("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
        assert_eq!(
            without_credentials_or_query("http://h/v2/key-value-stores/s/records/k?signature=abc"),
            "http://h/v2/key-value-stores/s/records/k"
        );
    }
}
