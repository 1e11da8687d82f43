//! What every store's records and listing queries have in common: a status
//! decided on read, an expiry, filters.

use jiff::Timestamp;

use crate::page::{Listed, Page};

/// A stored record whose status is decided on every read: a record past its
/// expiry reads as expired without being written.
pub trait Record: Listed + Sized {
    /// When it runs out by time alone, unless it is changed before.
    fn expires_at(&self) -> Timestamp;

    /// The same record with its status as of `now` (what stores return).
    fn read_at(self, now: Timestamp) -> Self;
}

/// Sorts `records` oldest expiry first, then by id: the order in which
/// `claim_expired` returns them.
pub fn by_expiry<T: Record>(records: &mut [T]) {
    records.sort_by(|a, b| (a.expires_at(), a.id()).cmp(&(b.expires_at(), b.id())));
}

/// A listing query of records `T`: where its page starts and how large it
/// is, and the filters a record (as of the read) must pass.
pub trait Query<T> {
    /// The paging part.
    fn page(&self) -> &Page;

    /// Whether `record`, read as of now, passes every filter.
    fn matches(&self, record: &T) -> bool;
}

/// Whether `value` passes an equality filter: any value when there is no
/// filter, else the one it names.
pub fn passes<T: PartialEq + ?Sized>(filter: Option<&T>, value: &T) -> bool {
    filter.is_none_or(|f| f == value)
}
