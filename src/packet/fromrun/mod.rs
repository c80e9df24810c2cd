//! Drafting a packet from a run directory (placeholder).
