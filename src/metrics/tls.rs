//! The one place HTTP clients for metric sources get their TLS crypto provider.
//!
//! reqwest is built with `rustls-no-provider` because kube brings rustls with `ring`; two
//! providers in one process make rustls refuse to pick one and the client panics. So every
//! client is built through [`client_builder`], which installs `ring` first.

use std::time::Duration;

/// Install rustls's `ring` provider as the process default; idempotent.
pub fn install_crypto_provider() {
    // An error only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A reqwest client builder with the crypto provider installed and prescale's defaults.
pub fn client_builder(connect_timeout: Duration) -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("prescale/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout)
}
