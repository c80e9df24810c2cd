//! PCP (RFC 6887) and its predecessor NAT-PMP (RFC 6886), through `crab_nat`: both speak to
//! UDP port 5351 of the gateway.

use super::{Mapping, MappingProtocol, PortMapConfig, PortMapError};
use crab_nat::{InternetProtocol, PortMappingOptions, PortMappingType, TimeoutConfig};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU16;

/// A mapping made by PCP or NAT-PMP.
#[derive(Debug)]
pub(super) struct PmpMapping {
    inner: crab_nat::PortMapping,
    /// The gateway's external address (PCP says it in the mapping, NAT-PMP on request).
    external_ip: IpAddr,
    internal: SocketAddr,
}

/// `crab_nat`'s retries: the first wait, doubled per retry up to the configured request
/// timeout, so the whole exchange is bounded by about `retries + 1` timeouts.
fn timeouts(config: &PortMapConfig) -> TimeoutConfig {
    TimeoutConfig {
        initial_timeout: (config.request_timeout / 4).max(std::time::Duration::from_millis(100)),
        max_retries: config.retries,
        max_retry_timeout: Some(config.request_timeout),
    }
}

/// How long one exchange (with its retries) may take at most, whatever the library does.
fn deadline(config: &PortMapConfig) -> std::time::Duration {
    config.request_timeout * (config.retries as u32 + 2)
}

fn failure(gateway: Ipv4Addr, source: crab_nat::MappingFailure) -> PortMapError {
    PortMapError::Pmp {
        gateway: IpAddr::V4(gateway),
        source,
    }
}

/// Maps UDP port `internal` at `gateway`: PCP first, then NAT-PMP.
pub(super) async fn map(
    gateway: Ipv4Addr,
    internal: SocketAddr,
    config: &PortMapConfig,
) -> Result<PmpMapping, PortMapError> {
    let port = NonZeroU16::new(internal.port())
        .ok_or_else(|| PortMapError::Unsupported("port 0 cannot be mapped".into()))?;
    let options = PortMappingOptions {
        external_port: Some(port),
        lifetime_seconds: Some(config.lifetime.as_secs().clamp(1, u64::from(u32::MAX)) as u32),
        timeout_config: Some(timeouts(config)),
    };
    let within = deadline(config);
    let timed_out = |what| PortMapError::Timeout {
        what,
        after: within,
    };
    // PCP, falling back to NAT-PMP when the gateway answers that it speaks only NAT-PMP.
    let pcp = tokio::time::timeout(
        within,
        crab_nat::PortMapping::new(
            gateway.into(),
            internal.ip(),
            InternetProtocol::Udp,
            port,
            options,
        ),
    )
    .await
    .map_err(|_| timed_out("PCP/NAT-PMP mapping request"))?;
    let inner = match pcp {
        Ok(inner) => inner,
        // No answer at all: the gateway does not listen on 5351, NAT-PMP would not fare better.
        Err(error @ crab_nat::MappingFailure::Pcp(crab_nat::pcp::Failure::Timeout)) => {
            return Err(failure(gateway, error));
        }
        // Some other PCP refusal: NAT-PMP may still be served (crab_nat tries it only on a
        // version mismatch).
        Err(_) => tokio::time::timeout(
            within,
            crab_nat::natpmp::port_mapping(gateway.into(), InternetProtocol::Udp, port, options),
        )
        .await
        .map_err(|_| timed_out("NAT-PMP mapping request"))?
        .map_err(|e| failure(gateway, e.into()))?,
    };
    let external_ip = match inner.mapping_type() {
        PortMappingType::Pcp { external_ip, .. } => external_ip,
        PortMappingType::NatPmp => {
            let asked = crab_nat::natpmp::external_address(gateway.into(), Some(timeouts(config)));
            let answer = tokio::time::timeout(within, asked)
                .await
                .map_err(|_| timed_out("NAT-PMP external address request"));
            match answer {
                Ok(Ok(ip)) => IpAddr::V4(ip),
                // The mapping exists but is of no use unknown: take it back.
                Ok(Err(e)) => {
                    let _ = tokio::time::timeout(within, inner.try_drop()).await;
                    return Err(failure(gateway, e.into()));
                }
                Err(e) => {
                    let _ = tokio::time::timeout(within, inner.try_drop()).await;
                    return Err(e);
                }
            }
        }
    };
    Ok(PmpMapping {
        inner,
        external_ip,
        internal,
    })
}

impl PmpMapping {
    /// What the mapping is now.
    pub(super) fn mapping(&self) -> Mapping {
        Mapping {
            external: SocketAddr::new(self.external_ip, self.inner.external_port().get()),
            internal: self.internal,
            protocol: match self.inner.mapping_type() {
                PortMappingType::Pcp { .. } => MappingProtocol::Pcp,
                PortMappingType::NatPmp => MappingProtocol::NatPmp,
            },
            gateway: self.inner.gateway().into(),
            lifetime_s: self.inner.lifetime(),
        }
    }

    /// Asks the gateway for the same mapping again, for a new lifetime.
    pub(super) async fn renew(&mut self, config: &PortMapConfig) -> Result<(), PortMapError> {
        let gateway = match self.inner.gateway() {
            crab_nat::GatewayAddress::IpV4(v4) => v4,
            crab_nat::GatewayAddress::IpV6(..) => Ipv4Addr::UNSPECIFIED,
        };
        self.inner.timeout_config = timeouts(config);
        let within = deadline(config);
        tokio::time::timeout(within, self.inner.renew())
            .await
            .map_err(|_| PortMapError::Timeout {
                what: "PCP/NAT-PMP renewal",
                after: within,
            })?
            .map_err(|e| failure(gateway, e))
    }

    /// Deletes the mapping at the gateway.
    pub(super) async fn remove(self, config: &PortMapConfig) -> Result<(), PortMapError> {
        let gateway = match self.inner.gateway() {
            crab_nat::GatewayAddress::IpV4(v4) => v4,
            crab_nat::GatewayAddress::IpV6(..) => Ipv4Addr::UNSPECIFIED,
        };
        let mut inner = self.inner;
        inner.timeout_config = timeouts(config);
        let within = deadline(config);
        tokio::time::timeout(within, inner.try_drop())
            .await
            .map_err(|_| PortMapError::Timeout {
                what: "PCP/NAT-PMP removal",
                after: within,
            })?
            .map_err(|(e, _)| failure(gateway, e))
    }
}
