//! Read-only views of the tenant records ([`crate::fleet`]): the state
//! rule ([`health`]), the tenant views that the status pages, the JSON API
//! and the `probe` report render ([`tenant`]), the Entra credential
//! inventory's part of them ([`inventory`]), and the log lines of a
//! cycle ([`log`]).

pub mod health;
pub mod inventory;
pub mod log;
pub mod tenant;

pub use health::{Assessment, Health, Warning};
pub use tenant::{
    CredentialFilesView, Depth, EndpointView, FileProblemView, PhasesView, ScopeView, SearchWords,
    StepView, Summary, TenantView, TokenView,
};
