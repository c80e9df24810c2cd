//! Moves the process into a private network namespace with only `lo` up, so the UDP and
//! `lo` counters see this harness's traffic and nothing else on the machine.
//!
//! Must run before any other thread exists: a namespace change applies to the calling thread
//! and to the threads it creates afterwards.

use std::io;

/// Enters a new network namespace (needs root or CAP_SYS_ADMIN) and brings `lo` up.
pub fn isolate() -> io::Result<()> {
    // SAFETY: unshare only changes this thread's namespaces.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    bring_lo_up()
}

/// Sets IFF_UP on `lo` with SIOCGIFFLAGS/SIOCSIFFLAGS.
fn bring_lo_up() -> io::Result<()> {
    // SAFETY: a plain datagram socket used only for the two ioctls, closed below; the ifreq
    // is zeroed and its name is a NUL-terminated "lo".
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let mut result = Ok(());
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            result = Err(io::Error::last_os_error());
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &mut req) < 0 {
                result = Err(io::Error::last_os_error());
            }
        }
        libc::close(fd);
        result
    }
}
