//! Shared by the web configuration tests: a throw-away PKI (a CA, server
//! and client certificates it signed, and a stranger's), bcrypt hashes, a
//! credprobe child process started with any arguments, and HTTPS clients
//! that trust the CA. Everything stays on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{binary, install_crypto_provider, start_serving};

/// The password of the test user `prometheus` (never a real one).
pub const PASSWORD: &str = "example-only-Scrape-Pa55word";
/// The test user.
pub const USER: &str = "prometheus";

/// PEM files written into a folder.
pub struct Pki {
    /// Where the files are.
    pub dir: PathBuf,
    /// The CA's certificate (trusted by clients, and as client CA).
    pub ca_pem: String,
}

impl Pki {
    /// A CA; a server pair for 127.0.0.1 and localhost (`server.crt`,
    /// `server.key`) and a second one (`server2.*`, another subject) for
    /// rotation; a client pair it signed (`client.*`); and a self-signed
    /// client pair no CA vouches for (`stranger.*`).
    pub fn new(dir: &Path) -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "credprobe test CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let ca_pem = ca.pem();
        std::fs::write(dir.join("ca.crt"), &ca_pem).unwrap();

        let leaf = |name: &str, sans: Vec<String>, usage: rcgen::ExtendedKeyUsagePurpose| {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::new(sans).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca).unwrap();
            std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        };
        let server_sans = || vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        leaf(
            "server",
            server_sans(),
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        );
        leaf(
            "server2",
            server_sans(),
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        );
        leaf(
            "client",
            vec!["prometheus.monitoring.svc".to_owned()],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        );

        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["stranger".to_owned()]).unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join("stranger.crt"), cert.pem()).unwrap();
        std::fs::write(dir.join("stranger.key"), key.serialize_pem()).unwrap();

        Pki {
            dir: dir.to_owned(),
            ca_pem,
        }
    }

    /// The text of one of the files.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap()
    }

    /// An identity (certificate + key PEM) for a client.
    pub fn identity(&self, name: &str) -> reqwest::Identity {
        let pem = format!(
            "{}{}",
            self.read(&format!("{name}.crt")),
            self.read(&format!("{name}.key"))
        );
        reqwest::Identity::from_pem(pem.as_bytes()).unwrap()
    }
}

/// A bcrypt hash of `password` at the lowest cost (tests stay fast).
pub fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// A `credprobe` child with its stderr captured.
pub struct Credprobe {
    /// The process.
    pub child: Child,
    /// host:port it serves on.
    pub addr: String,
    /// Everything it wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

impl Credprobe {
    /// Starts `credprobe ARGS --web.listen-address 127.0.0.1:0` with
    /// `envs` set and waits for its start-up line.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Credprobe {
        let mut command = Command::new(binary());
        command
            .args(args)
            .args(["--web.listen-address", "127.0.0.1:0"])
            .envs(envs.iter().copied());
        let (child, addr, stderr) = start_serving(command, Duration::from_secs(30));
        Credprobe {
            child,
            addr,
            stderr,
        }
    }

    /// `https://ADDR/PATH`.
    pub fn https(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// `http://ADDR/PATH`.
    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What it logged so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal by name with kill(1).
    pub fn signal(&self, name: &str) {
        super::signal(&self.child, name);
    }

    /// Waits until the log contains `text`, or panics with the log.
    pub fn wait_for_log(&self, text: &str, limit: Duration) {
        let start = Instant::now();
        while !self.logs().contains(text) {
            assert!(
                start.elapsed() < limit,
                "{text:?} not logged within {limit:?}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Credprobe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTPS client trusting only the test CA, with `identity` as its
/// client certificate when given. A new client each time: connections (and
/// TLS sessions) are never reused across calls.
pub fn https_client(pki: &Pki, identity: Option<&str>) -> reqwest::Client {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap()])
        .tls_info(true)
        .pool_max_idle_per_host(0);
    if let Some(name) = identity {
        builder = builder.identity(pki.identity(name));
    }
    builder.build().unwrap()
}

/// A plain HTTP client.
pub fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// GET with basic auth: (status, body).
pub async fn get_as(
    client: &reqwest::Client,
    url: &str,
    credentials: Option<(&str, &str)>,
) -> reqwest::Result<(u16, String)> {
    let mut request = client.get(url);
    if let Some((user, password)) = credentials {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// The DER of the certificate the server presented for `url`.
pub async fn served_certificate(client: &reqwest::Client, url: &str) -> Vec<u8> {
    let response = client
        .get(url)
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .expect("GET over TLS");
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("the server certificate")
        .to_vec()
}

/// The DER of the first certificate in a PEM file.
pub fn der_of(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject as _;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}
