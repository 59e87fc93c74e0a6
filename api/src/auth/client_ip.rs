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
}
