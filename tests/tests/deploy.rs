//! The deployment template's IAM policy is least-privilege: every statement that grants a
//! kafka-cluster action names its resources (cluster, topic, group ARNs), never `*`.
//! (cfn-lint, run by `.ci/run`, checks the template against the CloudFormation schema.)

#[test]
fn kafka_cluster_permissions_are_scoped() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/template.yaml");
    let template = std::fs::read_to_string(path).unwrap();
    let statements: Vec<&str> = template.split("- Sid: ").skip(1).collect();
    assert!(statements.len() >= 5, "{statements:?}");
    let mut kafka_cluster = 0;
    for statement in &statements {
        let statement = statement.split("\n  UserEventsMapping:").next().unwrap();
        if !statement.contains("kafka-cluster:") {
            continue;
        }
        kafka_cluster += 1;
        assert!(!statement.contains("kafka-cluster:*"), "wildcard action in {statement}");
        assert!(!statement.contains("Resource: \"*\""), "wildcard resource in {statement}");
        assert!(statement.contains("Resource: !Sub arn:${AWS::Partition}:kafka:"), "{statement}");
    }
    assert_eq!(kafka_cluster, 3, "cluster, topic and group statements");
    assert!(template.contains("FunctionResponseTypes: [ReportBatchItemFailures]"));
    assert!(template.contains("Runtime: provided.al2023"));
}

#[test]
fn the_cli_policies_are_scoped_too() {
    for name in ["consumer-policy.json", "producer-policy.json"] {
        check_policy(&format!("{}/../deploy/{name}", env!("CARGO_MANIFEST_DIR")));
    }
}

fn check_policy(path: &str) {
    let policy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for statement in policy["Statement"].as_array().unwrap() {
        let actions = match &statement["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            list => {
                list.as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect()
            }
        };
        if actions.iter().any(|a| a.starts_with("kafka-cluster:")) {
            assert!(actions.iter().all(|a| !a.ends_with('*')), "{statement}");
            let resource = statement["Resource"].as_str().unwrap();
            assert!(resource.starts_with("arn:aws:kafka:"), "{statement}");
        }
    }
}
