//! What a provider preset (`nexthink:`, `entra:`) derives for a tenant:
//! its URLs and the form of its token request, each of which the tenant's
//! own keys override.

/// A preset's expansion for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetTargets {
    /// The API base URL, when the preset knows it.
    pub base_url: Option<String>,
    /// The token URL.
    pub token_url: String,
    /// The form body of the token request; empty for Nexthink's legacy
    /// form, which Nexthink documents with only the Basic header.
    pub form: Vec<(String, String)>,
    /// The token endpoint lives on the API host (Nexthink's legacy form):
    /// an overridden `base_url` moves it along.
    pub token_on_api_host: bool,
}
