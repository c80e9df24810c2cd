//! Local synthesis (placeholder, filled below).
