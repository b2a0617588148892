//! Where the service may send requests on a customer's behalf (webhooks). A URL is refused when
//! its host is, or resolves to, an address inside a private network: loopback, RFC 1918, carrier
//! NAT, link-local (which holds the cloud metadata service at 169.254.169.254), unique-local,
//! multicast or unspecified. Checked when a webhook is saved and again by the resolver of every
//! delivery, so a name re-pointed after the check is still refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DestinationError {
    #[error("the URL is not valid: {0}")]
    Invalid(String),
    #[error("only http and https URLs can receive webhooks")]
    Scheme,
    #[error("{0} is a private, loopback, link-local or metadata address")]
    Private(IpAddr),
    #[error("{host} resolves to {ip}, a private, loopback, link-local or metadata address")]
    ResolvesPrivate { host: String, ip: IpAddr },
    #[error("{0} does not resolve")]
    Unresolvable(String),
}

/// Whether an address belongs to a network the service must not reach on a customer's behalf.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00 // unique local fc00::/7 (incl. AWS fd00:ec2::254)
                    || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                    || v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xa9fe, 0xa9fe) // NAT64 metadata
            }
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || a >= 240 // reserved
}

/// Parses `raw` and checks what needs no lookup: the scheme, no credentials, and a public
/// address when the host is a literal. Names are left to the caller's resolver (the delivery
/// client's refuses internal addresses itself).
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, DestinationError> {
    let url = Url::parse(raw).map_err(|e| DestinationError::Invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DestinationError::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DestinationError::Invalid(
            "credentials in the URL are not accepted".into(),
        ));
    }
    match url.host() {
        None => return Err(DestinationError::Invalid("the URL has no host".into())),
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), allow_private)?,
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), allow_private)?,
        Some(Host::Domain(_)) => {}
    }
    Ok(url)
}

/// [`check_url`], and a name must resolve, only to public addresses (unless `allow_private`).
pub async fn check_destination(raw: &str, allow_private: bool) -> Result<Url, DestinationError> {
    let url = check_url(raw, allow_private)?;
    if let Some(Host::Domain(name)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<_> = tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| DestinationError::Unresolvable(name.to_owned()))?
            .collect();
        if addrs.is_empty() {
            return Err(DestinationError::Unresolvable(name.to_owned()));
        }
        if !allow_private && let Some(addr) = addrs.iter().find(|addr| is_internal(addr.ip())) {
            return Err(DestinationError::ResolvesPrivate {
                host: name.to_owned(),
                ip: addr.ip(),
            });
        }
    }
    Ok(url)
}

fn check_ip(ip: IpAddr, allow_private: bool) -> Result<(), DestinationError> {
    if !allow_private && is_internal(ip) {
        return Err(DestinationError::Private(ip));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_networks_are_recognised() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "93.184.216.34", "2606:4700::1111"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn literals_and_names_of_internal_hosts_are_refused() {
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/hook",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
        ] {
            assert!(
                matches!(
                    check_destination(url, false).await,
                    Err(DestinationError::Private(_))
                ),
                "{url}"
            );
        }
        assert!(matches!(
            check_destination("http://localhost:9/", false).await,
            Err(DestinationError::ResolvesPrivate { .. })
        ));
        assert_eq!(
            check_destination("ftp://example.com/", false).await,
            Err(DestinationError::Scheme)
        );
        assert!(
            check_destination("http://127.0.0.1:8080/", true)
                .await
                .is_ok()
        );
    }
}
