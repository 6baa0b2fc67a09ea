//! The Microsoft Entra ID preset: what `entra: {tenant_id, cloud,
//! resource}` expands to. Entra ID issues client-credentials tokens at its
//! v2.0 token endpoint for the `.default` scope of one resource (the API's
//! application ID URI, e.g. `https://graph.microsoft.com/.default`).

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
        EntraCloud::Usgov => "login.microsoftonline.us",
        EntraCloud::China => "login.chinacloudapi.cn",
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
