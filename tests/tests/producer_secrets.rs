//! The producer's AWS Secrets Manager secrets, read through the real AWS SDK from a local AWS
//! API (moto's server mode, from PyPI): an mTLS client certificate from a secret, produced
//! with over stunnel; the secret read once per process (deleting it afterwards changes
//! nothing); a missing or malformed secret is a [`ErrorKind::Secret`] error naming it; a SCRAM
//! secret's credentials reach the broker's SASL layer.
//!
//! Its own test binary, with one test: it sets the process's AWS environment variables.

use std::time::Duration;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use msk_lambda::producer::{
    Auth, ClientCertificate, ErrorKind, OutgoingRecord, Producer, ProducerConfig,
};
use msk_lambda_tests::broker::{free_port, tls_client, MotoServer, Stunnel, Tansu, TestCa};

async fn put_secret(client: &aws_sdk_secretsmanager::Client, name: &str, value: &str) -> String {
    let created = client.create_secret().name(name).secret_string(value).send().await.unwrap();
    created.arn().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_read_once_with_clear_errors() {
    let moto = MotoServer::start();
    // The standard variables the AWS SDK reads: the producer finds moto through them.
    std::env::set_var("AWS_ENDPOINT_URL", &moto.endpoint);
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::remove_var("AWS_PROFILE");
    std::env::remove_var("AWS_SESSION_TOKEN");
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&moto.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build(),
    );

    // An mTLS endpoint, and the client certificate in a secret.
    let server_ca = TestCa::new("server-ca");
    let client_ca = TestCa::new("client-ca");
    let port = free_port();
    let address = format!("localhost:{port}");
    let tansu = Tansu::start_with(Some(&address), false);
    let _stunnel = Stunnel::start(
        port,
        tansu.port,
        &server_ca.issue("broker", "DNS:localhost", "serverAuth"),
        Some(&client_ca.certificate()),
    );
    let issued = client_ca.issue("producer", "DNS:producer", "clientAuth");
    let admin = tls_client(&address, &server_ca.certificate(), Some(&issued)).await;
    admin.controller_client().unwrap().create_topic("from-secret", 1, 1, 5_000).await.unwrap();
    let secret = serde_json::json!({
        "certificate": std::fs::read_to_string(&issued.certificate).unwrap(),
        "privateKey": std::fs::read_to_string(&issued.private_key).unwrap(),
    });
    let arn = put_secret(&secrets, "producer-client-cert", &secret.to_string()).await;
    assert!(arn.starts_with("arn:aws:secretsmanager:us-east-1:"), "{arn}");
    let env = [
        ("MSK_BOOTSTRAP_SERVERS", address.clone()),
        ("MSK_AUTH", "mtls".to_owned()),
        ("MSK_TLS_CLIENT_SECRET_ARN", arn.clone()),
        ("MSK_TLS_CA_FILE", server_ca.certificate().display().to_string()),
        ("MSK_REQUEST_TIMEOUT_MS", "3000".to_owned()),
    ];
    let config = ProducerConfig::from_lookup(|name| {
        env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    })
    .unwrap();
    let producer = Producer::connect(config.clone()).await.unwrap();
    let record = OutgoingRecord { value: Some(b"signed".to_vec()), ..Default::default() };
    assert_eq!(producer.send("from-secret", record.clone()).await.unwrap().offset, 0);

    // Once per process: with the secret gone, a new producer still connects.
    secrets
        .delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let again = Producer::connect(config).await.unwrap();
    assert_eq!(again.send("from-secret", record).await.unwrap().offset, 1);

    // A missing secret names itself and says what to check.
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_missing-AbCdEf";
    let err = Producer::connect(
        ProducerConfig::new(&address)
            .request_timeout(Duration::from_secs(3))
            .auth(Auth::ScramSecret { secret_arn: missing.to_owned() }),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Secret, "{err}");
    let message = err.to_string();
    assert!(message.contains(missing) && message.contains("ResourceNotFound"), "{message}");

    // Malformed secrets: not JSON, a field missing, a certificate that is not PEM.
    for (name, value, expected) in [
        ("AmazonMSK_not-json", "user:password", "is not JSON"),
        (
            "AmazonMSK_no-password",
            r#"{"username":"producer"}"#,
            "no non-empty string field `password`",
        ),
    ] {
        let arn = put_secret(&secrets, name, value).await;
        let err = Producer::connect(
            ProducerConfig::new(&address)
                .request_timeout(Duration::from_secs(3))
                .auth(Auth::ScramSecret { secret_arn: arn.clone() }),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Secret, "{err}");
        assert!(err.to_string().contains(&arn) && err.to_string().contains(expected), "{err}");
    }
    let arn = put_secret(&secrets, "bad-cert", r#"{"certificate":"hello","privateKey":"x"}"#).await;
    let err = Producer::connect(
        ProducerConfig::new(&address)
            .auth(Auth::Mtls(ClientCertificate::Secret { secret_arn: arn.clone() })),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Secret, "{err}");
    assert!(err.to_string().contains("`certificate`"), "{err}");

    // A SCRAM secret: its credentials are used (tansu's in-memory storage has no SCRAM users,
    // so the broker refuses them: an authentication error, not a secret error).
    let sasl_port = free_port();
    let sasl_address = format!("localhost:{sasl_port}");
    let sasl_tansu = Tansu::start_with(Some(&sasl_address), true);
    let _sasl_stunnel = Stunnel::start(
        sasl_port,
        sasl_tansu.port,
        &server_ca.issue("sasl-broker", "DNS:localhost", "serverAuth"),
        None,
    );
    let arn = put_secret(
        &secrets,
        "AmazonMSK_producer",
        r#"{"username":"producer","password":"not-known-to-tansu"}"#,
    )
    .await;
    let err = Producer::connect(
        ProducerConfig::new(&sasl_address)
            .tls_ca_file(server_ca.certificate())
            .request_timeout(Duration::from_secs(6))
            .auth(Auth::ScramSecret { secret_arn: arn }),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication, "{err}");
}
