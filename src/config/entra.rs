//! The Microsoft Entra ID preset: what `entra: {tenant_id, cloud,
//! resource}` expands to. Entra ID issues client-credentials tokens at its
//! v2.0 token endpoint for the `.default` scope of one resource (the API's
//! application ID URI, e.g. `https://graph.microsoft.com/.default`).
//!
//! `entra.credential_inventory` adds where Microsoft Graph lists the
//! application's secrets and certificates ([`InventorySettings`]).

use super::preset::PresetTargets;
use super::raw::EntraCloud;

/// Why an Entra preset cannot be expanded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntraError {
    /// The tenant id is neither a GUID nor a domain name.
    #[error(
        "tenant_id {0:?} must be the directory's GUID (8-4-4-4-12 hex digits) or a verified domain such as contoso.onmicrosoft.com"
    )]
    BadTenant(String),
    /// Neither `entra.resource` nor `base_url` says which API the token is for.
    #[error(
        "needs the resource the token is for (entra.resource, e.g. https://graph.microsoft.com), or a base_url to take it from"
    )]
    NoResource,
    /// The resource is not an absolute URI.
    #[error(
        "resource {0:?} is not an absolute URI such as https://graph.microsoft.com or api://my-api"
    )]
    BadResource(String),
}

/// The login host of each national cloud.
pub fn login_host(cloud: EntraCloud) -> &'static str {
    match cloud {
        EntraCloud::Global => "login.microsoftonline.com",
        EntraCloud::Usgov | EntraCloud::Dod => "login.microsoftonline.us",
        EntraCloud::China => "login.chinacloudapi.cn",
    }
}

/// The Microsoft Graph host of each national cloud.
pub fn graph_host(cloud: EntraCloud) -> &'static str {
    match cloud {
        EntraCloud::Global => "https://graph.microsoft.com",
        EntraCloud::Usgov => "https://graph.microsoft.us",
        EntraCloud::Dod => "https://dod-graph.microsoft.us",
        EntraCloud::China => "https://microsoftgraph.chinacloudapi.cn",
    }
}

/// The scope of a Graph token, requested with the tenant's own credential
/// at its own token endpoint for the credential inventory only.
pub const GRAPH_SCOPE_SUFFIX: &str = "/.default";

/// Where and how the credential inventory reads the application: the
/// Graph application URL (with `$select`) and the form of the Graph token
/// request. A tenant's Graph token is used for this request only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventorySettings {
    /// `GET {graph}/v1.0/applications(appId='{client_id}')?$select=passwordCredentials,keyCredentials`.
    pub application_url: url::Url,
    /// The token request's form: client credentials for `{graph}/.default`.
    pub form: Vec<(String, String)>,
}

/// Why `entra.graph_url` cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphUrlError {
    /// Not an absolute http(s) URL.
    #[error("{0:?} is not an absolute URL such as https://graph.microsoft.com")]
    NotUrl(String),
    /// Plain http to a host other than loopback.
    #[error("{0:?}: plain http only to a loopback host (127.0.0.1, ::1, localhost); use https")]
    InsecureHttp(String),
}

/// The inventory's settings for `client_id` in `cloud`, Graph at
/// `graph_url` when given.
pub fn inventory(
    cloud: EntraCloud,
    graph_url: Option<&str>,
    client_id: &str,
) -> Result<InventorySettings, GraphUrlError> {
    let graph = graph_url.unwrap_or(graph_host(cloud)).trim_end_matches('/');
    let base = url::Url::parse(graph).map_err(|_| GraphUrlError::NotUrl(graph.to_owned()))?;
    match base.scheme() {
        "https" => {}
        "http" if is_loopback(&base) => {}
        "http" => return Err(GraphUrlError::InsecureHttp(graph.to_owned())),
        _ => return Err(GraphUrlError::NotUrl(graph.to_owned())),
    }
    if base.cannot_be_a_base() || base.query().is_some() {
        return Err(GraphUrlError::NotUrl(graph.to_owned()));
    }
    let encoded: String = client_id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let application_url = url::Url::parse(&format!(
        "{graph}/v1.0/applications(appId='{encoded}')?$select=passwordCredentials,keyCredentials"
    ))
    .map_err(|_| GraphUrlError::NotUrl(graph.to_owned()))?;
    Ok(InventorySettings {
        application_url,
        form: vec![
            ("grant_type".into(), "client_credentials".into()),
            (
                "scope".into(),
                format!("{}{GRAPH_SCOPE_SUFFIX}", graph_host(cloud)),
            ),
        ],
    })
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Expands the preset. `resource` defaults to `base_url`'s origin.
pub fn targets(
    tenant_id: &str,
    cloud: EntraCloud,
    resource: Option<&str>,
    base_url: Option<&str>,
) -> Result<PresetTargets, EntraError> {
    if !is_guid(tenant_id) && !is_domain(tenant_id) {
        return Err(EntraError::BadTenant(tenant_id.to_owned()));
    }
    let resource = match (resource, base_url) {
        (Some(resource), _) => resource.trim_end_matches('/').to_owned(),
        (None, Some(base)) => url::Url::parse(base)
            .map(|url| url.origin().ascii_serialization())
            .map_err(|_| EntraError::NoResource)?,
        (None, None) => return Err(EntraError::NoResource),
    };
    if !resource.contains("://") || resource.len() > 2048 {
        return Err(EntraError::BadResource(resource));
    }
    Ok(PresetTargets {
        base_url: resource.starts_with("https://").then(|| resource.clone()),
        token_url: format!(
            "https://{}/{tenant_id}/oauth2/v2.0/token",
            login_host(cloud)
        ),
        form: vec![
            ("grant_type".into(), "client_credentials".into()),
            ("scope".into(), format!("{resource}/.default")),
        ],
        token_on_api_host: false,
    })
}

fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_domain(text: &str) -> bool {
    text.len() <= 253
        && text.contains('.')
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn token_url_per_cloud_and_default_scope_of_the_resource() {
        let global = targets(
            GUID,
            EntraCloud::Global,
            Some("https://graph.microsoft.com/"),
            None,
        )
        .unwrap();
        assert_eq!(
            global.token_url,
            format!("https://login.microsoftonline.com/{GUID}/oauth2/v2.0/token")
        );
        assert_eq!(
            global.form[1],
            (
                "scope".into(),
                "https://graph.microsoft.com/.default".into()
            )
        );
        assert_eq!(
            global.base_url.as_deref(),
            Some("https://graph.microsoft.com")
        );
        let usgov = targets(
            "contoso.onmicrosoft.us",
            EntraCloud::Usgov,
            Some("api://my-api"),
            None,
        )
        .unwrap();
        assert!(
            usgov
                .token_url
                .starts_with("https://login.microsoftonline.us/contoso.onmicrosoft.us/")
        );
        assert_eq!(usgov.form[1].1, "api://my-api/.default");
        assert_eq!(usgov.base_url, None, "an api:// resource is no base URL");
        let dod = targets(GUID, EntraCloud::Dod, Some("api://my-api"), None).unwrap();
        assert_eq!(
            dod.token_url,
            format!("https://login.microsoftonline.us/{GUID}/oauth2/v2.0/token")
        );
        let china = targets(
            GUID,
            EntraCloud::China,
            None,
            Some("https://api.example.cn/v1"),
        )
        .unwrap();
        assert!(
            china
                .token_url
                .starts_with("https://login.chinacloudapi.cn/")
        );
        assert_eq!(china.form[1].1, "https://api.example.cn/.default");
    }

    #[test]
    fn inventory_reads_the_clouds_graph_or_the_override() {
        let global = inventory(EntraCloud::Global, None, "a b'c").unwrap();
        assert_eq!(
            global.application_url.as_str(),
            "https://graph.microsoft.com/v1.0/applications(appId='a%20b%27c')?$select=passwordCredentials,keyCredentials"
        );
        assert_eq!(global.form[1].1, "https://graph.microsoft.com/.default");
        let usgov = inventory(EntraCloud::Usgov, None, "x").unwrap();
        assert_eq!(usgov.application_url.host_str(), Some("graph.microsoft.us"));
        assert_eq!(usgov.form[1].1, "https://graph.microsoft.us/.default");
        let dod = inventory(EntraCloud::Dod, None, "x").unwrap();
        assert_eq!(
            dod.application_url.host_str(),
            Some("dod-graph.microsoft.us")
        );
        assert_eq!(dod.form[1].1, "https://dod-graph.microsoft.us/.default");
        let china = inventory(EntraCloud::China, None, "x").unwrap();
        assert_eq!(
            china.application_url.host_str(),
            Some("microsoftgraph.chinacloudapi.cn")
        );
        let local = inventory(EntraCloud::Global, Some("http://127.0.0.1:8080/"), "x").unwrap();
        assert!(
            local
                .application_url
                .as_str()
                .starts_with("http://127.0.0.1:8080/v1.0/applications(appId='x')")
        );
        assert_eq!(
            local.form[1].1, "https://graph.microsoft.com/.default",
            "the scope stays Graph's"
        );
        assert!(matches!(
            inventory(EntraCloud::Global, Some("http://graph.example.com"), "x"),
            Err(GraphUrlError::InsecureHttp(_))
        ));
        assert!(matches!(
            inventory(EntraCloud::Global, Some("graph"), "x"),
            Err(GraphUrlError::NotUrl(_))
        ));
    }

    #[test]
    fn bad_tenants_and_missing_resources_are_errors() {
        assert!(matches!(
            targets("not a tenant", EntraCloud::Global, Some("https://x"), None),
            Err(EntraError::BadTenant(_))
        ));
        assert!(matches!(
            targets("common", EntraCloud::Global, Some("https://x"), None),
            Err(EntraError::BadTenant(_))
        ));
        assert_eq!(
            targets(GUID, EntraCloud::Global, None, None),
            Err(EntraError::NoResource)
        );
        assert!(matches!(
            targets(GUID, EntraCloud::Global, Some("graph"), None),
            Err(EntraError::BadResource(_))
        ));
    }
}
