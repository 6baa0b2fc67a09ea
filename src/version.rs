//! What this build is: shown in credprobe_build_info and in the status
//! pages' footer.

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision, when the build was told it (`CREDPROBE_REVISION`).
pub const REVISION: &str = match option_env!("CREDPROBE_REVISION") {
    Some(revision) => revision,
    None => "unknown",
};
