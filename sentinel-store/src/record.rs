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

/// The listing glue of a store crate, written once at module level:
/// `$query` becomes a [`Query`] of `$record` (its paging is its field
/// `page`, its filters its inherent `matches`), and `$page`, one page of a
/// listing (the records in its field `$items`, then `next_page_token`),
/// gains a crate-private `from_parts` that builds it from what the shared
/// listings return.
#[macro_export]
macro_rules! listing {
    ($query:ty, $record:ty, $page:ident { $items:ident }) => {
        impl $crate::Query<$record> for $query {
            fn page(&self) -> &$crate::Page {
                &self.page
            }

            fn matches(&self, record: &$record) -> bool {
                <$query>::matches(self, record)
            }
        }

        impl $page {
            /// The page of a shared listing's answer: the records and the
            /// token of the next page.
            pub(crate) fn from_parts(
                ($items, next_page_token): (Vec<$record>, Option<String>),
            ) -> Self {
                Self {
                    $items,
                    next_page_token,
                }
            }
        }
    };
}

/// The [`Listed`] and [`Record`] implementations of a record type with the
/// fields `id`, `created_at`, `expires_at` and `status` and a method
/// `status_at(now)` that decides its status at a time.
#[macro_export]
macro_rules! record {
    ($record:ty) => {
        impl $crate::Listed for $record {
            fn created_at(&self) -> ::jiff::Timestamp {
                self.created_at
            }

            fn id(&self) -> &str {
                &self.id
            }
        }

        impl $crate::Record for $record {
            fn expires_at(&self) -> ::jiff::Timestamp {
                self.expires_at
            }

            fn read_at(mut self, now: ::jiff::Timestamp) -> Self {
                self.status = self.status_at(now);
                self
            }
        }
    };
}
