//! Listing order and page tokens, the same for every store and backend.

use std::cmp::Reverse;

use jiff::Timestamp;

use crate::check::check_name;
use crate::error::{Error, Result};

/// A record that appears in listings: newest first by `created_at`, then by
/// id (descending), so every backend returns the same order.
pub trait Listed {
    /// When it was created.
    fn created_at(&self) -> Timestamp;
    /// Its id.
    fn id(&self) -> &str;
}

/// The listing sort key of a record: sort ascending by it for newest first.
pub fn newest_first<T: Listed>(r: &T) -> (Reverse<Timestamp>, Reverse<String>) {
    (Reverse(r.created_at()), Reverse(r.id().to_owned()))
}

/// The page size for a requested limit: 100 by default, 1 to 1000.
pub fn page_size(limit: Option<usize>) -> usize {
    limit.unwrap_or(100).clamp(1, 1000)
}

/// The paging part of a listing query: how many records a page holds and
/// where it starts. Every store's query embeds one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// Page size (see [`page_size`]).
    pub limit: Option<usize>,
    /// Continue after this token from a previous page.
    pub token: Option<String>,
}

impl Page {
    /// The page size: [`page_size`] of the limit.
    pub fn size(&self) -> usize {
        page_size(self.limit)
    }

    /// The position after which this page starts; a token not made by
    /// [`Cursor::token`] is [`Error::Invalid`] (`page_token`).
    pub fn cursor(&self) -> Result<Option<Cursor>> {
        Cursor::parse_opt(self.token.as_deref())
    }
}

/// The paging builder methods of a listing query, `limit` and `after`,
/// written inside its `impl` block; the query has a `page: Page` field.
#[macro_export]
macro_rules! page_builders {
    () => {
        /// Page size.
        #[must_use]
        pub fn limit(mut self, limit: usize) -> Self {
            self.page.limit = Some(limit);
            self
        }

        /// Continue from a page token.
        #[must_use]
        pub fn after(mut self, token: Option<String>) -> Self {
            self.page.token = token;
            self
        }
    };
}

/// A position in a listing: the last record of the previous page. Its token
/// is `<created_at microseconds>.<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last record returned.
    pub at: Timestamp,
    /// Its id.
    pub id: String,
}

impl Cursor {
    /// The cursor after `r`.
    pub fn after<T: Listed>(r: &T) -> Self {
        Self {
            at: r.created_at(),
            id: r.id().to_owned(),
        }
    }

    /// The page token of this position.
    pub fn token(&self) -> String {
        format!("{}.{}", self.at.as_microsecond(), self.id)
    }

    /// Reads a page token; a token not made by [`Cursor::token`] is
    /// [`Error::Invalid`] (`page_token`).
    pub fn parse(token: &str) -> Result<Self> {
        let bad = || Error::invalid("page_token", "not a token from a previous page");
        let (micros, id) = token.split_once('.').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        let at = Timestamp::from_microsecond(micros).map_err(|_| bad())?;
        check_name("page_token", id).map_err(|_| bad())?;
        Ok(Self {
            at,
            id: id.to_owned(),
        })
    }

    /// Reads an optional page token.
    pub fn parse_opt(token: Option<&str>) -> Result<Option<Self>> {
        token.map(Self::parse).transpose()
    }

    /// Whether `r` comes after this position in listing order.
    pub fn precedes<T: Listed>(&self, r: &T) -> bool {
        (r.created_at(), r.id()) < (self.at, self.id.as_str())
    }
}

/// One page of `items` (in any order): those after `after`, newest first,
/// at most `size`, and the token of the next page if more remain.
pub fn paginate<T: Listed>(
    items: impl IntoIterator<Item = T>,
    after: Option<&Cursor>,
    size: usize,
) -> (Vec<T>, Option<String>) {
    let mut all: Vec<T> = items
        .into_iter()
        .filter(|r| after.is_none_or(|c| c.precedes(r)))
        .collect();
    all.sort_by_key(newest_first);
    let size = size.max(1);
    let next = (all.len() > size).then(|| Cursor::after(&all[size - 1]).token());
    all.truncate(size);
    (all, next)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct R(i64, &'static str);
    impl Listed for R {
        fn created_at(&self) -> Timestamp {
            Timestamp::from_second(self.0).unwrap()
        }
        fn id(&self) -> &str {
            self.1
        }
    }

    #[test]
    fn pages_cover_everything_once_in_order() {
        let items = || vec![R(1, "a"), R(3, "b"), R(3, "c"), R(2, "d"), R(5, "e")];
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = paginate(items(), after.as_ref(), 2);
            seen.extend(page.iter().map(|r| r.1));
            match next {
                Some(t) => after = Some(Cursor::parse(&t).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, ["e", "c", "b", "d", "a"]);
    }

    #[test]
    fn bad_tokens_are_invalid() {
        for t in ["", "x", "12", "abc.id", "1.", "1.\u{7}"] {
            assert!(
                matches!(
                    Cursor::parse(t),
                    Err(Error::Invalid {
                        field: "page_token",
                        ..
                    })
                ),
                "{t}"
            );
        }
        assert_eq!(page_size(None), 100);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(page_size(Some(5000)), 1000);
    }
}
