// The two things qis-compare needs from OpenDHT that its C API (opendht_c.h) does not offer:
// binding a node to 127.0.0.1 only (IPv4, no IPv6 socket), and the node list of a finished
// search (to measure recall). Everything else goes through the C API from Rust.
//
// A `dht_runner*` of the C API is a `dht::DhtRunner*` (opendht_c.cpp casts between them).

#include <opendht.h>
#include <opendht/opendht_c.h>

#include <arpa/inet.h>
#include <cstring>
#include <string>

extern "C" {

// Starts `runner` on 127.0.0.1:0 (threaded, network id `network`, no IPv6 socket).
// Returns 0, or -1 if OpenDHT threw (the message goes to stderr).
int qc_opendht_run_loopback(dht_runner* runner, uint32_t network) {
    try {
        auto* r = reinterpret_cast<dht::DhtRunner*>(runner);
        dht::DhtRunner::Config config;
        config.dht_config.node_config.network = network;
        config.threaded = true;
        sockaddr_in sin {};
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sin.sin_port = 0;
        config.bind4 = dht::SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
        r->run(config, dht::DhtRunner::Context {});
        return 0;
    } catch (const std::exception& e) {
        fprintf(stderr, "opendht run: %s\n", e.what());
        return -1;
    }
}

// Writes the IPv4 search log of `hash` (DhtRunner::getSearchLog) into `out`, NUL-terminated
// and cut at `cap` bytes; returns the log's full length.
size_t qc_opendht_search_log(dht_runner* runner, const dht_infohash* hash, char* out, size_t cap) {
    auto* r = reinterpret_cast<dht::DhtRunner*>(runner);
    std::string log = r->getSearchLog(dht::InfoHash(hash->d, sizeof(hash->d)), AF_INET);
    if (cap > 0) {
        size_t n = std::min(cap - 1, log.size());
        std::memcpy(out, log.data(), n);
        out[n] = '\0';
    }
    return log.size();
}

}

extern "C" {

// Nodes of `runner`'s IPv4 routing table that answered recently ("good" in OpenDHT's terms).
unsigned qc_opendht_good_nodes(const dht_runner* runner) {
    auto* r = reinterpret_cast<const dht::DhtRunner*>(runner);
    unsigned good = 0, dubious = 0, cached = 0, incoming = 0;
    r->getNodesStats(AF_INET, &good, &dubious, &cached, &incoming);
    return good;
}

}
