//! `issuer:`, `jwks_url:` and `expect_audience:`: whether and how the
//! access token is verified ([`Verification`]).

use super::check::TenantCheck;
use super::targets::Targets;
use crate::config::Verification;
use crate::config::raw::RawTenant;

/// The most audiences `expect_audience` lists.
const MAX_AUDIENCES: usize = 16;

impl TenantCheck<'_> {
    /// The verification settings, `None` unless `issuer:` or `jwks_url:`
    /// is set. The Entra preset expects the audience of its resource
    /// unless `expect_audience:` says otherwise.
    pub(super) fn verification(
        &mut self,
        raw: &RawTenant,
        targets: &Targets,
    ) -> Option<Verification> {
        if raw.issuer.is_none() && raw.jwks_url.is_none() {
            if raw.expect_audience.is_some() {
                self.problem(
                    "expect_audience",
                    "needs issuer: or jwks_url: (the audience is checked on a verified token)",
                );
            }
            return None;
        }
        let issuer = raw.issuer.as_ref().and_then(|issuer| {
            // Discovery is a URL under the issuer: it follows the URL rule.
            self.url("issuer", issuer, raw.insecure_http)
                .map(|_| issuer.clone())
        });
        let jwks_url = raw
            .jwks_url
            .as_ref()
            .and_then(|url| self.url("jwks_url", url, raw.insecure_http));
        let expect_audience = match &raw.expect_audience {
            Some(audiences) => self.audiences(audiences),
            None if raw.entra.is_some() => targets
                .preset
                .iter()
                .flat_map(|preset| &preset.form)
                .filter(|(key, _)| key == "scope")
                .filter_map(|(_, scope)| scope.strip_suffix("/.default"))
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        };
        if (raw.issuer.is_some() && issuer.is_none())
            || (raw.jwks_url.is_some() && jwks_url.is_none())
        {
            return None;
        }
        Some(Verification {
            issuer,
            jwks_url,
            expect_audience,
        })
    }

    /// `expect_audience:`: distinct, non-empty, at most [`MAX_AUDIENCES`].
    fn audiences(&mut self, audiences: &[String]) -> Vec<String> {
        if audiences.is_empty() || audiences.len() > MAX_AUDIENCES {
            self.problem(
                "expect_audience",
                format!("lists 1 to {MAX_AUDIENCES} audiences"),
            );
        }
        let mut kept: Vec<String> = Vec::new();
        for (i, audience) in audiences.iter().enumerate() {
            if audience.is_empty() || audience.len() > 2048 {
                self.problem(
                    format!("expect_audience[{i}]"),
                    "an audience is 1 to 2048 characters",
                );
            } else if kept.contains(audience) {
                self.problem(
                    format!("expect_audience[{i}]"),
                    format!("{audience:?} is listed twice"),
                );
            } else {
                kept.push(audience.clone());
            }
        }
        kept
    }
}
