//! The address guard's ranges: addresses that name this machine, its private
//! networks or no one, which a request may reach only when the operator
//! allowed that address or range by IP literal or CIDR.
//!
//! The check is made on the address a connection actually goes to, after DNS,
//! so an allowed name that resolves (or is rebound) to 127.0.0.1 or
//! 169.254.169.254 is refused like the literal would be.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Why an address is not public, or `None` when it is.
pub fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

const V4_RANGES: &[(&str, &str)] = &[
    ("0.0.0.0/8", "an unspecified ('this network') address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a carrier-grade NAT address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "an IETF protocol address"),
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved or broadcast address"),
];

const V6_RANGES: &[(&str, &str)] = &[
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("100::/64", "a discard address"),
    ("fc00::/7", "a unique local (private) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
];

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    V4_RANGES.iter().find_map(|(range, why)| {
        let net: Ipv4Net = range.parse().ok()?;
        net.contains(&ip).then_some(*why)
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // Addresses that carry an IPv4 address are judged by it: mapped
    // (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and
    // 6to4 (2002:a.b.c.d::/48).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let segments = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if segments[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return special_v4(embedded(segments[6], segments[7]));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return special_v4(embedded(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return special_v4(embedded(segments[1], segments[2]));
    }
    V6_RANGES.iter().find_map(|(range, why)| {
        let net: Ipv6Net = range.parse().ok()?;
        net.contains(&ip).then_some(*why)
    })
}

/// An IP literal or CIDR, as the operator writes it in `http_allow`: the
/// address (a /32 or /128) or the network.
pub fn parse_net(text: &str) -> Option<IpNet> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(IpNet::from(ip));
    }
    text.parse::<IpNet>().ok().map(|net| net.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_ranges_are_recognised_in_every_spelling() {
        for (address, special) in [
            ("127.0.0.1", true),
            ("127.255.0.9", true),
            ("10.1.2.3", true),
            ("172.31.255.255", true),
            ("172.32.0.1", false),
            ("192.168.1.1", true),
            ("169.254.169.254", true),
            ("100.64.0.1", true),
            ("100.128.0.1", false),
            ("0.0.0.0", true),
            ("224.0.0.1", true),
            ("255.255.255.255", true),
            ("8.8.8.8", false),
            ("93.184.216.34", false),
            ("::1", true),
            ("::", true),
            ("fd00::1", true),
            ("fc12::1", true),
            ("fe80::1", true),
            ("ff02::1", true),
            ("::ffff:127.0.0.1", true),
            ("::ffff:10.0.0.1", true),
            ("::ffff:8.8.8.8", false),
            ("::127.0.0.1", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("2002:7f00:1::", true),
            ("2606:4700::1111", false),
        ] {
            let ip: IpAddr = address.parse().expect("address");
            assert_eq!(special_range(ip).is_some(), special, "{address}");
        }
    }

    #[test]
    fn operator_nets_are_literals_or_cidrs() {
        assert_eq!(
            parse_net("127.0.0.1"),
            Some("127.0.0.1/32".parse().expect("net"))
        );
        assert_eq!(
            parse_net("10.1.2.3/8"),
            Some("10.0.0.0/8".parse().expect("net"))
        );
        assert_eq!(parse_net("::1"), Some("::1/128".parse().expect("net")));
        assert_eq!(
            parse_net("fd00::/8"),
            Some("fd00::/8".parse().expect("net"))
        );
        assert_eq!(parse_net("example.com"), None);
        assert_eq!(parse_net("10.0.0.0/33"), None);
    }
}
