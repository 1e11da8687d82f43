#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod authority;
#[cfg(feature = "sts")]
pub mod base;
#[cfg(feature = "client")]
pub mod client;
mod error;
pub mod identity;
pub mod log;
pub mod pipeline;
#[cfg(feature = "sts")]
pub mod profiles;
pub mod remedy;
pub mod server;
pub mod source_identity;
pub mod vendor;
pub mod wire;

pub use error::{Error, Result};
pub use pipeline::{
    Authorization, Caller, DEFAULT_DURATION, DEFAULT_SERVER_DURATION, Denial, Grant, Granted,
    Issued, Outcome, Pipeline, Target, VendRequest,
};
pub use remedy::Remedy;
#[cfg(feature = "test-util")]
pub use vendor::FakeVendor;
pub use vendor::{AssumeRoleRequest, Credentials, MfaSessionError, VendError, Vendor};
#[cfg(feature = "sts")]
pub use vendor::{StsVendor, mfa_session};
