//! Where the distributed shape's Redis is and how it is trusted: `redis://` on a private
//! network, or `rediss://` (TLS) with its certificate checked against the system's roots or a
//! private authority (`TROUPE_REDIS_CA_CERT`).

use std::{sync::Arc, time::Duration};

use apalis_redis::ConnectionManager;
use redis::{Client, ErrorKind, RedisError, TlsCertificates, aio::ConnectionManagerConfig};

use crate::config::Config;

/// The configured Redis; cloning is cheap.
#[derive(Clone)]
pub struct RedisServer {
    url: String,
    /// The private authority's certificates (PEM), read once at start.
    ca_cert: Option<Arc<Vec<u8>>>,
}

impl RedisServer {
    /// The Redis of `config`, if it names one. The authority's file is read now, so a wrong path
    /// stops the process at start rather than at its first job.
    pub fn configured(config: &Config) -> Result<Option<Self>, RedisError> {
        let Some(url) = &config.redis_url else {
            return Ok(None);
        };
        let ca_cert = match &config.redis_ca_cert {
            Some(path) => Some(Arc::new(std::fs::read(path).map_err(|e| {
                RedisError::from((
                    ErrorKind::InvalidClientConfig,
                    "cannot read TROUPE_REDIS_CA_CERT",
                    format!("{}: {e}", path.display()),
                ))
            })?)),
            None => None,
        };
        Ok(Some(RedisServer {
            url: url.clone(),
            ca_cert,
        }))
    }

    /// A client of the server; over TLS when the address is `rediss://`.
    pub fn client(&self) -> Result<Client, RedisError> {
        if self.url.starts_with("rediss://") {
            // redis-rs builds its TLS settings from the process's rustls provider, and two are
            // linked (reqwest brings ring): name ours, aws-lc-rs, as the API's HTTPS does. An
            // `Err` means one is installed already, which is as good.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        match &self.ca_cert {
            Some(pem) => Client::build_with_tls(
                self.url.as_str(),
                TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.to_vec()),
                },
            ),
            None => Client::open(self.url.as_str()),
        }
    }

    /// A connection that survives load: redis-rs's default 500 ms response timeout turns a busy
    /// moment into a dead pool (apalis-redis issue 76).
    pub async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(30)));
        self.client()?
            .get_connection_manager_with_config(config)
            .await
    }
}
