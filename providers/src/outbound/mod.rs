//! Requests to hosts users name (git hosts, OpenAI-compatible base URLs), guarded against
//! SSRF: HTTPS only, and the host's addresses are resolved here and refused when any of them is
//! loopback, private, link-local, CGNAT, unique-local or otherwise not public — unless the host
//! is listed in `OUTBOUND_ALLOWED_HOSTS` (which also admits plain http; the tests' fakes use it).
//! The client then connects to exactly the vetted addresses (no second lookup an attacker's DNS
//! could answer differently), never follows redirects and ignores proxy variables.

mod addr;

pub use addr::forbidden_reason;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use url::{Host, Url};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("only https:// hosts can be used")]
    NotHttps,
    #[error("the host `{host}` is not allowed ({reason})")]
    Forbidden { host: String, reason: &'static str },
    #[error("the host `{0}` could not be resolved")]
    Unresolvable(String),
}

/// The allowlist, lower-case `host` or `host:port` entries.
#[derive(Debug, Clone, Default)]
pub struct Outbound {
    allowed: Vec<String>,
}

/// A URL whose host passed the checks, and the addresses to connect to.
#[derive(Debug, Clone)]
pub struct Vetted {
    pub url: Url,
    addrs: Vec<SocketAddr>,
}

impl Vetted {
    /// The addresses the host resolved to, each checked.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The host when it is a name (an IP literal needs no pinning).
    pub fn domain(&self) -> Option<&str> {
        match self.url.host() {
            Some(Host::Domain(d)) => Some(d),
            _ => None,
        }
    }

    /// The vetted addresses as one curl `--resolve` entry (`host:port:addr,…`, IPv6 in brackets)
    /// for clients outside this process, such as git's `http.curloptResolve`; `None` when the URL
    /// names an address rather than a host (nothing to resolve, nothing to pin).
    pub fn curl_resolve(&self) -> Option<String> {
        let domain = self.domain()?;
        let port = self.url.port_or_known_default()?;
        let addrs: Vec<String> = self
            .addrs
            .iter()
            .map(|a| match a.ip() {
                IpAddr::V4(ip) => ip.to_string(),
                IpAddr::V6(ip) => format!("[{ip}]"),
            })
            .collect();
        Some(format!("{domain}:{port}:{}", addrs.join(",")))
    }

    /// A client builder that reaches this host only at its vetted addresses, follows no
    /// redirect (it could name any host) and ignores proxy variables; callers add timeouts.
    pub fn pinned_builder(&self) -> reqwest::ClientBuilder {
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        match self.domain() {
            Some(d) => builder.resolve_to_addrs(d, &self.addrs),
            None => builder,
        }
    }
}

impl Outbound {
    pub fn new(allowed: &[String]) -> Self {
        Self {
            allowed: allowed.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }

    fn allowlisted(&self, host: &str, port: u16) -> bool {
        let with_port = format!("{host}:{port}");
        self.allowed.iter().any(|a| *a == host || *a == with_port)
    }

    /// Whether `url` is plain http to an allowlisted host (the only way plain http is allowed).
    pub fn admits_plain_http(&self, url: &Url) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        url.scheme() == "http" && self.allowlisted(&host.to_ascii_lowercase(), port)
    }

    /// Checks `url` and resolves its host.
    pub async fn vet(&self, url: &Url) -> Result<Vetted, OutboundError> {
        let host = url.host().ok_or(OutboundError::NotHttps)?;
        let port = url.port_or_known_default().ok_or(OutboundError::NotHttps)?;
        let name = match &host {
            Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => ip.to_string(),
        };
        let allowlisted = self.allowlisted(&name, port);
        match url.scheme() {
            "https" => {}
            "http" if allowlisted => {}
            _ => return Err(OutboundError::NotHttps),
        }
        let addrs: Vec<SocketAddr> = match host {
            Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Host::Domain(_) => {
                if !allowlisted && let Some(reason) = addr::forbidden_name(&name) {
                    return Err(OutboundError::Forbidden { host: name, reason });
                }
                tokio::net::lookup_host((name.as_str(), port))
                    .await
                    .map_err(|_| OutboundError::Unresolvable(name.clone()))?
                    .collect()
            }
        };
        if addrs.is_empty() {
            return Err(OutboundError::Unresolvable(name));
        }
        if !allowlisted {
            // Every address, not just the first: the client may try any of them.
            for a in &addrs {
                if let Some(reason) = forbidden_reason(a.ip()) {
                    return Err(OutboundError::Forbidden { host: name, reason });
                }
            }
        }
        Ok(Vetted {
            url: url.clone(),
            addrs,
        })
    }

    /// A client that reaches `vetted`'s host only at its vetted addresses (host checks: short
    /// timeouts). Model providers build theirs with `webedt_providers::Http::pinned`.
    pub fn client(&self, vetted: &Vetted) -> reqwest::Client {
        vetted
            .pinned_builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .user_agent("WebEDT")
            .build()
            .expect("a client without custom TLS always builds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[tokio::test]
    async fn https_only_unless_allowlisted() {
        let none = Outbound::default();
        assert_eq!(
            none.vet(&url("http://example.com/")).await.unwrap_err(),
            OutboundError::NotHttps
        );
        assert_eq!(
            none.vet(&url("ftp://example.com/")).await.unwrap_err(),
            OutboundError::NotHttps
        );
        let fake = Outbound::new(&["127.0.0.1:8080".into()]);
        assert!(fake.vet(&url("http://127.0.0.1:8080/api")).await.is_ok());
        // The entry names a port: another port of the same host stays refused.
        assert!(matches!(
            fake.vet(&url("https://127.0.0.1:8081/")).await,
            Err(OutboundError::Forbidden { .. })
        ));
    }

    #[tokio::test]
    async fn private_literals_and_names_are_refused() {
        let none = Outbound::default();
        for u in [
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:192.168.0.1]/",
            "https://localhost/",
            "https://kubernetes.default.svc.cluster.local/",
            "https://0x7f.1/",
        ] {
            assert!(
                matches!(
                    none.vet(&url(u)).await,
                    Err(OutboundError::Forbidden { .. })
                ),
                "{u}"
            );
        }
        assert!(none.vet(&url("https://93.184.215.14/")).await.is_ok());
    }

    #[tokio::test]
    async fn curl_resolve_pins_names_not_literals() {
        let allowed = Outbound::new(&["localhost".into()]);
        let named = allowed
            .vet(&url("http://localhost:8080/r.git"))
            .await
            .unwrap();
        let entry = named.curl_resolve().unwrap();
        assert!(entry.starts_with("localhost:8080:"), "{entry}");
        // Every address localhost resolved to is pinned, IPv6 ones in brackets.
        for a in entry["localhost:8080:".len()..].split(',') {
            assert!(a == "127.0.0.1" || a.starts_with('['), "{entry}");
        }
        let literal = Outbound::default()
            .vet(&url("https://93.184.215.14/r.git"))
            .await
            .unwrap();
        assert_eq!(literal.curl_resolve(), None);
    }
}
