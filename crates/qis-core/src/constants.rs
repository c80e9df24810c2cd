//! Every protocol constant, defined once. Other modules and the README refer to these names.

use crate::time::Duration;

/// Size of node ids and keys in bytes (256 bits, blake3 output).
pub const ID_BYTES: usize = 32;

/// Size of node ids and keys in bits.
pub const ID_BITS: usize = ID_BYTES * 8;

/// Bucket size and replication factor (Kademlia paper, mainline, libp2p).
pub const K: usize = 20;

/// Lookup parallelism: requests in flight per lookup (per disjoint path).
pub const ALPHA: usize = 3;

/// Most disjoint paths one lookup walks.
pub const MAX_LOOKUP_PATHS: usize = 8;

/// Disjoint paths a lookup (find_node, join, refresh, re-replication) walks by default
/// (`Config::lookup_paths`): at 10,000 simulated nodes a second path did not change lookup
/// success under any attack measured (100% either way with 20% droppers, misrouters and
/// censors), and it doubles the requests.
pub const DEFAULT_LOOKUP_PATHS: usize = 1;

/// Disjoint paths a get, and a publisher's put, walk by default (`Config::get_paths`). At
/// 10,000 simulated nodes with
/// 20% adversaries that withhold values (on-off, serve-publisher-only), one path retrieved
/// 89–92% of values and two paths 100%, for about twice the requests of one get.
pub const DEFAULT_GET_PATHS: usize = 2;

/// Bytes of a node id an answer's contact carries (its first 64 bits): a lookup orders
/// candidates by them, and the node asked proves its whole id in its answer. Ids come out of
/// id work, so two nodes sharing 64 bits is a 2^-64 chance per pair, and grinding an id onto
/// another's 64-bit prefix costs 2^64 work evaluations. A 32-byte id was 640 of a full 20-contact
/// answer's ~850 bytes; 8 bytes make the answer about 380 in the simulator.
pub const ID_HINT_BYTES: usize = 8;

/// Largest UDP payload qis ever sends: fits the IPv6 minimum MTU (1280) minus IPv6 and UDP
/// headers, so no datagram is ever IP-fragmented.
pub const MAX_DATAGRAM: usize = 1232;

/// Largest signed record (an outcome packet), signature included.
pub const MAX_RECORD: usize = 512;

/// Wire protocol version: the first byte of every datagram. A datagram of another version is
/// dropped (counted as `dropped_version`) before anything else is decoded; a later wire layout
/// bumps this. Version 2: headers carry the sender's claimed id (not its key) and a challenge
/// or identity proof (`wire::Auth`). Version 3: an answer's contacts carry the first
/// [`ID_HINT_BYTES`] bytes of their ids, and requests are padded only to what the largest
/// answer to them needs (see `UNVERIFIED_REQUEST_MIN`). Version 4: reachability checks
/// (`Observe`, `Observed`, `Probe`; see `crate::reach`).
pub const PROTOCOL_VERSION: u8 = 4;

/// Longest network name, in bytes (`--network`; see `NetworkId::from_name`).
pub const MAX_NETWORK_NAME: usize = 64;

/// An answer to a source that has not proven its address is at most this many times the size of
/// its request (QUIC uses the same factor for the same reason).
pub const AMPLIFICATION_FACTOR: usize = 3;

/// Network notices (answers telling a requester of another network which one this node runs)
/// a node sends per second at most, all requesters together: a notice is small and within
/// [`AMPLIFICATION_FACTOR`], but a flood of foreign requests must not become a flood of
/// answers.
pub const MAX_NETWORK_NOTICES_PER_SECOND: u32 = 20;

/// Requests to a node we hold no valid address token for are padded so that the largest full
/// answer to them stays within [`AMPLIFICATION_FACTOR`], and never beyond this many bytes
/// (a third of the datagram budget). Since version 3 the largest answer is computed for the
/// request (k contacts of the peer's address family, or one record of [`MAX_RECORD`] for a
/// FIND_VALUE): at most 141 bytes in the simulator, 161 over IPv4, 241 over IPv6 and 238 for a FIND_VALUE,
/// plus 62 for the requests of maintenance lookups, which also cover the responder's
/// verification ping of us.
pub const UNVERIFIED_REQUEST_MIN: usize = MAX_DATAGRAM.div_ceil(AMPLIFICATION_FACTOR);

/// Size of an address token (a truncated keyed blake3 MAC of the requester's address).
pub const TOKEN_BYTES: usize = 8;

/// How often the token secret rotates; the current and the previous secret are accepted.
pub const TOKEN_ROTATION: Duration = Duration::from_secs(5 * 60);

/// Request timeout used before any round-trip time has been measured.
pub const INITIAL_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// Lower bound of the adaptive request timeout.
pub const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(100);

/// Upper bound of the adaptive request timeout.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(4);

/// How many times one lookup sends a request to the same node before giving up on it.
pub const MAX_REQUEST_ATTEMPTS: u8 = 3;

/// The last attempt waits this many timeouts: a node on a slow access link (a round trip of
/// a second or more, far beyond the timeout our other peers taught us) still answers within
/// the request's patience, which is then 4 timeouts rather than 3. At 20,000 simulated nodes
/// this turns 99.98% of lookups finding the true closest node into 100%.
pub const LAST_ATTEMPT_TIMEOUTS: u32 = 2;

/// A routing entry that answered us this recently is known to be alive: a full bucket whose
/// least recently seen entry is this fresh parks a newcomer without pinging anyone (BEP 5's
/// "good" node). Dead entries still leave through failed requests.
pub const GOOD_NODE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A bucket with no activity for this long is refreshed with a lookup of a random id in it.
pub const BUCKET_REFRESH: Duration = Duration::from_secs(60 * 60);

/// Holders re-replicate each record to the current k closest nodes this often.
pub const REPLICATE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// The original publisher republishes its records this often.
pub const REPUBLISH_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// A stored record expires this long after it was last stored (republished).
pub const RECORD_TTL: Duration = Duration::from_secs(25 * 60 * 60);

/// A held record stored again is journaled (for a node that keeps what it holds across
/// restarts) at most this often: its holders replicate it every [`REPLICATE_INTERVAL`], and
/// an entry per replication would write a record's worth of journal per holder per hour.
/// Restored, a record is at most this much older than it was.
pub const JOURNAL_REFRESH_INTERVAL: Duration = REPLICATE_INTERVAL;

/// Entries per k-bucket replacement cache.
pub const REPLACEMENT_CACHE: usize = 8;

/// Default maximum routing-table entries that share one IP address.
pub const DEFAULT_MAX_PER_IP: usize = 2;

/// Default maximum entries of one k-bucket that share one wide prefix (IPv4 /24, IPv6 /48: one
/// site or one provider's block). Addresses in one block are cheap to rent together and ids
/// cheap to grind per bucket, so without this one /24 of 253 addresses fills every bucket
/// (issue 10 measured it taking a whole 500-entry table). At 2 a bucket of [`K`] needs ten
/// distinct /24s, and an honest /24 of `c` of `n` nodes, whose expected share of a bucket of
/// 20 is `20 * c / n`, is turned away only when it holds about a tenth of the bucket's id range.
/// libp2p's Kademlia (IPFS) answered its eclipse CVE-2020-10937 with limits of the same shape
/// (per bucket and per table) keyed on the IPv4 /16; qis keys on the /24, so that honest nodes
/// in one cloud or carrier block are not charged for their whole provider. Measured with
/// `qis sim` (2,000 nodes, six seeds, the default address model: 30% of nodes in shared /24s,
/// the biggest holding about 140): at 2, 371 of 2,000 tables end short by 510 entries in all
/// (0.17% of 301,000), at 3 by 130; lookup success (99.97%), recall (0.9999) and hops (2.43
/// against 2.44 with no limit) do not move either way, so the stricter 2 it is.
pub const DEFAULT_MAX_PER_PREFIX_IN_BUCKET: usize = 2;

/// Default maximum entries of the whole routing table that share one wide prefix (IPv4 /24,
/// IPv6 /48). The per-bucket limit alone would still let one /24 take 2 places in every
/// bucket, 50 of a 500-entry table; at 10 it holds at most 10, 2% of a 500-entry table and
/// about 7% of the 150 a node holds in a 2,000-node network. An honest /24 of `c` nodes in a
/// network of `n` has about `c * len / n` entries in a table of `len`, so the cap binds only
/// for a /24 holding a fifteenth of a 2,000-node network (`c` > 130) and never for one of at
/// most 254 hosts in a network above 5,000 nodes. Where it binds, a /24 at its cap keeps its
/// places in its deepest buckets (see `routing::table`), and measured in the model above the
/// cap then costs nothing over no cap at all (371 tables short against 369; without that rule
/// 632 and lookup success 99.93%).
pub const DEFAULT_MAX_PER_PREFIX_IN_TABLE: usize = 10;

/// Default maximum number of values stored under one key.
pub const DEFAULT_MAX_VALUES_PER_KEY: usize = 4096;

/// Default maximum number of records one node stores in all.
pub const DEFAULT_MAX_RECORDS: usize = 100_000;

/// Values one publisher key may hold under one key: a publisher normally has one outcome
/// packet per context, and a few more leave room for corrections; at 8, filling a key of
/// [`DEFAULT_MAX_VALUES_PER_KEY`] takes 512 publisher keys rather than one.
pub const MAX_VALUES_PER_PUBLISHER_PER_KEY: usize = 8;

/// A publisher key's share of a node's store, in percent of its `max_records`: keys are free to
/// make, so no single key may take more than this, and a flood has to spread over at least 100
/// keys to fill a store (the eviction policy then takes from whoever holds the most).
pub const PUBLISHER_SHARE_PERCENT: usize = 1;

/// A wide source prefix's (IPv4 /24, IPv6 /48: one site or one provider's block) share of a
/// node's store, in percent of its `max_records`: fresh publisher keys are free, addresses are
/// not, so one block of addresses can fill at most a twentieth of the store with new records
/// however many keys it signs with. Re-replications by peers of our table are not charged.
pub const PREFIX_SHARE_PERCENT: usize = 5;

/// A record whose `created` time is more than this ahead of the node's wall clock is refused:
/// a publisher with a clock far in the future would otherwise outrank honest records for as
/// long as that lasts. Ten minutes is far beyond the drift of any synchronised clock, yet small
/// against [`REPUBLISH_INTERVAL`].
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(10 * 60);

/// Memory of one id-work evaluation (Argon2id), in KiB. Memory-hard, so a GPU's thousands of
/// cores share its memory bandwidth rather than each running at full speed; 1 MiB keeps one
/// evaluation at about 0.3 ms on a server core (the cost of checking a new peer's id) and
/// within reach of a small board.
pub const ID_WORK_MEMORY_KIB: u32 = 1024;

/// Passes over that memory per evaluation (Argon2id's time cost).
pub const ID_WORK_PASSES: u32 = 1;

/// Leading zero bits an id's work must have on the main network: one honest id costs 2^12
/// evaluations on average (about 1.2 s of one core here), and taking the k closest positions
/// to a key in a network of N nodes costs about N times that (see `work`).
pub const DEFAULT_ID_DIFFICULTY: u8 = 12;

/// Largest id difficulty a network may set: beyond it one honest id costs days.
pub const MAX_ID_DIFFICULTY: u8 = 24;

/// Bytes of the random challenge a requester sends to a node it has not seen prove its id.
pub const CHALLENGE_BYTES: usize = 16;

/// Candidates of one wide prefix (IPv4 /24, IPv6 /48) a lookup path counts among the k closest
/// it works towards, and a lookup returns (so among a put's holders and the nodes a get asks).
/// The routing table's limit ([`DEFAULT_MAX_PER_PREFIX_IN_BUCKET`]) has no hold on the nodes
/// other nodes name in their answers: without this, ids ground near a key from one /24 would be
/// the whole k closest set. At 2, the same as the per-bucket limit, such a /24 holds at most 2
/// of the k = 20 holders; candidates beyond it are skipped (not asked, not counted, not
/// returned). Loopback (and the simulator's local addresses) are exempt, as in the table.
pub const LOOKUP_MAX_PER_PREFIX: usize = 2;

/// Candidates of one host (IPv4 /32, IPv6 /64) a lookup path counts among its k closest and
/// a lookup returns: two holders on one machine go down together, so a host holds one place
/// (the table allows [`DEFAULT_MAX_PER_IP`] per IP for the sake of nodes behind one NAT; a
/// lookup only needs the closest of them).
pub const LOOKUP_MAX_PER_HOST: usize = 1;

/// Lookup requests (FIND_NODE, FIND_VALUE) a node sends per [`FIRST_CONTACT_WINDOW`] to one
/// host (IPv4 /32, IPv6 /64) that has never answered it. Contacts come from other nodes'
/// answers, so a liar can name a victim's address 20 times (one port each) in every answer;
/// this caps what each of our lookups then sends the victim, whatever the liar says. Beyond it
/// the request is not sent and the lookup counts the candidate as failed (metric
/// `first_contacts_limited`). Honest lookups ask a new host once and hear back within a round
/// trip, after which the host is no longer a stranger.
pub const FIRST_CONTACTS_PER_WINDOW: u8 = 4;

/// Times one lookup request is sent to a host that never answered us: the first contact and
/// one resend, at the last of the [`MAX_REQUEST_ATTEMPTS`] (after the timeout of the second
/// attempt passed without sending), the rest of the request's patience waited without
/// sending. Measured with `qis sim` (seed 7, 2,000 nodes, 5% loss each way): no resend cut
/// lookup success from 99.5% to 90.6% (a lost first contact to the closest node lost the
/// lookup), a resend at the second attempt to 98.5%, at the last to 99.2%; with loss in bursts
/// of 4 (1,500 nodes, seeds 1 and 2) 98.2% and 99.5% became 96.3% and 96.8% with the resend at
/// the second attempt, 97.6% and 97.3% at the last. A liar's victim gets at most
/// 2 × [`FIRST_CONTACTS_PER_WINDOW`] datagrams a window from us.
pub const STRANGER_ATTEMPTS: u8 = 2;

/// The window [`FIRST_CONTACTS_PER_WINDOW`] counts over.
pub const FIRST_CONTACT_WINDOW: Duration = Duration::from_secs(60);

/// Hosts (IPv4 /32, IPv6 /64) a node remembers having answered it, beyond its routing table
/// (whose peers answered it by construction): the last this many, a bounded record (1 KiB), so
/// an answer from an unknown host costs at most one slot and old ones age out. Forgetting a
/// host costs little: it only goes back to one probe per lookup and four a minute.
pub const HEARD_HOSTS: usize = 128;

/// Distinct never-heard hosts one [`FIRST_CONTACT_WINDOW`] counts first contacts for, at most:
/// bounded memory. When every slot is taken a first contact to yet another stranger is treated
/// as over its limit until the window turns (a node sends that many first contacts a minute
/// only in about 50 lookups a minute).
pub const FIRST_CONTACT_HOSTS: usize = 1024;

/// Bytes of a reachability probe's nonce (`wire::ProbeNonce`).
pub const PROBE_NONCE_BYTES: usize = 8;

/// Peers in distinct wide prefixes a reachability check asks to probe us.
pub const REACH_PROBERS: usize = 3;

/// Probes from distinct wide prefixes that make a node reachable (fewer when fewer peers
/// could be asked: a network of two decides on the one peer there is).
pub const REACH_QUORUM: usize = 2;

/// How long a reachability check waits for probes after asking (long enough for the retries
/// of a 1 s RTT, 10% loss link).
pub const REACH_WAIT: Duration = Duration::from_secs(12);

/// A reachability check that could not decide (too few peers answered) is tried again after
/// this long.
pub const REACH_RETRY: Duration = Duration::from_secs(60);

/// A node checks again that it is reachable (or still not) this often.
pub const REACH_RECHECK: Duration = Duration::from_secs(30 * 60);

/// A fresh automatic-role node checks its reachability when its join finishes, or after
/// this long at the latest (with whatever peers it has by then).
pub const REACH_FIRST_CHECK: Duration = Duration::from_secs(120);

/// By default a node asks one peer which address it sees this often, and checks its
/// reachability again at once when the answer changes (a NAT that rebinds, a new uplink).
pub const ADDRESS_WATCH_INTERVAL: Duration = Duration::from_secs(60);
