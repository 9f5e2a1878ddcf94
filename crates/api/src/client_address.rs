//! Which address a request really comes from. Behind a load balancer the peer is the
//! balancer; its `X-Forwarded-For` names the client. That header is believed only from
//! peers in the configured trusted proxy ranges, because anyone else can write anything
//! in it (and would, to escape the per-address rate limits).

use std::net::IpAddr;

use ipnet::IpNet;
use poem::Request;
use poem::http::HeaderMap;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(ranges: Vec<IpNet>) -> Self {
        Self(ranges)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(&address))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy, in which case
    /// the nearest untrusted hop in `X-Forwarded-For` (read right to left, as each proxy
    /// appends the address it received the request from).
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect::<Vec<_>>();
        for hop in hops.iter().rev().flat_map(|v| v.rsplit(',')) {
            let Ok(address) = hop.trim().parse::<IpAddr>() else {
                // A malformed hop ends what can be believed.
                break;
            };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }

    pub fn of_request(&self, req: &Request) -> IpAddr {
        let peer = match req.remote_addr().as_socket_addr() {
            Some(addr) => addr.ip().to_canonical(),
            // Unix sockets and tests without a peer: treat as loopback.
            None => IpAddr::from([127, 0, 0, 1]),
        };
        self.client_address(peer, req.headers())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderValue;

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()])
    }

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in xff {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let claimed = headers(&["198.51.100.7"]);
        assert_eq!(
            proxies().client_address(ip("203.0.113.9"), &claimed),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_peer_hands_over_to_the_nearest_untrusted_hop() {
        let chain = headers(&["1.2.3.4, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(
            proxies().client_address(ip("10.0.0.2"), &chain),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_malformed_hop_stops_the_walk() {
        let chain = headers(&["198.51.100.7, junk, 10.1.1.1"]);
        assert_eq!(
            proxies().client_address(ip("10.0.0.2"), &chain),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn no_header_from_a_trusted_peer_leaves_the_peer() {
        assert_eq!(
            proxies().client_address(ip("10.0.0.2"), &headers(&[])),
            ip("10.0.0.2")
        );
    }
}
