//! The Nexthink preset: what `nexthink: {instance, region, token_endpoint}`
//! expands to (see `nexthink-api.md` in the shared design folder).

use super::preset::PresetTargets;
use super::raw::{NexthinkTokenEndpoint, RawEndpoint};

/// The regions Nexthink documents.
pub const REGIONS: [&str; 4] = ["us", "eu", "pac", "meta"];

/// The scope Nexthink's login token endpoint grants to API integrations.
pub const SCOPE: &str = "service:integration";

/// Why an instance or region cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PresetError {
    /// The region is not one Nexthink documents.
    #[error("region {0:?} is not a Nexthink region; valid regions: {regions}", regions = REGIONS.join(", "))]
    UnknownRegion(String),
    /// The instance is not a DNS label.
    #[error("instance {0:?} must be a DNS label: lowercase letters, digits and '-'")]
    BadInstance(String),
}

/// The API permission families of Nexthink's credentials (one checkbox
/// each) and the read-only request that proves each, where one exists.
/// Nexthink documents no read request for Enrichment, Campaigns, Data
/// management and Spark (their APIs only write), and NQL's execute is a
/// POST that uses quota: credprobe never sends a POST by default, nor
/// `GET /api/v1/nql/export`, which starts an export.
pub const PERMISSIONS: [(&str, Option<&str>); 7] = [
    ("workflows", Some("/api/v1/workflows")),
    ("remote_actions", Some("/api/v1/act/remote-action")),
    ("nql", None),
    ("enrichment", None),
    ("campaigns", None),
    ("data_management", None),
    ("spark", None),
];

/// Why a listed permission cannot be probed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PermissionError {
    /// Not a permission family Nexthink has.
    #[error("{0:?} is not a Nexthink permission; known: {known}", known = PERMISSIONS.map(|(name, _)| name).join(", "))]
    Unknown(String),
    /// The family has no read-only request.
    #[error(
        "{0:?} has no read-only endpoint: its API only writes (or, for nql, executes a query with a POST), and credprobe never sends one by default; configure such a call under endpoints: with allow_mutating: true, or list the scope the token carries under expect_scopes"
    )]
    NoReadEndpoint(String),
}

/// The endpoints that prove `permissions`, one per family, named after it.
pub fn permission_endpoints(permissions: &[String]) -> Result<Vec<RawEndpoint>, PermissionError> {
    permissions
        .iter()
        .map(
            |name| match PERMISSIONS.iter().find(|(family, _)| family == name) {
                Some((_, Some(path))) => Ok(RawEndpoint {
                    name: name.clone(),
                    path: Some((*path).to_owned()),
                    ..RawEndpoint::default()
                }),
                Some((_, None)) => Err(PermissionError::NoReadEndpoint(name.clone())),
                None => Err(PermissionError::Unknown(name.clone())),
            },
        )
        .collect()
}

/// Expands the preset, checking the region against [`REGIONS`].
pub fn targets(
    instance: &str,
    region: &str,
    form: NexthinkTokenEndpoint,
) -> Result<PresetTargets, PresetError> {
    if !REGIONS.contains(&region) {
        return Err(PresetError::UnknownRegion(region.to_owned()));
    }
    let label_ok = !instance.is_empty()
        && instance.len() <= 57
        && !instance.starts_with('-')
        && !instance.ends_with('-')
        && instance
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !label_ok {
        return Err(PresetError::BadInstance(instance.to_owned()));
    }
    let base_url = format!("https://{instance}.api.{region}.nexthink.cloud");
    Ok(match form {
        NexthinkTokenEndpoint::Login => PresetTargets {
            token_url: format!(
                "https://{instance}-login.{region}.nexthink.cloud/oauth2/default/v1/token"
            ),
            base_url: Some(base_url),
            form: vec![
                ("grant_type".into(), "client_credentials".into()),
                ("scope".into(), SCOPE.into()),
            ],
            token_on_api_host: false,
        },
        NexthinkTokenEndpoint::Legacy => PresetTargets {
            token_url: format!("{base_url}/api/v1/token"),
            base_url: Some(base_url),
            form: Vec::new(),
            token_on_api_host: true,
        },
    })
}

/// The endpoint a Nexthink tenant probes when it lists none: the workflows
/// list, readable with the Workflows permission and free of side effects.
pub fn default_endpoints() -> Vec<RawEndpoint> {
    permission_endpoints(&["workflows".to_owned()])
        .expect("workflows is a permission with a read-only endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_and_legacy_forms() {
        let login = targets("acme", "eu", NexthinkTokenEndpoint::Login).unwrap();
        assert_eq!(
            login.base_url.as_deref(),
            Some("https://acme.api.eu.nexthink.cloud")
        );
        assert_eq!(
            login.token_url,
            "https://acme-login.eu.nexthink.cloud/oauth2/default/v1/token"
        );
        assert_eq!(
            login.form[1],
            ("scope".into(), "service:integration".into())
        );
        let legacy = targets("acme", "pac", NexthinkTokenEndpoint::Legacy).unwrap();
        assert_eq!(
            legacy.token_url,
            "https://acme.api.pac.nexthink.cloud/api/v1/token"
        );
        assert!(legacy.form.is_empty());
    }

    #[test]
    fn permissions_become_read_only_endpoints_or_say_why_not() {
        let endpoints =
            permission_endpoints(&["workflows".into(), "remote_actions".into()]).unwrap();
        let paths: Vec<(&str, &str)> = endpoints
            .iter()
            .map(|e| (e.name.as_str(), e.path.as_deref().unwrap()))
            .collect();
        assert_eq!(
            paths,
            [
                ("workflows", "/api/v1/workflows"),
                ("remote_actions", "/api/v1/act/remote-action")
            ]
        );
        assert!(
            endpoints
                .iter()
                .all(|e| e.method.is_none() && !e.allow_mutating)
        );
        assert_eq!(
            permission_endpoints(&["nql".into()]),
            Err(PermissionError::NoReadEndpoint("nql".into()))
        );
        assert!(matches!(
            permission_endpoints(&["admin".into()]),
            Err(PermissionError::Unknown(_))
        ));
        // Nothing listed here ever reaches the export that NQL's GET starts.
        assert!(
            PERMISSIONS
                .iter()
                .all(|(_, path)| !path.is_some_and(|p| p.contains("nql")))
        );
    }

    #[test]
    fn bad_region_lists_the_valid_ones() {
        let error = targets("acme", "mars", NexthinkTokenEndpoint::Login).unwrap_err();
        assert_eq!(
            error.to_string(),
            "region \"mars\" is not a Nexthink region; valid regions: us, eu, pac, meta"
        );
        assert!(targets("Acme!", "eu", NexthinkTokenEndpoint::Login).is_err());
    }
}
