//! Where the gateway is: the default IPv4 route's gateway in `/proc/net/route`, and this
//! host's address toward it (the source address the routing table picks).

use super::PortMapError;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The routing table the kernel shows (Linux).
const PROC_NET_ROUTE: &str = "/proc/net/route";

/// `RTF_UP | RTF_GATEWAY` of a route's flags.
const UP_AND_GATEWAY: u32 = 0x1 | 0x2;

/// The gateway of the default IPv4 route, read from `/proc/net/route`.
pub(super) fn default_gateway_v4() -> Result<Ipv4Addr, PortMapError> {
    let text = std::fs::read_to_string(PROC_NET_ROUTE).map_err(PortMapError::RouteTable)?;
    parse_default_gateway(&text).ok_or(PortMapError::NoGateway)
}

/// The gateway of the lowest-metric default route (destination and mask 0, flags up and
/// gateway) in the text of `/proc/net/route`; lines that do not parse are skipped.
pub(super) fn parse_default_gateway(text: &str) -> Option<Ipv4Addr> {
    let hex = |field: &str| u32::from_str_radix(field, 16).ok();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 8 {
                return None;
            }
            let (destination, gateway, flags) = (hex(fields[1])?, hex(fields[2])?, hex(fields[3])?);
            let metric: u32 = fields[6].parse().ok()?;
            let mask = hex(fields[7])?;
            let default = destination == 0 && mask == 0 && gateway != 0;
            // The kernel prints each address as its network-order bytes read as a native u32.
            (default && flags & UP_AND_GATEWAY == UP_AND_GATEWAY)
                .then(|| (metric, Ipv4Addr::from(gateway.to_ne_bytes())))
        })
        .min_by_key(|(metric, _)| *metric)
        .map(|(_, gateway)| gateway)
}

/// This host's address toward `gateway`: `local`'s own address when it is a concrete IPv4
/// one, else the source address the routing table picks for the gateway (no datagram is
/// sent: a connected UDP socket only looks the route up).
pub(super) fn local_ip_toward(
    local: SocketAddr,
    gateway: Ipv4Addr,
) -> Result<Ipv4Addr, PortMapError> {
    mappable(local)?;
    match local.ip() {
        IpAddr::V4(ip) if !ip.is_unspecified() => return Ok(ip),
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return Ok(v4);
            }
        }
        IpAddr::V4(_) => {}
    }
    let failed = |source| PortMapError::LocalAddress {
        gateway: IpAddr::V4(gateway),
        source,
    };
    let probe = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(failed)?;
    probe
        .connect((gateway, crab_nat::GATEWAY_PORT))
        .map_err(failed)?;
    match probe.local_addr().map_err(failed)?.ip() {
        IpAddr::V4(ip) if !ip.is_unspecified() => Ok(ip),
        other => Err(failed(std::io::Error::other(format!(
            "the route to the gateway gives source address {other}"
        )))),
    }
}

/// Refuses, for good, an address no gateway maps: port 0, loopback, a plain IPv6 address
/// (`0.0.0.0`, `[::]` and IPv4-mapped addresses are mapped).
pub(super) fn mappable(local: SocketAddr) -> Result<(), PortMapError> {
    if local.port() == 0 {
        return Err(PortMapError::Unsupported("port 0 cannot be mapped".into()));
    }
    if local.ip().is_loopback() {
        return Err(PortMapError::Unsupported(format!(
            "{local} is a loopback address: no gateway forwards to it (listen on the LAN address or 0.0.0.0)"
        )));
    }
    if let IpAddr::V6(ip) = local.ip()
        && !ip.is_unspecified()
        && ip.to_ipv4_mapped().is_none()
    {
        return Err(PortMapError::Unsupported(format!(
            "{local} is an IPv6 address: gateways map IPv4 ports (an IPv6 address needs no translation)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth1\t00000000\t0102A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0
eth0\t00000000\t014DA8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t004DA8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";

    #[test]
    fn the_lowest_metric_default_route_is_the_gateway() {
        assert_eq!(
            parse_default_gateway(TABLE),
            Some(Ipv4Addr::new(192, 168, 77, 1))
        );
    }

    #[test]
    fn no_default_route_or_garbage_gives_none() {
        let only_lan: String = TABLE
            .lines()
            .enumerate()
            .filter(|(i, _)| *i == 0 || *i == 3)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        assert_eq!(parse_default_gateway(&only_lan), None);
        assert_eq!(parse_default_gateway(""), None);
        assert_eq!(parse_default_gateway("header\nnot a route\n\t\t\n"), None);
        // A default route that is down is no gateway.
        assert_eq!(
            parse_default_gateway(
                "h\neth0\t00000000\t014DA8C0\t0002\t0\t0\t100\t00000000\t0\t0\t0\n"
            ),
            None
        );
    }

    #[test]
    fn a_concrete_local_address_is_used_as_it_is() {
        let gateway = Ipv4Addr::new(192, 168, 77, 1);
        let local: SocketAddr = "192.168.77.2:4000".parse().unwrap();
        assert_eq!(
            local_ip_toward(local, gateway).unwrap(),
            Ipv4Addr::new(192, 168, 77, 2)
        );
        let v6: SocketAddr = "[2001:db8::1]:4000".parse().unwrap();
        assert!(matches!(
            local_ip_toward(v6, gateway),
            Err(PortMapError::Unsupported(_))
        ));
        let loopback: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert!(matches!(
            local_ip_toward(loopback, gateway),
            Err(PortMapError::Unsupported(_))
        ));
    }
}
