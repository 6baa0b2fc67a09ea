//! The Nexthink preset: what `nexthink: {instance, region, token_endpoint}`
//! expands to (see `nexthink-api.md` in the shared design folder).

use super::raw::{NexthinkTokenEndpoint, RawEndpoint};

/// The regions Nexthink documents.
pub const REGIONS: [&str; 4] = ["us", "eu", "pac", "meta"];

/// The scope Nexthink's login token endpoint grants to API integrations.
pub const SCOPE: &str = "service:integration";

/// What the preset derives for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NexthinkTargets {
    /// `https://{instance}.api.{region}.nexthink.cloud`
    pub base_url: String,
    /// The token URL of the chosen form.
    pub token_url: String,
    /// The form body of the token request; empty for the legacy form, which
    /// Nexthink documents with only the Basic header.
    pub form: Vec<(String, String)>,
}

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

/// Expands the preset, checking the region against [`REGIONS`].
pub fn targets(
    instance: &str,
    region: &str,
    form: NexthinkTokenEndpoint,
) -> Result<NexthinkTargets, PresetError> {
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
        NexthinkTokenEndpoint::Login => NexthinkTargets {
            token_url: format!(
                "https://{instance}-login.{region}.nexthink.cloud/oauth2/default/v1/token"
            ),
            base_url,
            form: vec![
                ("grant_type".into(), "client_credentials".into()),
                ("scope".into(), SCOPE.into()),
            ],
        },
        NexthinkTokenEndpoint::Legacy => NexthinkTargets {
            token_url: format!("{base_url}/api/v1/token"),
            base_url,
            form: Vec::new(),
        },
    })
}

/// The endpoint a Nexthink tenant probes when it lists none: the workflows
/// list, readable with the Workflows permission and free of side effects.
pub fn default_endpoints() -> Vec<RawEndpoint> {
    vec![RawEndpoint {
        name: "workflows".into(),
        path: Some("/api/v1/workflows".into()),
        ..RawEndpoint::default()
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_and_legacy_forms() {
        let login = targets("acme", "eu", NexthinkTokenEndpoint::Login).unwrap();
        assert_eq!(login.base_url, "https://acme.api.eu.nexthink.cloud");
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
    fn bad_region_lists_the_valid_ones() {
        let error = targets("acme", "mars", NexthinkTokenEndpoint::Login).unwrap_err();
        assert_eq!(
            error.to_string(),
            "region \"mars\" is not a Nexthink region; valid regions: us, eu, pac, meta"
        );
        assert!(targets("Acme!", "eu", NexthinkTokenEndpoint::Login).is_err());
    }
}
