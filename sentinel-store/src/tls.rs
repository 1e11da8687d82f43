//! The TLS crypto every Sentinel HTTPS client uses (feature `tls`):
//! rustls on *ring*. The AWS SDK clients get it through
//! [`aws::https_client`](crate::aws::https_client); a `reqwest` client
//! built with its `rustls-no-provider` feature finds it as the process's
//! default provider, which [`crypto_provider`] installs.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The process's default rustls crypto provider: the one already
/// installed, or else *ring*'s, installed now. Call it before building a
/// `reqwest` client (that client looks the default up, and has none of its
/// own). An application that installed its own provider first keeps it.
///
/// ```
/// let provider = sentinel_store::tls::crypto_provider();
/// assert!(!provider.cipher_suites.is_empty());
/// ```
pub fn crypto_provider() -> Arc<CryptoProvider> {
    if let Some(installed) = CryptoProvider::get_default() {
        return Arc::clone(installed);
    }
    // Another thread may install one between the two calls; either way
    // there is a default afterwards, and that is the one returned.
    let _ = rustls::crypto::ring::default_provider().install_default();
    CryptoProvider::get_default()
        .map(Arc::clone)
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}
