//! Downloading a tarball over HTTP to a file of its own (never into memory), within the size
//! limit and the time limit, from addresses the policy allows (every redirect hop included).

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use futures_util::StreamExt;

use super::address::{self, Refused};
use super::{error_chain, redact_url, SourceError, SourceLimits};

/// A file that has no name: created in `dir` and unlinked at once, gone when it is closed.
pub(super) fn anonymous_file(dir: &Path) -> std::io::Result<File> {
    let path = dir.join(format!(".download-{}", crate::domain::new_id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

fn check_url(url: &reqwest::Url) -> Result<(), Refused> {
    if let Some(host) = url.host() {
        if let Some(ip) = address::literal(&host) {
            return address::check(&host.to_string(), ip);
        }
    }
    Ok(())
}

/// Downloads `url` into an anonymous file in `spool` and returns it, rewound.
pub(super) async fn download(
    url: &str,
    limits: &SourceLimits,
    spool: &Path,
) -> Result<File, SourceError> {
    let shown = redact_url(url);
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => return Err(SourceError::BadTarballUrl { url: shown }),
    };
    let refused = |shown: &str, r: Refused| SourceError::AddressRefused {
        url: shown.to_owned(),
        detail: r.to_string(),
    };
    let timeout = |shown: &str| SourceError::DownloadTimeout {
        url: shown.to_owned(),
        secs: limits.download_timeout.as_secs(),
    };
    let failed = |shown: &str, e: reqwest::Error| {
        if let Some(r) = address::find_refusal(&e) {
            refused(shown, r)
        } else if e.is_timeout() {
            timeout(shown)
        } else {
            SourceError::Download {
                url: shown.to_owned(),
                detail: error_chain(&e.without_url()),
            }
        }
    };
    let too_large = |shown: &str| SourceError::TooLarge {
        url: shown.to_owned(),
        limit: limits.tarball_max_bytes,
    };

    let mut builder = reqwest::Client::builder().timeout(limits.download_timeout);
    if !limits.allow_private_targets {
        check_url(&parsed).map_err(|r| refused(&shown, r))?;
        // The resolver checks every name; the redirect policy checks the literal addresses
        // that the resolver is never asked about. A proxy would connect on our behalf, so none.
        builder = builder
            .dns_resolver(address::resolver())
            .no_proxy()
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 10 {
                    return attempt.error("too many redirects");
                }
                match check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(r) => attempt.error(r),
                }
            }));
    }
    let client = builder
        .build()
        .map_err(|e| SourceError::Internal(error_chain(&e)))?;
    let response = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| failed(&shown, e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(SourceError::HttpStatus {
            url: shown,
            status: status.as_u16(),
        });
    }
    if response
        .content_length()
        .is_some_and(|len| len > limits.tarball_max_bytes)
    {
        return Err(too_large(&shown));
    }
    let spool_error = |e: std::io::Error| SourceError::Write {
        path: "(downloaded tarball)".into(),
        source: e,
    };
    let mut file = anonymous_file(spool).map_err(spool_error)?;
    let mut written: u64 = 0;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| failed(&shown, e))?;
        written = written.saturating_add(chunk.len() as u64);
        if written > limits.tarball_max_bytes {
            return Err(too_large(&shown));
        }
        file.write_all(&chunk).map_err(spool_error)?;
    }
    file.seek(SeekFrom::Start(0)).map_err(spool_error)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check every redirect hop goes through: literal internal addresses are refused
    /// (names are checked by the resolver when they are connected to).
    #[test]
    fn redirect_hops_to_internal_literals_are_refused() {
        for hop in [
            "http://127.0.0.1:8080/x.tgz",
            "http://[::1]/x.tgz",
            "http://[::ffff:169.254.169.254]/latest/meta-data",
            "http://169.254.169.254/latest/meta-data",
            "https://10.0.0.5/x.tgz",
        ] {
            let url = reqwest::Url::parse(hop).unwrap();
            assert!(check_url(&url).is_err(), "{hop}");
        }
        for hop in ["https://example.com/x.tgz", "http://93.184.215.14/x.tgz"] {
            let url = reqwest::Url::parse(hop).unwrap();
            assert!(check_url(&url).is_ok(), "{hop}");
        }
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let err = match address::resolver().resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        assert!(address::find_refusal(err.as_ref()).is_some(), "{err}");
    }
}
