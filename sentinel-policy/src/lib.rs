#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod collect;
mod document;
mod error;
pub mod identity;
mod json;
mod parse;
mod path;
mod policy;
mod schema;
pub mod store;
mod strict;
mod tight;
mod tree;
mod types;
mod username;
mod validate;
mod window;
mod yaml;

#[cfg(feature = "test-util")]
pub mod conformance;

pub use document::{
    ApprovalRule, ApprovalSection, AutoApprove, BreakGlassRule, BreakGlassSection, Conditions,
    Effect, HourRange, IdentitySection, Mode, PolicyDocument, ProfileConfig, RateLimitRule,
    RateLimitSection, ReasonCode, Rule, TimeWindow, Weekday,
};
pub use error::{Error, Location, Problem, Problems, Result};
pub use identity::{
    IdentifiedBy, Identity, IdentityError, Principal, PrincipalError, PrincipalKind,
};
pub use policy::{CompiledPolicy, Decision, DecisionEffect, Request};
pub use schema::json_schema;
pub use store::{
    Cached, DEFAULT_CACHE_CAPACITY, DynPolicyStore, MAX_PROFILE_LEN, MemoryPolicyStore,
    PolicyStore, check_profile_name,
};
#[cfg(feature = "file")]
pub use store::{DEFAULT_FILE_SETTLE_TIME, FilePolicyStore};
#[cfg(feature = "ssm")]
pub use store::{DEFAULT_SSM_ROOT, SsmPolicyStore};
pub use tree::MAX_DOCUMENT_BYTES;
pub use types::{
    ClockTime, ClockTimeError, DurationError, PolicyDuration, STS_MAX_DURATION, STS_MIN_DURATION,
    TimeZoneError, TimeZoneName, Version,
};
pub use username::{MAX_USERNAME_LEN, USERNAME_PUNCTUATION, Username, UsernameError};
pub use validate::{MAX_APPROVAL_DURATION, MAX_BREAKGLASS_DURATION, MAX_NAME_LEN};

// The workspace README's example runs as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod workspace_readme {}

/// Re-exported so callers can build [`Request`] times without naming jiff.
pub use jiff::Timestamp;
