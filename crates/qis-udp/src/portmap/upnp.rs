//! UPnP Internet Gateway Device (WANIPConnection), through `igd-next`: an SSDP search on the
//! LAN, then SOAP requests over HTTP to the device it finds.

use super::{Mapping, MappingProtocol, PortMapConfig, PortMapError};
use igd_next::aio::Gateway;
use igd_next::aio::tokio::Tokio;
use igd_next::{AddAnyPortError, AddPortError, PortMappingProtocol, SearchOptions};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The description the gateway shows for the mapping.
const DESCRIPTION: &str = "qis node";

/// A mapping made through a UPnP IGD.
#[derive(Debug)]
pub(super) struct UpnpMapping {
    gateway: Gateway<Tokio>,
    external: SocketAddr,
    internal: SocketAddr,
    /// Seconds granted; 0 for a gateway that only grants permanent mappings.
    lease_s: u32,
}

fn error(step: &'static str, reason: impl std::fmt::Display) -> PortMapError {
    PortMapError::Upnp {
        step,
        reason: reason.to_string(),
    }
}

/// `future`, or a timeout error after `within`.
async fn bounded<T>(
    what: &'static str,
    within: Duration,
    future: impl std::future::Future<Output = T>,
) -> Result<T, PortMapError> {
    tokio::time::timeout(within, future)
        .await
        .map_err(|_| PortMapError::Timeout {
            what,
            after: within,
        })
}

/// The SSDP port.
const SSDP_PORT: u16 = 1900;

/// Finds the IGD at `gateway` (an SSDP search sent to the gateway itself, then, if
/// `multicast`, to the SSDP group on the LAN, from `internal`'s address; only a device at the
/// gateway's address is taken) and maps UDP port `internal` on it, at the same external port
/// if it is free, else at one the gateway picks.
pub(super) async fn map(
    gateway: Ipv4Addr,
    multicast: bool,
    internal: SocketAddr,
    config: &PortMapConfig,
) -> Result<UpnpMapping, PortMapError> {
    let within = config.request_timeout * 2;
    let search = |to: SocketAddr| {
        let mut options = SearchOptions::default();
        options.bind_addr = SocketAddr::new(internal.ip(), 0);
        options.broadcast_address = to;
        options.timeout = Some(config.request_timeout);
        options.single_search_timeout = Some(config.request_timeout);
        bounded(
            "UPnP gateway search",
            within,
            igd_next::aio::tokio::search_gateway(options),
        )
    };
    let mut found = search(SocketAddr::from((gateway, SSDP_PORT))).await;
    if multicast && !matches!(found, Ok(Ok(_))) {
        found = search(SocketAddr::from(([239, 255, 255, 250], SSDP_PORT))).await;
    }
    let gateway_device = found?.map_err(|e| error("searching for a gateway (SSDP)", e))?;
    if gateway_device.addr.ip() != IpAddr::V4(gateway) {
        return Err(error(
            "searching for a gateway (SSDP)",
            format!(
                "the device that answered is at {}, not at the gateway {gateway}",
                gateway_device.addr
            ),
        ));
    }
    let gateway = gateway_device;
    let external_ip = bounded(
        "UPnP external address request",
        within,
        gateway.get_external_ip(),
    )
    .await?
    .map_err(|e| error("asking the external address", e))?;
    let mut lease_s = config.lifetime.as_secs().clamp(1, u64::from(u32::MAX)) as u32;
    let port = internal.port();
    let mut same_port = bounded(
        "UPnP mapping request",
        within,
        gateway.add_port(
            PortMappingProtocol::UDP,
            port,
            internal,
            lease_s,
            DESCRIPTION,
        ),
    )
    .await?;
    if matches!(same_port, Err(AddPortError::OnlyPermanentLeasesSupported)) {
        lease_s = 0;
        same_port = bounded(
            "UPnP mapping request",
            within,
            gateway.add_port(PortMappingProtocol::UDP, port, internal, 0, DESCRIPTION),
        )
        .await?;
    }
    let external_port = match same_port {
        Ok(()) => port,
        Err(AddPortError::PortInUse | AddPortError::SamePortValuesRequired) => {
            let mut any = bounded(
                "UPnP mapping request",
                within,
                gateway.add_any_port(PortMappingProtocol::UDP, internal, lease_s, DESCRIPTION),
            )
            .await?;
            if lease_s != 0 && matches!(any, Err(AddAnyPortError::OnlyPermanentLeasesSupported)) {
                lease_s = 0;
                any = bounded(
                    "UPnP mapping request",
                    within,
                    gateway.add_any_port(PortMappingProtocol::UDP, internal, 0, DESCRIPTION),
                )
                .await?;
            }
            any.map_err(|e| error("adding a port mapping", e))?
        }
        Err(e) => return Err(error("adding a port mapping", e)),
    };
    Ok(UpnpMapping {
        gateway,
        external: SocketAddr::new(external_ip, external_port),
        internal,
        lease_s,
    })
}

impl UpnpMapping {
    /// What the mapping is now.
    pub(super) fn mapping(&self) -> Mapping {
        Mapping {
            external: self.external,
            internal: self.internal,
            protocol: MappingProtocol::Upnp,
            gateway: self.gateway.addr.ip(),
            lifetime_s: self.lease_s,
        }
    }

    /// Asks for the same mapping again (AddPortMapping of an existing entry of ours renews
    /// its lease).
    pub(super) async fn renew(&mut self, config: &PortMapConfig) -> Result<(), PortMapError> {
        bounded(
            "UPnP renewal",
            config.request_timeout * 2,
            self.gateway.add_port(
                PortMappingProtocol::UDP,
                self.external.port(),
                self.internal,
                self.lease_s,
                DESCRIPTION,
            ),
        )
        .await?
        .map_err(|e| error("renewing the port mapping", e))
    }

    /// Deletes the mapping at the gateway.
    pub(super) async fn remove(self, config: &PortMapConfig) -> Result<(), PortMapError> {
        bounded(
            "UPnP removal",
            config.request_timeout * 2,
            self.gateway
                .remove_port(PortMappingProtocol::UDP, self.external.port()),
        )
        .await?
        .map_err(|e| error("removing the port mapping", e))
    }
}
