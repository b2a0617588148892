//! HTTPS for the API: rustls with TLS 1.3 only unless TLS 1.2 is asked for (poem's own rustls
//! listener always offers both), from the PEM files `TROUPE_TLS_CERT` and `TROUPE_TLS_KEY` name.
//! Handshakes run side by side, each with a deadline, so a client that opens a connection and
//! says nothing holds up no one.

use std::{io, sync::Arc, time::Duration};

use anyhow::Context;
use futures::{StreamExt, future::BoxFuture, stream::FuturesUnordered};
use poem::{
    http::uri::Scheme,
    listener::{Acceptor, TcpAcceptor},
    web::{LocalAddr, RemoteAddr},
};
use tokio::net::TcpStream;
use tokio_rustls::{
    rustls::{
        self, ServerConfig,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    },
    server::TlsStream,
};
use troupe_shared::config::TlsConfig;

/// How long a client has to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server side of TLS as configured: the certificate chain, the key, the versions.
pub fn server_config(tls: &TlsConfig) -> anyhow::Result<Arc<ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|certs| certs.collect())
        .with_context(|| format!("TROUPE_TLS_CERT: reading {}", tls.cert.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "TROUPE_TLS_CERT: {} holds no certificate",
        tls.cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .with_context(|| format!("TROUPE_TLS_KEY: reading {}", tls.key.display()))?;
    let versions: &[&rustls::SupportedProtocolVersion] = if tls.allow_tls12 {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("TROUPE_TLS_CERT and TROUPE_TLS_KEY do not make a usable certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

type Handshake = BoxFuture<'static, io::Result<(TlsStream<TcpStream>, LocalAddr, RemoteAddr)>>;

/// Accepts TCP connections and hands out those whose TLS handshake completed.
pub struct TlsAcceptor {
    tcp: TcpAcceptor,
    tls: tokio_rustls::TlsAcceptor,
    handshakes: FuturesUnordered<Handshake>,
}

impl TlsAcceptor {
    pub fn new(tcp: TcpAcceptor, config: Arc<ServerConfig>) -> Self {
        TlsAcceptor {
            tcp,
            tls: tokio_rustls::TlsAcceptor::from(config),
            handshakes: FuturesUnordered::new(),
        }
    }
}

impl Acceptor for TlsAcceptor {
    type Io = TlsStream<TcpStream>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.tcp.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => {
                    let (stream, local, remote, _) = accepted?;
                    let tls = self.tls.clone();
                    self.handshakes.push(Box::pin(async move {
                        let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream))
                            .await
                            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
                        Ok((stream, local, remote))
                    }));
                }
                Some(done) = self.handshakes.next(), if !self.handshakes.is_empty() => match done {
                    Ok((stream, local, remote)) => return Ok((stream, local, remote, Scheme::HTTPS)),
                    // A client that cannot agree (an old TLS version, a wrong certificate) is
                    // that client's problem; the listener goes on.
                    Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
                },
            }
        }
    }
}
