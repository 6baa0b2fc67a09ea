//! The documented web configurations stay valid: the example of
//! docs/configuration.md
//! loads (with certificate files beside it), and the production overlay's
//! example web configuration Secret is one credprobe accepts, whose example
//! scrape password (what the ServiceMonitor sends) is the one its bcrypt
//! hash was made from: applied as shipped (with a certificate in
//! credprobe-tls), Prometheus gets in. scripts/check-kubernetes checks the
//! wiring around it.

use std::path::{Path, PathBuf};

use credprobe::web_config::WebConfig;
use secrecy::SecretString;

const EXAMPLE: &str = "deploy/kubernetes/overlays/production/web-secret.example.yaml";
const TLS_DIR: &str = "/var/run/secrets/credprobe-tls/";
/// The document and section whose first YAML block is the web
/// configuration example.
const DOC: &str = "docs/configuration.md";
const DOC_HEADING: &str = "## The web configuration file";

/// A self-signed pair written as `{name}.crt` and `{name}.key` in `dir`.
fn write_pair(dir: &Path, name: &str) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["credprobe.monitoring.svc".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

#[test]
fn the_documented_web_config_example_loads() {
    let doc = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(DOC)).unwrap();
    let section = &doc[doc
        .find(DOC_HEADING)
        .unwrap_or_else(|| panic!("{DOC} has no {DOC_HEADING:?}"))..];
    let start = section.find("```yaml\n").expect("a yaml block") + 8;
    let example = &section[start..start + section[start..].find("```").unwrap()];

    let dir = tempfile::tempdir().unwrap();
    write_pair(dir.path(), "server");
    std::fs::copy(dir.path().join("server.crt"), dir.path().join("ca.crt")).unwrap();
    let file = dir.path().join("web.yml");
    std::fs::write(&file, example).unwrap();
    let web = WebConfig::load(&file).unwrap_or_else(|error| panic!("{DOC} example: {error}"));
    assert!(web.tls.is_some() && web.basic_auth.is_some() && !web.headers.is_empty());
}

#[tokio::test]
async fn the_example_web_secret_loads_and_its_password_matches_its_hash() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE);
    let secret: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let data = &secret["stringData"];
    let web_yml = data["web.yml"].as_str().expect("stringData.web.yml");
    let username = data["username"].as_str().expect("stringData.username");
    let password = data["password"].as_str().expect("stringData.password");
    assert!(
        password.contains("example"),
        "the example password must look like one"
    );

    // The certificate the pod finds in credprobe-tls, here made up.
    let dir = tempfile::tempdir().unwrap();
    write_pair(dir.path(), "tls");
    assert!(web_yml.contains(TLS_DIR), "{web_yml}");
    let local = web_yml.replace(TLS_DIR, &format!("{}/", dir.path().display()));
    let file = dir.path().join("web.yml");
    std::fs::write(&file, local).unwrap();

    let web = WebConfig::load(&file).unwrap_or_else(|error| panic!("{EXAMPLE}: {error}"));
    assert!(web.tls.is_some(), "the example serves TLS");
    let auth = web.basic_auth.expect("the example requires basic auth");
    assert!(
        auth.check(username, &SecretString::from(password)).await,
        "{EXAMPLE}: the password is not the one its hash was made from"
    );
    assert!(
        !auth
            .check(username, &SecretString::from("something else"))
            .await
    );
}
