//! The client's IP address for rate limiting and the session list. `X-Forwarded-For` is trusted
//! only for the configured number of proxy hops in front of us; otherwise a client could pick its
//! own address and dodge the limit.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::net::SocketAddr;

use crate::state::AppState;

/// Who is calling, as seen through the trusted proxies.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(
            parts,
            state.config.settings.auth.trusted_proxy_hops,
        )))
    }
}

/// The key a per-IP limit counts by: the address itself for IPv4, the /64 network for IPv6
/// (one subscriber usually gets a whole /64, so single addresses would be free to rotate).
/// Anything unparsable is used as it is.
pub fn limit_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(v4) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

pub fn client_ip(parts: &Parts, trusted_hops: u32) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    if trusted_hops == 0 {
        return peer;
    }
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    // Each trusted proxy appended the address it received the request from; the entry
    // `trusted_hops` from the right is the one our outermost trusted proxy saw.
    let hops = trusted_hops as usize;
    if forwarded.len() >= hops {
        forwarded[forwarded.len() - hops].to_string()
    } else {
        forwarded.first().map_or(peer, |s| s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(xff: Option<&str>) -> Parts {
        let mut req = axum::http::Request::builder();
        if let Some(v) = xff {
            req = req.header("x-forwarded-for", v);
        }
        let (mut parts, _) = req.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 5555))));
        parts
    }

    #[test]
    fn forwarded_for_is_trusted_only_for_configured_hops() {
        assert_eq!(client_ip(&parts(Some("1.1.1.1")), 0), "10.0.0.9");
        assert_eq!(client_ip(&parts(Some("6.6.6.6, 2.2.2.2")), 1), "2.2.2.2");
        assert_eq!(
            client_ip(&parts(Some("6.6.6.6, 2.2.2.2, 3.3.3.3")), 2),
            "2.2.2.2"
        );
        assert_eq!(client_ip(&parts(None), 1), "10.0.0.9");
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        assert_eq!(limit_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(limit_key("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
        assert_ne!(limit_key("2001:db8:1:3::1"), limit_key("2001:db8:1:2::1"));
        assert_eq!(limit_key("::ffff:10.1.2.3"), "10.1.2.3");
        assert_eq!(limit_key("10.1.2.3"), "10.1.2.3");
    }
}
