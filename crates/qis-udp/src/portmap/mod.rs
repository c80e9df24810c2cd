//! Port mapping through the home router, so a node behind it becomes reachable without
//! manual forwarding: [`PortMapper`] asks the gateway for a UDP mapping of the node's port,
//! first with PCP / NAT-PMP (`crab_nat`), then with UPnP-IGD (`igd-next`), renews it at half
//! its lifetime and deletes it at [`PortMapper::shutdown`].
//!
//! Every exchange with the gateway has a timeout and a bounded number of retries
//! ([`PortMapConfig`]). What the mapper has made is published on a watch channel
//! ([`PortMapper::subscribe`]), for the parts of the node that want to know (its reachability
//! checks), and as the process's [`current_mapping`], for the metrics endpoint and `qis
//! status`.

mod gateway;
mod pmp;
mod upnp;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

use tokio::task::JoinHandle;

/// How a mapping was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum MappingProtocol {
    /// Port Control Protocol (RFC 6887).
    Pcp,
    /// NAT Port Mapping Protocol (RFC 6886).
    NatPmp,
    /// UPnP Internet Gateway Device (WANIPConnection).
    Upnp,
}

impl std::fmt::Display for MappingProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MappingProtocol::Pcp => "PCP",
            MappingProtocol::NatPmp => "NAT-PMP",
            MappingProtocol::Upnp => "UPnP",
        })
    }
}

/// A UDP port mapping the gateway granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Mapping {
    /// The address others reach the node at: the gateway's external address and port.
    pub external: SocketAddr,
    /// The node's address on the LAN the mapping forwards to.
    pub internal: SocketAddr,
    /// The protocol that made it.
    pub protocol: MappingProtocol,
    /// The gateway that holds it.
    pub gateway: IpAddr,
    /// Seconds the gateway granted from the last request (0: permanent, UPnP only).
    pub lifetime_s: u32,
}

/// Why a mapping could not be made, renewed or removed.
#[derive(Debug, thiserror::Error)]
pub enum PortMapError {
    /// `/proc/net/route` could not be read.
    #[error("cannot read the routing table /proc/net/route: {0}")]
    RouteTable(#[source] std::io::Error),
    /// The routing table has no default IPv4 route through a gateway.
    #[error(
        "no default IPv4 route through a gateway in /proc/net/route (is this host behind a router?)"
    )]
    NoGateway,
    /// The node's address is of a kind gateways do not map (port 0, loopback, plain IPv6):
    /// the mapper does not ask again.
    #[error("cannot map this address: {0}")]
    Unsupported(String),
    /// This host's address toward the gateway could not be found.
    #[error("cannot find this host's address toward the gateway {gateway}: {source}")]
    LocalAddress {
        /// The gateway.
        gateway: IpAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The gateway refused or did not answer PCP / NAT-PMP.
    #[error("PCP/NAT-PMP at {gateway}: {source}")]
    Pmp {
        /// The gateway asked.
        gateway: IpAddr,
        /// What `crab_nat` reported.
        #[source]
        source: crab_nat::MappingFailure,
    },
    /// A UPnP-IGD step failed.
    #[error("UPnP-IGD: {step}: {reason}")]
    Upnp {
        /// What was being done.
        step: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// An exchange with the gateway did not finish in time.
    #[error("{what}: no answer within {after:?}")]
    Timeout {
        /// The exchange.
        what: &'static str,
        /// How long it was given.
        after: Duration,
    },
    /// Neither protocol gave a mapping.
    #[error("the gateway gave no port mapping ({pmp}; {upnp})")]
    NoMapping {
        /// Why PCP / NAT-PMP failed.
        pmp: Box<PortMapError>,
        /// Why UPnP-IGD failed.
        upnp: Box<PortMapError>,
    },
}

/// How the mapper talks to the gateway.
#[derive(Debug, Clone)]
pub struct PortMapConfig {
    /// The gateway to ask; default: the default IPv4 route's gateway (`/proc/net/route`).
    pub gateway: Option<Ipv4Addr>,
    /// The lifetime asked for (gateways may grant another one).
    pub lifetime: Duration,
    /// The longest wait for one answer from the gateway.
    pub request_timeout: Duration,
    /// Retries of an unanswered PCP / NAT-PMP request (the first try is not one).
    pub retries: usize,
    /// Attempts at renewing a mapping before it counts as lost (and is made anew).
    pub renew_attempts: u32,
    /// The first wait before trying again after no mapping could be made (doubled per
    /// failure, at most [`PortMapConfig::max_retry_after`]).
    pub retry_after: Duration,
    /// The longest wait between attempts after failures.
    pub max_retry_after: Duration,
    /// Whether the UPnP search, after asking the gateway itself, also asks the SSDP multicast
    /// group on the LAN (some routers answer only that).
    pub ssdp_multicast: bool,
}

impl Default for PortMapConfig {
    fn default() -> Self {
        PortMapConfig {
            gateway: None,
            lifetime: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(2),
            retries: 2,
            renew_attempts: 3,
            retry_after: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(30 * 60),
            ssdp_multicast: true,
        }
    }
}

/// What the mapper is doing, as [`PortMapper::subscribe`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingState {
    /// Asking the gateway (at start, and again after a failure or a lost mapping).
    Trying,
    /// The gateway holds this mapping.
    Mapped(Mapping),
    /// No mapping could be made (or one was lost); the mapper tries again later, unless the
    /// address is one no gateway maps ([`PortMapError::Unsupported`]). `attempt` counts the
    /// failures in a row, from 1.
    Failed {
        /// Why, in one line.
        reason: String,
        /// Failures in a row.
        attempt: u32,
    },
    /// The mapping was deleted at shutdown (or the mapper stopped holding none).
    Removed,
}

impl MappingState {
    /// The external address, while mapped.
    pub fn external(&self) -> Option<SocketAddr> {
        match self {
            MappingState::Mapped(m) => Some(m.external),
            _ => None,
        }
    }
}

/// The mapping this process holds now (the last [`PortMapper`] to publish one): what the
/// metrics endpoint (`qis_port_mapped`) and `qis status` show. A `qis node` process runs one
/// node and so at most one mapper.
static CURRENT: Mutex<Option<Mapping>> = Mutex::new(None);

/// The mapping this process holds now, if any.
pub fn current_mapping() -> Option<Mapping> {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner())
}

fn set_current(mapping: Option<Mapping>) {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = mapping;
}

/// A mapping held at the gateway, by either protocol.
#[derive(Debug)]
enum Held {
    Pmp(pmp::PmpMapping),
    Upnp(upnp::UpnpMapping),
}

impl Held {
    fn mapping(&self) -> Mapping {
        match self {
            Held::Pmp(m) => m.mapping(),
            Held::Upnp(m) => m.mapping(),
        }
    }

    async fn renew(&mut self, config: &PortMapConfig) -> Result<(), PortMapError> {
        match self {
            Held::Pmp(m) => m.renew(config).await,
            Held::Upnp(m) => m.renew(config).await,
        }
    }

    async fn remove(self, config: &PortMapConfig) -> Result<(), PortMapError> {
        match self {
            Held::Pmp(m) => m.remove(config).await,
            Held::Upnp(m) => m.remove(config).await,
        }
    }
}

/// Asks the gateway once for a mapping of `local`'s UDP port: PCP / NAT-PMP, then UPnP-IGD.
async fn map_once(local: SocketAddr, config: &PortMapConfig) -> Result<Held, PortMapError> {
    gateway::mappable(local)?;
    let gateway = match config.gateway {
        Some(gateway) => gateway,
        None => gateway::default_gateway_v4()?,
    };
    let internal = SocketAddr::new(
        IpAddr::V4(gateway::local_ip_toward(local, gateway)?),
        local.port(),
    );
    let pmp = match pmp::map(gateway, internal, config).await {
        Ok(held) => return Ok(Held::Pmp(held)),
        Err(e) => e,
    };
    tracing::debug!(error = %pmp, "port mapping: PCP/NAT-PMP failed, trying UPnP-IGD");
    match upnp::map(gateway, config.ssdp_multicast, internal, config).await {
        Ok(held) => Ok(Held::Upnp(held)),
        Err(upnp) => Err(PortMapError::NoMapping {
            pmp: Box::new(pmp),
            upnp: Box::new(upnp),
        }),
    }
}

/// The wait before renewing a mapping of `lifetime_s` seconds: half of it, at least 1 s; none
/// (`None`) for a permanent one.
fn renew_after(lifetime_s: u32) -> Option<Duration> {
    (lifetime_s > 0)
        .then(|| Duration::from_millis(u64::from(lifetime_s) * 500).max(Duration::from_secs(1)))
}

/// The answer to a stop: the mapping deleted, if one was held.
type Removal = Result<Option<Mapping>, PortMapError>;

/// Keeps a UDP port of this host mapped at the gateway while it runs: maps it, renews it at
/// half its lifetime, maps it anew when lost (with a growing wait after failures), and deletes
/// it at [`PortMapper::shutdown`]. Dropped without `shutdown`, it stops and leaves the
/// mapping to expire.
#[derive(Debug)]
pub struct PortMapper {
    state: watch::Receiver<MappingState>,
    stop: Option<oneshot::Sender<oneshot::Sender<Removal>>>,
    task: Option<JoinHandle<()>>,
    /// The longest [`PortMapper::shutdown`] waits for the removal.
    removal_within: Duration,
}

impl PortMapper {
    /// Starts mapping `local` (the node's bound socket address; for `0.0.0.0` or `[::]` this
    /// host's address toward the gateway is mapped) on the current tokio runtime. The first
    /// answer comes within a few request timeouts; watch [`PortMapper::subscribe`].
    pub fn spawn(local: SocketAddr, config: PortMapConfig) -> PortMapper {
        let (tx, state) = watch::channel(MappingState::Trying);
        let (stop, stopped) = oneshot::channel();
        // A removal is one exchange with its retries; a request being made when the stop
        // comes is finished first (each of its steps bounded the same way).
        let removal_within = config.request_timeout * (config.retries as u32 + 2) * 4;
        let task = tokio::spawn(keep_mapped(local, config, tx, stopped));
        PortMapper {
            state,
            stop: Some(stop),
            task: Some(task),
            removal_within,
        }
    }

    /// The mapper's state, now and as it changes (a new external address after a renewal or
    /// a new mapping shows as a new [`MappingState::Mapped`]).
    pub fn subscribe(&self) -> watch::Receiver<MappingState> {
        self.state.clone()
    }

    /// The external address, while mapped.
    pub fn external(&self) -> Option<SocketAddr> {
        self.state.borrow().external()
    }

    /// Stops the mapper and deletes the mapping at the gateway, waiting for the gateway's
    /// answer a bounded time. Returns the mapping deleted, if one was held; an error if the
    /// gateway did not confirm (the mapping then expires by itself).
    pub async fn shutdown(mut self) -> Result<Option<Mapping>, PortMapError> {
        let within = self.removal_within;
        let (reply, answer) = oneshot::channel();
        let asked = self
            .stop
            .take()
            .is_some_and(|stop| stop.send(reply).is_ok());
        let outcome = if asked {
            match tokio::time::timeout(within, answer).await {
                Ok(Ok(removal)) => removal,
                // The task ended without answering (it panicked): nothing is known held.
                Ok(Err(_)) => Ok(None),
                Err(_) => Err(PortMapError::Timeout {
                    what: "removing the port mapping",
                    after: within,
                }),
            }
        } else {
            Ok(None)
        };
        if let Some(task) = self.task.take() {
            task.abort();
        }
        set_current(None);
        outcome
    }
}

impl Drop for PortMapper {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            set_current(None);
        }
    }
}

/// The mapper's task.
async fn keep_mapped(
    local: SocketAddr,
    config: PortMapConfig,
    state: watch::Sender<MappingState>,
    mut stopped: oneshot::Receiver<oneshot::Sender<Removal>>,
) {
    let publish = |next: MappingState| {
        set_current(match &next {
            MappingState::Mapped(m) => Some(*m),
            _ => None,
        });
        state.send_replace(next);
    };
    // Deletes `held` (if any) and answers the stop.
    let (config, publish) = (&config, &publish);
    let finish =
        move |held: Option<Held>,
              reply: Result<oneshot::Sender<Removal>, oneshot::error::RecvError>| async move {
            let removal = match held {
                None => Ok(None),
                Some(held) => {
                    let mapping = held.mapping();
                    held.remove(config).await.map(|()| Some(mapping))
                }
            };
            publish(MappingState::Removed);
            if let Ok(reply) = reply {
                let _ = reply.send(removal);
            }
        };
    let mut failures: u32 = 0;
    loop {
        publish(MappingState::Trying);
        // A request under way is finished (it is bounded), so that a mapping made just as
        // the stop came is deleted too.
        let made = map_once(local, config).await;
        let mut held = match made {
            Ok(held) => held,
            Err(error) => {
                failures = failures.saturating_add(1);
                let for_good = matches!(error, PortMapError::Unsupported(_));
                publish(MappingState::Failed {
                    reason: error.to_string(),
                    attempt: failures,
                });
                if for_good {
                    // Asking again would not help: only the stop is waited for.
                    let reply = (&mut stopped).await;
                    return finish(None, reply).await;
                }
                let wait = config
                    .retry_after
                    .saturating_mul(1 << (failures - 1).min(16))
                    .min(config.max_retry_after);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => continue,
                    reply = &mut stopped => return finish(None, reply).await,
                }
            }
        };
        if let Ok(reply) = stopped.try_recv() {
            return finish(Some(held), Ok(reply)).await;
        }
        publish(MappingState::Mapped(held.mapping()));
        // Renewing until stopped or lost.
        let lost = loop {
            let wait = renew_after(held.mapping().lifetime_s);
            tokio::select! {
                _ = async {
                    match wait {
                        Some(wait) => tokio::time::sleep(wait).await,
                        None => std::future::pending().await,
                    }
                } => {}
                reply = &mut stopped => return finish(Some(held), reply).await,
            }
            let mut last_error = None;
            for attempt in 0..config.renew_attempts.max(1) {
                if attempt > 0 {
                    // Spread the attempts over a tenth of the half-lifetime at most.
                    let pause = (wait.unwrap_or_default() / 10)
                        .clamp(Duration::from_secs(1), Duration::from_secs(30));
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        reply = &mut stopped => return finish(Some(held), reply).await,
                    }
                }
                match held.renew(config).await {
                    Ok(()) => {
                        last_error = None;
                        break;
                    }
                    Err(error) => last_error = Some(error),
                }
            }
            match last_error {
                None => {
                    let now = held.mapping();
                    if state.borrow().external() != Some(now.external) {
                        publish(MappingState::Mapped(now));
                    } else {
                        // Same address, a new lifetime: nothing to wake the watchers for.
                        state.send_if_modified(|s| {
                            *s = MappingState::Mapped(now);
                            false
                        });
                        set_current(Some(now));
                    }
                }
                Some(error) => break error,
            }
        };
        // A lost mapping is a first failure: the next attempt comes after the first wait.
        failures = 1;
        publish(MappingState::Failed {
            reason: format!("the mapping could not be renewed: {lost}"),
            attempt: failures,
        });
        if let Ok(reply) = stopped.try_recv() {
            return finish(None, Ok(reply)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_comes_at_half_the_lifetime() {
        assert_eq!(renew_after(3600), Some(Duration::from_secs(1800)));
        assert_eq!(renew_after(3), Some(Duration::from_millis(1500)));
        assert_eq!(renew_after(1), Some(Duration::from_secs(1)));
        assert_eq!(renew_after(0), None);
    }

    #[test]
    fn protocols_are_named_as_operators_know_them() {
        assert_eq!(MappingProtocol::NatPmp.to_string(), "NAT-PMP");
        assert_eq!(MappingProtocol::Pcp.to_string(), "PCP");
        assert_eq!(MappingProtocol::Upnp.to_string(), "UPnP");
    }

    /// A gateway that never answers: the mapper reports a failure within its bounds and keeps
    /// the node's process free of a mapping.
    #[tokio::test]
    async fn a_silent_gateway_fails_within_the_timeouts() {
        // A loopback "gateway" whose port 5351 nobody serves, and no SSDP device.
        let config = PortMapConfig {
            gateway: Some(Ipv4Addr::LOCALHOST),
            request_timeout: Duration::from_millis(200),
            retries: 1,
            // Only ever loopback: the search goes to the "gateway" alone.
            ssdp_multicast: false,
            ..PortMapConfig::default()
        };
        let local: SocketAddr = "0.0.0.0:40999".parse().unwrap();
        let error = tokio::time::timeout(Duration::from_secs(20), map_once(local, &config))
            .await
            .expect("every exchange is bounded")
            .unwrap_err();
        assert!(matches!(error, PortMapError::NoMapping { .. }), "{error}");
        let mapper = PortMapper::spawn(local, config);
        let mut state = mapper.subscribe();
        let failed = tokio::time::timeout(
            Duration::from_secs(10),
            state.wait_for(|s| matches!(s, MappingState::Failed { .. })),
        )
        .await
        .expect("a failure is reported in time")
        .map(|s| s.clone())
        .unwrap();
        assert!(
            matches!(failed, MappingState::Failed { attempt: 1, .. }),
            "{failed:?}"
        );
        assert_eq!(mapper.external(), None);
        assert_eq!(mapper.shutdown().await.unwrap(), None);
    }

    /// A NAT-PMP gateway on 127.0.0.2:5351 that answers PCP with "unsupported version" (so the
    /// client falls back to NAT-PMP), grants at most `LIFETIME_S` seconds, and counts the
    /// mapping requests and deletions it gets.
    #[derive(Default)]
    struct FakeGateway {
        maps: std::sync::atomic::AtomicUsize,
        deletes: std::sync::atomic::AtomicUsize,
    }

    const LIFETIME_S: u32 = 2;

    async fn serve_fake(socket: tokio::net::UdpSocket, counts: std::sync::Arc<FakeGateway>) {
        use std::sync::atomic::Ordering::SeqCst;
        let mut buf = [0u8; 1100];
        // Bounded: the test aborts the task, and it answers at most this many requests.
        for _ in 0..1000 {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let answer: Vec<u8> = match (n, buf[0], buf[1]) {
                // PCP: "unsupported version", in a NAT-PMP header.
                (_, 2, op) => vec![0, 0x80 | (op & 0x7f), 0, 1],
                // NAT-PMP external address.
                (2, 0, 0) => vec![0, 0x80, 0, 0, 0, 0, 0, 9, 203, 0, 113, 9],
                // NAT-PMP UDP mapping (lifetime 0: a deletion).
                (12, 0, 1) => {
                    let internal = [buf[4], buf[5]];
                    let asked = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                    let (external, granted) = if asked == 0 {
                        counts.deletes.fetch_add(1, SeqCst);
                        ([0, 0], 0)
                    } else {
                        counts.maps.fetch_add(1, SeqCst);
                        ([buf[6], buf[7]], asked.min(LIFETIME_S))
                    };
                    let mut out = vec![0, 0x81, 0, 0, 0, 0, 0, 9];
                    out.extend(internal);
                    out.extend(external);
                    out.extend(granted.to_be_bytes());
                    out
                }
                _ => continue,
            };
            let _ = socket.send_to(&answer, from).await;
        }
    }

    #[tokio::test]
    async fn a_mapping_is_renewed_at_half_its_lifetime_and_deleted_at_shutdown() {
        let Ok(socket) = tokio::net::UdpSocket::bind("127.0.0.2:5351").await else {
            eprintln!("SKIPPED: 127.0.0.2:5351 is taken (or no 127.0.0.2 here): no fake gateway");
            return;
        };
        let counts = std::sync::Arc::new(FakeGateway::default());
        let server = tokio::spawn(serve_fake(socket, counts.clone()));
        let config = PortMapConfig {
            gateway: Some(Ipv4Addr::new(127, 0, 0, 2)),
            request_timeout: Duration::from_millis(500),
            ssdp_multicast: false,
            ..PortMapConfig::default()
        };
        let local: SocketAddr = "0.0.0.0:40123".parse().unwrap();
        let mapper = PortMapper::spawn(local, config);
        let mut state = mapper.subscribe();
        let mapped = tokio::time::timeout(
            Duration::from_secs(10),
            state.wait_for(|s| matches!(s, MappingState::Mapped(_))),
        )
        .await
        .expect("mapped in time")
        .map(|s| s.clone())
        .unwrap();
        let MappingState::Mapped(mapping) = mapped else {
            unreachable!()
        };
        assert_eq!(mapping.external, "203.0.113.9:40123".parse().unwrap());
        assert_eq!(mapping.protocol, MappingProtocol::NatPmp);
        assert_eq!(mapping.lifetime_s, LIFETIME_S);
        assert_eq!(mapper.external(), Some(mapping.external));
        // Renewed every second (half of 2 s): two renewals within 10 s at the latest.
        use std::sync::atomic::Ordering::SeqCst;
        let renewed = async {
            while counts.maps.load(SeqCst) < 3 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), renewed)
            .await
            .expect("renewals in time");
        // A renewal at the same address wakes no watcher.
        assert!(!state.has_changed().unwrap());
        assert_eq!(counts.deletes.load(SeqCst), 0);
        assert_eq!(mapper.shutdown().await.unwrap(), Some(mapping));
        assert_eq!(counts.deletes.load(SeqCst), 1);
        server.abort();
    }
}
