//! UDP socket setup with socket2: enlarged buffers (a busy node receives bursts of answers),
//! IPv4 and IPv6, and dual-stack when listening on `[::]`.

use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;

/// Socket buffer sizes requested from the kernel (it may grant less).
#[derive(Debug, Clone, Copy)]
pub struct SocketOptions {
    /// Receive buffer in bytes.
    pub recv_buffer: usize,
    /// Send buffer in bytes.
    pub send_buffer: usize,
}

impl Default for SocketOptions {
    fn default() -> SocketOptions {
        SocketOptions {
            recv_buffer: 1 << 21,
            send_buffer: 1 << 20,
        }
    }
}

/// Binds a non-blocking UDP socket for tokio.
pub fn bind_udp(
    addr: SocketAddr,
    options: &SocketOptions,
) -> std::io::Result<tokio::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Buffer sizes are a request; a kernel cap is not an error worth refusing to start for.
    let _ = socket.set_recv_buffer_size(options.recv_buffer);
    let _ = socket.set_send_buffer_size(options.send_buffer);
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// IPv4-mapped IPv6 source addresses (from a dual-stack socket) in their IPv4 form, so one
/// peer has one address whichever way it reached us.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}
