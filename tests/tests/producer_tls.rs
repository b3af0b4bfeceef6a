//! The producer over real TLS: tansu behind Debian's stunnel4 on loopback, which holds a
//! server certificate signed by a CA made with openssl for the test (and, for mTLS, demands a
//! client certificate signed by another). Produce and read back; an untrusted CA, a wrong
//! server name, a missing or wrong client certificate, and refused SASL credentials are each
//! an error of their own kind with a message that says so.

use std::time::{Duration, Instant};

use msk_lambda::producer::{
    Auth, ClientCertificate, ErrorKind, OutgoingRecord, Producer, ProducerConfig,
};
use msk_lambda_tests::broker::{free_port, tls_client, Issued, Stunnel, Tansu, TestCa};
use rskafka::client::partition::UnknownTopicHandling;

/// tansu advertising `localhost:<tls port>`, stunnel there with a certificate for `localhost`.
struct TlsBroker {
    _tansu: Tansu,
    _stunnel: Stunnel,
    ca: TestCa,
    /// `localhost:<tls port>`.
    address: String,
}

impl TlsBroker {
    fn start(client_ca: Option<&TestCa>, authentication: bool) -> TlsBroker {
        let ca = TestCa::new("server-ca");
        let server = ca.issue("broker", "DNS:localhost", "serverAuth");
        let port = free_port();
        let address = format!("localhost:{port}");
        let tansu = Tansu::start_with(Some(&address), authentication);
        let stunnel = Stunnel::start(
            port,
            tansu.port,
            &server,
            client_ca.map(TestCa::certificate).as_deref(),
        );
        TlsBroker { _tansu: tansu, _stunnel: stunnel, ca, address }
    }

    /// The topic, created over TLS (the broker advertises only the TLS port).
    async fn create_topic(&self, topic: &str, identity: Option<&Issued>) {
        let client = tls_client(&self.address, &self.ca.certificate(), identity).await;
        client.controller_client().unwrap().create_topic(topic, 1, 1, 5_000).await.unwrap();
    }

    fn config(&self) -> ProducerConfig {
        ProducerConfig::new(&self.address)
            .tls_ca_file(self.ca.certificate())
            .request_timeout(Duration::from_secs(2))
    }
}

/// Reads partition 0 back over TLS as an independent client.
async fn read_back_tls(broker: &TlsBroker, topic: &str, identity: Option<&Issued>) -> Vec<Vec<u8>> {
    let client = tls_client(&broker.address, &broker.ca.certificate(), identity).await;
    let partition = client.partition_client(topic, 0, UnknownTopicHandling::Error).await.unwrap();
    let (records, _) = partition.fetch_records(0, 1..1_000_000, 1_000).await.unwrap();
    records.into_iter().map(|r| r.record.value.unwrap_or_default()).collect()
}

fn value(text: &str) -> OutgoingRecord {
    OutgoingRecord { value: Some(text.as_bytes().to_vec()), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_custom_ca_produces_and_reads_back() {
    let broker = TlsBroker::start(None, false);
    broker.create_topic("secure", None).await;
    let producer = Producer::connect(broker.config().auth(Auth::Tls)).await.unwrap();
    let first = producer.send("secure", value("over tls")).await.unwrap();
    let results = producer.send_batch("secure", vec![value("b1"), value("b2")]).await.unwrap();
    assert_eq!(results[1].as_ref().unwrap().offset, first.offset + 2);
    assert_eq!(read_back_tls(&broker, "secure", None).await, [&b"over tls"[..], b"b1", b"b2"]);

    // The same from the environment's names.
    let ca = broker.ca.certificate();
    let env = [
        ("MSK_BOOTSTRAP_SERVERS", broker.address.clone()),
        ("MSK_AUTH", "tls".to_owned()),
        ("MSK_TLS_CA_FILE", ca.display().to_string()),
        ("MSK_REQUEST_TIMEOUT_MS", "2000".to_owned()),
    ];
    let config = ProducerConfig::from_lookup(|name| {
        env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    })
    .unwrap();
    let producer = Producer::connect(config).await.unwrap();
    producer.send("secure", value("from env")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_ca_or_a_wrong_server_name_is_refused() {
    let broker = TlsBroker::start(None, false);
    // Mozilla's roots (no CA file): the test CA is not among them.
    let started = Instant::now();
    let config = ProducerConfig::new(&broker.address)
        .auth(Auth::Tls)
        .request_timeout(Duration::from_secs(2));
    let err = Producer::connect(config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(started.elapsed() < Duration::from_secs(4));
    let message = err.to_string();
    assert!(message.contains(&format!("connecting to {}", broker.address)), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");

    // Another CA given as the bundle.
    let other = TestCa::new("other-ca");
    let err = Producer::connect(broker.config().tls_ca_file(other.certificate()).auth(Auth::Tls))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // The right CA, but the certificate is for `localhost` and the client connects to
    // 127.0.0.1: the name is checked.
    let by_ip = broker.address.replace("localhost", "127.0.0.1");
    let config = ProducerConfig::new(&by_ip)
        .tls_ca_file(broker.ca.certificate())
        .auth(Auth::Tls)
        .request_timeout(Duration::from_secs(2));
    let err = Producer::connect(config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("not valid for name \"127.0.0.1\""), "{err}");

    // An unreadable CA file is a configuration error naming the file.
    let err = Producer::connect(broker.config().tls_ca_file("/nonexistent/ca.pem").auth(Auth::Tls))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("/nonexistent/ca.pem (MSK_TLS_CA_FILE)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_needs_the_right_client_certificate() {
    let clients = TestCa::new("client-ca");
    let broker = TlsBroker::start(Some(&clients), false);
    let good = clients.issue("producer", "DNS:producer", "clientAuth");
    broker.create_topic("mtls", Some(&good)).await;
    let producer = Producer::connect(broker.config().auth(Auth::Mtls(ClientCertificate::Files {
        certificate: good.certificate.clone(),
        private_key: good.private_key.clone(),
    })))
    .await
    .unwrap();
    producer.send("mtls", value("with a client certificate")).await.unwrap();
    assert_eq!(
        read_back_tls(&broker, "mtls", Some(&good)).await,
        [&b"with a client certificate"[..]]
    );

    // No client certificate.
    let err = Producer::connect(broker.config().auth(Auth::Tls)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    // TLS 1.3: the server's refusal arrives as an alert after the client's handshake.
    assert!(err.to_string().contains("CertificateRequired"), "{err}");
    // A certificate from a CA the endpoint does not trust.
    let stranger = TestCa::new("stranger-ca").issue("intruder", "DNS:intruder", "clientAuth");
    let err = Producer::connect(broker.config().auth(Auth::Mtls(ClientCertificate::Files {
        certificate: stranger.certificate,
        private_key: stranger.private_key,
    })))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    assert!(err.to_string().contains("UnknownCA"), "{err}");
    // A key that is not the certificate's.
    let err = Producer::connect(broker.config().auth(Auth::Mtls(ClientCertificate::Files {
        certificate: good.certificate,
        private_key: broker.ca.dir.join("server-ca.key"),
    })))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    // Missing files are named.
    let err = Producer::connect(broker.config().auth(Auth::Mtls(ClientCertificate::Files {
        certificate: "/nonexistent/client.pem".into(),
        private_key: good.private_key,
    })))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string().contains("/nonexistent/client.pem (MSK_TLS_CLIENT_CERT_FILE)"),
        "{err}"
    );
}

/// tansu's SCRAM needs users in its storage, and its in-memory engine keeps none (its
/// `upsert_user_scram_credential` does nothing), so every SCRAM login is refused: this checks
/// that the producer runs the SCRAM-SHA-512 exchange over TLS with the broker's SASL layer and
/// reports the refusal as an authentication error, not that a login succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_scram_credentials_are_an_authentication_error() {
    let broker = TlsBroker::start(None, true);
    let started = Instant::now();
    let err = Producer::connect(
        broker
            .config()
            .request_timeout(Duration::from_secs(6))
            .auth(Auth::Scram { username: "producer".into(), password: "wrong-password".into() }),
    )
    .await
    .unwrap_err();
    eprintln!("scram refused after {:?}: {err}", started.elapsed());
    assert_eq!(err.kind(), ErrorKind::Authentication, "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(6));
    let message = err.to_string();
    assert!(message.contains("authentication failed"), "{message}");
    assert!(message.contains("unknown user"), "the broker's reason: {message}");
    assert!(!message.contains("wrong-password"), "the password stays out of errors");
}
