//! Errors and validation problems.

use std::fmt;
use std::sync::Arc;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A position in a policy source: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line, starting at 1.
    pub line: usize,
    /// Column, starting at 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One thing wrong with a policy document.
///
/// A document that has any problem is rejected as a whole; validation
/// reports every problem it finds, not just the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path of the offending field, e.g. `rules[2].conditions.time.timezone`
    /// (empty for the document itself).
    pub path: String,
    /// Where the field is in the source, when the format records it.
    pub location: Option<Location>,
    /// What is wrong.
    pub message: String,
    /// What is allowed instead, or how to fix it.
    pub help: Option<String>,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            location: None,
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = self.location {
            write!(f, "{loc}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

/// The problems of one rejected document, printable one per line with the
/// source name in front (`policy.yaml:12:9: rules[0].effect: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems<'a> {
    origin: &'a str,
    problems: &'a [Problem],
}

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if p.location.is_some() {
                write!(f, "{}:{p}", self.origin)?;
            } else {
                write!(f, "{}: {p}", self.origin)?;
            }
        }
        Ok(())
    }
}

/// Errors of the policy engine and its stores.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document could not be parsed or failed validation. It is never
    /// partly applied: a caller that gets this error must deny.
    #[error("policy {origin} is invalid ({count} problem{s}); the first: {first}", count = problems.len(), s = if problems.len() == 1 { "" } else { "s" }, first = first_problem(problems))]
    Invalid {
        /// Where the document came from (file path, `ssm:/path`, `memory:name`).
        origin: String,
        /// Every problem found, in document order.
        problems: Vec<Problem>,
    },

    /// No policy exists for the profile.
    #[error("no policy for profile \"{profile}\" in {origin}: {help}")]
    NotFound {
        /// The profile that was looked up.
        profile: String,
        /// The store that was searched.
        origin: String,
        /// How to provide one, in words (no commands).
        help: String,
        /// The SSM parameter that would hold the policy, when the store is
        /// SSM Parameter Store: frontends name it in their own advice.
        parameter: Option<String>,
    },

    /// The backend refused access to the policy.
    #[error("access denied reading the policy for profile \"{profile}\" from {origin}: {message}")]
    AccessDenied {
        /// The profile that was looked up.
        profile: String,
        /// The store that refused.
        origin: String,
        /// What the backend said and what permission is needed.
        message: String,
    },

    /// A profile name that can never name a policy.
    #[error("invalid profile name \"{profile}\": {reason}")]
    InvalidProfile {
        /// The name as given.
        profile: String,
        /// Why it is rejected and what is allowed.
        reason: String,
    },

    /// The backend failed (I/O, network, throttling, …).
    #[error("{backend} policy store failed: {source}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
}

fn first_problem(problems: &[Problem]) -> String {
    problems
        .first()
        .map_or_else(|| "unknown problem".to_owned(), ToString::to_string)
}

impl Error {
    /// For [`Error::Invalid`], every problem; `None` for other errors.
    pub fn problem_list(&self) -> Option<&[Problem]> {
        match self {
            Error::Invalid { problems, .. } => Some(problems),
            _ => None,
        }
    }

    /// For [`Error::Invalid`], a multi-line listing of every problem, each
    /// prefixed with the source; `None` for other errors.
    pub fn problems(&self) -> Option<Problems<'_>> {
        match self {
            Error::Invalid { origin, problems } => Some(Problems { origin, problems }),
            _ => None,
        }
    }

    #[cfg_attr(not(any(feature = "file", feature = "ssm")), allow(dead_code))]
    pub(crate) fn backend(
        backend: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        let source: Box<dyn std::error::Error + Send + Sync + 'static> = source.into();
        Error::Backend {
            backend,
            source: Arc::from(source),
        }
    }
}
