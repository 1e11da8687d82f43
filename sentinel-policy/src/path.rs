//! Paths into a document (`rules[2].conditions.time`): the owned form a
//! [`Problem`](crate::Problem) is reported at, and a borrowed form built on
//! the stack while checking, so a valid document costs no allocations.

use std::fmt::Write as _;

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path into a document, from the top.
pub(crate) type Path = Vec<Seg>;

/// The path as problems show it: `rules[2].conditions.time`.
pub(crate) fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => {
                let _ = write!(s, "[{i}]");
            }
        }
    }
    s
}

/// A path into the document, built on the stack and turned into a
/// [`Path`] only when a problem is reported.
#[derive(Clone, Copy)]
pub(crate) struct At<'a> {
    parent: Option<&'a At<'a>>,
    seg: SegRef<'a>,
}

#[derive(Clone, Copy)]
enum SegRef<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'a> At<'a> {
    /// A top-level key.
    pub(crate) fn root(key: &'a str) -> Self {
        At {
            parent: None,
            seg: SegRef::Key(key),
        }
    }

    /// The value of `key` in the mapping here.
    pub(crate) fn key(&'a self, key: &'a str) -> At<'a> {
        At {
            parent: Some(self),
            seg: SegRef::Key(key),
        }
    }

    /// Item `i` of the list here.
    pub(crate) fn idx(&'a self, i: usize) -> At<'a> {
        At {
            parent: Some(self),
            seg: SegRef::Index(i),
        }
    }

    /// The owned path.
    pub(crate) fn path(&self) -> Path {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(at) = cur {
            segs.push(match at.seg {
                SegRef::Key(k) => Seg::Key(k.to_owned()),
                SegRef::Index(i) => Seg::Index(i),
            });
            cur = at.parent;
        }
        segs.reverse();
        segs
    }
}
