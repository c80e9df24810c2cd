//! Paging through the values of a key. A key can hold thousands of values, far more than one
//! datagram carries, so a get continues after the lookup: the record-id space is split into up
//! to α ranges, each fetched page by page from a different holder in parallel. A holder that
//! stops answering hands its range to another. The lookup's own FIND_VALUE asks each holder
//! for its best-ranked values first ([`RecordId::BEST_FIRST`]); the ranges page in record-id
//! order.

use crate::id::Id;
use crate::record::{RecordId, SignedRecord};
use crate::wire::Contact;
use std::collections::BTreeMap;

/// A holder of values under the key.
#[derive(Debug, Clone, Copy)]
struct Holder<A> {
    contact: Contact<A>,
    total: u32,
    next: Option<RecordId>,
    failed: bool,
}

/// One range of record ids being fetched from one holder.
#[derive(Debug, Clone, Copy)]
struct Stream {
    holder: usize,
    next: RecordId,
    end: Option<RecordId>,
    in_flight: bool,
    done: bool,
}

/// A page to request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageRequest<A> {
    /// Which stream asks (echo it back with the answer).
    pub stream: usize,
    /// The holder to ask.
    pub to: Contact<A>,
    /// The first record id wanted.
    pub start: RecordId,
}

/// Collects the values of one key.
#[derive(Debug, Clone)]
pub(crate) struct Pager<A> {
    key: Id,
    records: BTreeMap<RecordId, SignedRecord>,
    holders: Vec<Holder<A>>,
    streams: Vec<Stream>,
    max_records: usize,
    pages: u32,
    incomplete: bool,
}

/// The lower bound of range `s` of `m` equal ranges of the record-id space (the first starts
/// at [`RecordId::LOWEST`]: a request from [`RecordId::BEST_FIRST`] would ask for the ranked
/// first page again).
fn range_start(s: usize, m: usize) -> RecordId {
    if s == 0 {
        return RecordId::LOWEST;
    }
    let mut bytes = [0u8; 32];
    bytes[0] = ((s * 256) / m) as u8;
    RecordId(bytes)
}

impl<A: Copy + Eq> Pager<A> {
    /// A pager for `key` keeping at most `max_records` values.
    pub(crate) fn new(key: Id, max_records: usize) -> Pager<A> {
        Pager {
            key,
            records: BTreeMap::new(),
            holders: Vec::new(),
            streams: Vec::new(),
            max_records,
            pages: 0,
            incomplete: false,
        }
    }

    /// The key.
    pub(crate) fn key(&self) -> Id {
        self.key
    }

    /// Whether a record with this id was already collected.
    pub(crate) fn contains(&self, id: &RecordId) -> bool {
        self.records.contains_key(id)
    }

    /// Merges records, returning those not seen before (for streaming to the caller).
    pub(crate) fn merge(&mut self, records: Vec<SignedRecord>) -> Vec<SignedRecord> {
        let mut fresh = Vec::new();
        for record in records {
            if self.records.len() >= self.max_records {
                self.incomplete = true;
                break;
            }
            let id = record.id();
            if let std::collections::btree_map::Entry::Vacant(slot) = self.records.entry(id) {
                slot.insert(record.clone());
                fresh.push(record);
            }
        }
        fresh
    }

    /// A first page from a holder found by the lookup.
    pub(crate) fn on_first_page(
        &mut self,
        from: Contact<A>,
        total: u32,
        next: Option<RecordId>,
        records: Vec<SignedRecord>,
    ) -> Vec<SignedRecord> {
        self.pages += 1;
        self.holders.push(Holder {
            contact: from,
            total,
            next,
            failed: false,
        });
        self.merge(records)
    }

    /// Once the lookup is over: plans up to `parallelism` streams over the holders with more
    /// pages, largest holders first.
    pub(crate) fn start(&mut self, parallelism: usize) {
        let mut order: Vec<usize> = (0..self.holders.len())
            .filter(|&i| self.holders[i].next.is_some())
            .collect();
        order.sort_by(|&a, &b| {
            self.holders[b]
                .total
                .cmp(&self.holders[a].total)
                .then(a.cmp(&b))
        });
        let m = order.len().min(parallelism.max(1));
        for (s, &holder) in order.iter().take(m).enumerate() {
            let start = range_start(s, m);
            let end = (s + 1 < m).then(|| range_start(s + 1, m));
            // The first range resumes where the holder's first page stopped.
            let next = match (s, self.holders[holder].next) {
                (0, Some(next)) => next.max(start),
                _ => start,
            };
            let done = end.is_some_and(|e| next >= e);
            self.streams.push(Stream {
                holder,
                next,
                end,
                in_flight: false,
                done,
            });
        }
    }

    /// Pages to request now.
    pub(crate) fn next_requests(&mut self) -> Vec<PageRequest<A>> {
        if self.records.len() >= self.max_records {
            self.stop_all();
            return Vec::new();
        }
        let mut out = Vec::new();
        for (s, stream) in self.streams.iter_mut().enumerate() {
            if !stream.done && !stream.in_flight {
                stream.in_flight = true;
                out.push(PageRequest {
                    stream: s,
                    to: self.holders[stream.holder].contact,
                    start: stream.next,
                });
            }
        }
        out
    }

    fn stop_all(&mut self) {
        for stream in &mut self.streams {
            if !stream.done {
                stream.done = true;
                self.incomplete = true;
            }
        }
    }

    /// A page answered for `stream`; returns the records not seen before.
    pub(crate) fn on_page(
        &mut self,
        stream: usize,
        next: Option<RecordId>,
        records: Vec<SignedRecord>,
    ) -> Vec<SignedRecord> {
        self.pages += 1;
        if let Some(s) = self.streams.get_mut(stream) {
            s.in_flight = false;
            match next {
                Some(n) if n > s.next && s.end.is_none_or(|e| n < e) => s.next = n,
                // No progress would loop forever: a holder that does not advance is done.
                _ => s.done = true,
            }
        }
        self.merge(records)
    }

    /// The holder of `stream` did not answer: hand the range to another holder.
    pub(crate) fn on_page_failure(&mut self, stream: usize) {
        let Some(s) = self.streams.get(stream).copied() else {
            return;
        };
        self.holders[s.holder].failed = true;
        let replacement =
            (0..self.holders.len()).find(|&h| !self.holders[h].failed && self.holders[h].total > 0);
        let s = &mut self.streams[stream];
        s.in_flight = false;
        match replacement {
            Some(h) => s.holder = h,
            None => {
                s.done = true;
                self.incomplete = true;
            }
        }
    }

    /// True when every stream is done.
    pub(crate) fn is_finished(&self) -> bool {
        self.streams.iter().all(|s| s.done)
    }

    /// Pages received in all.
    pub(crate) fn pages(&self) -> u32 {
        self.pages
    }

    /// Number of holders that answered with values.
    pub(crate) fn holders(&self) -> usize {
        self.holders.len()
    }

    /// The largest count any holder announced.
    pub(crate) fn announced(&self) -> u32 {
        self.holders.iter().map(|h| h.total).max().unwrap_or(0)
    }

    /// True if some range could not be fetched or the record cap was hit.
    pub(crate) fn incomplete(&self) -> bool {
        self.incomplete
    }

    /// Adds records this node holds itself.
    pub(crate) fn add_local(&mut self, records: Vec<SignedRecord>) {
        self.merge(records);
    }

    /// All records collected, in record-id order.
    pub(crate) fn into_records(self) -> Vec<SignedRecord> {
        self.records.into_values().collect()
    }
}
