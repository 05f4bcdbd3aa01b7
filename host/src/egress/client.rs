//! The one outbound HTTP/1.1 client: it resolves a target's host itself,
//! keeps only the addresses the policy allows (see
//! [`EgressPolicy::check_address`]), connects to one of those, and speaks TLS
//! to it under the target's name. Because the address checked is the address
//! connected to, a name rebound between a check and a connect cannot slip
//! through. No proxy from the environment is used and no redirect followed.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::policy::{Denial, EgressPolicy, Target};

/// A connection, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Why a request did not get a response.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Denied(Denial),
    #[error("cannot resolve {host}: {reason}")]
    Dns { host: String, reason: String },
    #[error("cannot connect to {target}: {error}")]
    Connect {
        target: String,
        error: std::io::Error,
    },
    #[error("timed out connecting to {0}")]
    ConnectTimeout(String),
    #[error("TLS with {target}: {error}")]
    Tls {
        target: String,
        error: std::io::Error,
    },
    #[error("'{0}' is not a name TLS can verify")]
    TlsName(String),
    #[error("no response within {0:?}")]
    ResponseTimeout(Duration),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
}

/// How long each phase of a request may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// DNS, TCP and TLS together.
    pub connect: Duration,
    /// From the request sent to the response's head.
    pub first_byte: Duration,
}

/// The rest of a connection's work after the response head arrived: it
/// carries the response body, so it must be driven until the body is read.
pub type Connection = Pin<Box<dyn Future<Output = Result<(), hyper::Error>> + Send>>;

/// Connects to `target` where `policy` allows, over TLS for `https`.
pub async fn connect(
    policy: &EgressPolicy,
    target: &Target,
    timeout: Duration,
) -> Result<Box<dyn Io>, SendError> {
    policy.check(target).map_err(SendError::Denied)?;
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || SendError::ConnectTimeout(target.to_string());
    let resolved: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, target.port)],
        Err(_) => tokio::time::timeout_at(
            deadline,
            tokio::net::lookup_host((target.host.as_str(), target.port)),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| SendError::Dns {
            host: target.host.clone(),
            reason: e.to_string(),
        })?
        .collect(),
    };
    let mut refusal = None;
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|address| match policy.check_address(target, address.ip()) {
            Ok(()) => true,
            Err(denial) => {
                refusal.get_or_insert(denial);
                false
            }
        })
        .collect();
    if allowed.is_empty() {
        return Err(match refusal {
            Some(denial) => SendError::Denied(denial),
            None => SendError::Dns {
                host: target.host.clone(),
                reason: "no addresses".to_owned(),
            },
        });
    }
    let mut last_error = None;
    let mut stream = None;
    for address in allowed {
        match tokio::time::timeout_at(deadline, TcpStream::connect(address)).await {
            Err(_) => return Err(timed_out()),
            Ok(Ok(connected)) => {
                stream = Some(connected);
                break;
            }
            Ok(Err(error)) => last_error = Some(error),
        }
    }
    let Some(stream) = stream else {
        return Err(SendError::Connect {
            target: target.to_string(),
            error: last_error.unwrap_or_else(|| std::io::ErrorKind::NotConnected.into()),
        });
    };
    let _ = stream.set_nodelay(true);
    if target.scheme != "https" {
        return Ok(Box::new(stream));
    }
    let name = match target.host.parse::<IpAddr>() {
        Ok(ip) => rustls::pki_types::ServerName::from(ip),
        Err(_) => rustls::pki_types::ServerName::try_from(target.host.clone())
            .map_err(|_| SendError::TlsName(target.host.clone()))?,
    };
    let tls = tokio_rustls::TlsConnector::from(tls_config());
    let stream = tokio::time::timeout_at(deadline, tls.connect(name, stream))
        .await
        .map_err(|_| timed_out())?
        .map_err(|error| SendError::Tls {
            target: target.to_string(),
            error,
        })?;
    Ok(Box::new(stream))
}

/// The client's TLS settings: the web PKI roots, TLS 1.2 and 1.3.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| {
                builder
                    .with_root_certificates(roots.clone())
                    .with_no_client_auth()
            })
            // The ring provider supports the default versions; should that
            // ever change, fall back to the process-wide default provider.
            .unwrap_or_else(|_| {
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth()
            });
        Arc::new(config)
    }))
}

/// Sends `request` to `target` (which must be where its URI points) if the
/// policy allows; returns the response head and the connection that brings
/// its body.
pub async fn send<B>(
    policy: &EgressPolicy,
    target: &Target,
    mut request: http::Request<B>,
    timeouts: Timeouts,
) -> Result<(http::Response<Incoming>, Option<Connection>), SendError>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = connect(policy, target, timeouts.connect).await?;
    let (mut sender, connection) = tokio::time::timeout(
        timeouts.connect,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| SendError::ConnectTimeout(target.to_string()))??;
    let mut connection: Connection = Box::pin(connection);
    if !request.headers().contains_key(http::header::HOST) {
        let host = match (target.scheme.as_str(), target.port) {
            ("http", 80) | ("https", 443) => target.authority_host(),
            (_, port) => format!("{}:{port}", target.authority_host()),
        };
        if let Ok(value) = http::HeaderValue::from_str(&host) {
            request.headers_mut().insert(http::header::HOST, value);
        }
    }
    // On the wire the request line has only the path and query.
    let origin = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<http::Uri>()
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    *request.uri_mut() = origin;

    let mut response = std::pin::pin!(tokio::time::timeout(
        timeouts.first_byte,
        sender.send_request(request)
    ));
    let mut connection_done = false;
    let response = loop {
        tokio::select! {
            sent = &mut response => {
                break sent.map_err(|_| SendError::ResponseTimeout(timeouts.first_byte))??;
            }
            done = &mut connection, if !connection_done => {
                connection_done = true;
                done?;
            }
        }
    };
    Ok((response, (!connection_done).then_some(connection)))
}
