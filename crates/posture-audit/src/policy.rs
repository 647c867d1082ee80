//! Reading IAM policy documents (identity, resource and trust policies): who a statement lets in, what it
//! allows, and whether a condition narrows it. Plain JSON in, plain answers out.
//!
//! Written here rather than taken from a crate: the IAM policy crates on crates.io evaluate requests against
//! policies, where the audit needs the opposite question (does any statement let *anyone* in), and the answer
//! must name the statement as evidence.

use serde_json::Value;

/// Condition keys that narrow an open principal to the account, its organization, a source or a network: a
/// statement open to `*` with one of these is not public.
const NARROWING_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourcevpce",
    "aws:sourcevpc",
    "aws:sourceip",
    "aws:principalorgpaths",
    "kms:calleraccount",
];

/// A policy document's statements, `Statement` being one object or a list.
pub fn statements(policy: &Value) -> Vec<&Value> {
    match &policy["Statement"] {
        Value::Array(list) => list.iter().collect(),
        Value::Object(_) => vec![&policy["Statement"]],
        _ => Vec::new(),
    }
}

/// A policy document from its text: plain JSON, or URL-encoded JSON as IAM returns it.
pub fn parse(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().or_else(|| {
        let decoded = guardrails_core::s3::decode_notification_key(text).ok()?;
        serde_json::from_str(&decoded).ok()
    })
}

/// A string or a list of strings, as a list.
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn allows(statement: &Value) -> bool {
    statement["Effect"] == "Allow"
}

/// How a person names a statement in evidence.
pub fn name(statement: &Value, index: usize) -> String {
    match statement["Sid"].as_str() {
        Some(sid) if !sid.is_empty() => format!("statement {sid}"),
        _ => format!("statement {}", index + 1),
    }
}

/// The AWS principals a statement names (`"*"`, `{"AWS": …}`), not service or federated ones.
fn aws_principals(statement: &Value) -> Vec<&str> {
    match &statement["Principal"] {
        Value::String(s) => vec![s.as_str()],
        Value::Object(map) => map.get("AWS").map(strings).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Whether a principal means any account: `*`, or an ARN whose account is a wildcard (`arn:aws:iam::*:root`).
fn anyone(principal: &str) -> bool {
    principal == "*" || account_of(principal).is_some_and(|a| a.contains('*') || a.contains('?'))
}

/// Whether a statement lets in any account: an open AWS principal, or `NotPrincipal` (everyone but those named).
fn open(statement: &Value) -> bool {
    statement.get("NotPrincipal").is_some() || aws_principals(statement).into_iter().any(anyone)
}

/// Whether a condition narrows who the statement applies to: a positive operator (not a `Not…`, `…IfExists` or
/// `Null` one, which widen) on a key of [`NARROWING_KEYS`] whose values are exact (no wildcard, no `/0` range).
fn narrowed(statement: &Value) -> bool {
    let Some(operators) = statement["Condition"].as_object() else {
        return false;
    };
    operators
        .iter()
        .filter(|(op, _)| {
            let op = op.to_ascii_lowercase();
            !op.contains("not") && !op.ends_with("ifexists") && op != "null"
        })
        .filter_map(|(_, keys)| keys.as_object())
        .flat_map(|keys| keys.iter())
        .any(|(key, values)| {
            NARROWING_KEYS.contains(&key.to_ascii_lowercase().as_str()) && {
                let values = strings(values);
                !values.is_empty()
                    && values
                        .iter()
                        .all(|v| !v.contains('*') && !v.contains('?') && !v.ends_with("/0"))
            }
        })
}

/// The statements that allow any account (see [`open`]) with no narrowing condition, named.
pub fn public_statements(policy: &Value) -> Vec<String> {
    statements(policy)
        .into_iter()
        .enumerate()
        .filter(|(_, s)| allows(s) && open(s) && !narrowed(s))
        .map(|(i, s)| name(s, i))
        .collect()
}

/// Whether the policy denies every request made without TLS (`aws:SecureTransport` false, for everyone, on
/// every action: `s3:*` or `*`).
pub fn denies_insecure_transport(policy: &Value) -> bool {
    statements(policy).into_iter().any(|s| {
        s["Effect"] == "Deny"
            && aws_principals(s).contains(&"*")
            && strings(&s["Action"])
                .iter()
                .any(|a| *a == "*" || *a == "s3:*")
            && s["Condition"]["Bool"]
                .as_object()
                .and_then(|keys| {
                    keys.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("aws:SecureTransport"))
                })
                .is_some_and(|(_, v)| strings(v).contains(&"false") || v == &Value::Bool(false))
    })
}

/// What an identity policy allows too broadly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breadth {
    /// Every action on every resource: the statement named.
    Admin(String),
    /// Every action of a service: the statement and the action.
    ServiceWildcard(String, String),
}

/// The broadest thing an identity policy allows, if too broad: admin first, then a `service:*` action.
pub fn breadth(policy: &Value) -> Option<Breadth> {
    let allowed: Vec<(String, Vec<&str>, Vec<&str>)> = statements(policy)
        .into_iter()
        .enumerate()
        .filter(|(_, s)| allows(s))
        .map(|(i, s)| (name(s, i), strings(&s["Action"]), strings(&s["Resource"])))
        .collect();
    // Every action (or every action but some: NotAction) on every resource (or every one but some).
    let every_action =
        |s: &Value| strings(&s["Action"]).contains(&"*") || s.get("NotAction").is_some();
    let every_resource =
        |s: &Value| strings(&s["Resource"]).contains(&"*") || s.get("NotResource").is_some();
    if let Some((i, s)) = statements(policy)
        .into_iter()
        .enumerate()
        .find(|(_, s)| allows(s) && every_action(s) && every_resource(s))
    {
        return Some(Breadth::Admin(name(s, i)));
    }
    allowed.iter().find_map(|(name, actions, _)| {
        actions
            .iter()
            .find(|a| a.ends_with(":*"))
            .map(|a| Breadth::ServiceWildcard(name.clone(), (*a).to_owned()))
    })
}

/// What a trust policy lets in that it should not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Any principal: the statement named.
    Open(String),
    /// Another account, without `sts:ExternalId`: the statement and the account.
    OtherAccountWithoutExternalId(String, String),
}

/// The account an AWS principal belongs to: a bare account id, or the account field of an ARN.
fn account_of(principal: &str) -> Option<&str> {
    if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        return Some(principal);
    }
    principal.strip_prefix("arn:")?.split(':').nth(3)
}

fn requires_external_id(statement: &Value) -> bool {
    statement["Condition"].as_object().is_some_and(|operators| {
        operators.values().filter_map(Value::as_object).any(|keys| {
            keys.keys()
                .any(|k| k.eq_ignore_ascii_case("sts:ExternalId"))
        })
    })
}

/// What a role's trust policy lets in that it should not, `own` being the account the role is in.
pub fn trust(policy: &Value, own: &str) -> Vec<Trust> {
    let mut found = Vec::new();
    for (i, statement) in statements(policy).into_iter().enumerate() {
        if !allows(statement) {
            continue;
        }
        let principals = aws_principals(statement);
        // A federated principal (an OIDC provider, GitHub's say) without any condition lets every identity of
        // that provider in.
        let federated_unconditioned = statement["Principal"].get("Federated").is_some()
            && statement["Condition"]
                .as_object()
                .is_none_or(|c| c.is_empty());
        if (open(statement) && !narrowed(statement)) || federated_unconditioned {
            found.push(Trust::Open(name(statement, i)));
            continue;
        }
        if requires_external_id(statement) {
            continue;
        }
        if let Some(other) = principals
            .iter()
            .filter_map(|p| account_of(p))
            .find(|account| *account != own)
        {
            found.push(Trust::OtherAccountWithoutExternalId(
                name(statement, i),
                other.to_owned(),
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn public_statements_are_open_allows_without_a_narrowing_condition() {
        let cases = [
            (
                json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}}),
                vec!["statement 1"],
            ),
            (
                json!({"Statement": [{"Sid": "Open", "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "sqs:SendMessage"}]}),
                vec!["statement Open"],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sns:Publish",
                "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::b"}}}]}),
                vec![],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt",
                "Condition": {"StringEquals": {"kms:CallerAccount": "123456789012"}}}]}),
                vec![],
            ),
            (
                json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*"}]}),
                vec![],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage"}]}),
                vec![],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "*"}]}),
                vec![],
            ),
            (json!({}), vec![]),
            // Conditions that do not narrow: a wildcard value, a negated or IfExists operator, a /0 range, a
            // service alone.
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sns:Publish",
                "Condition": {"StringLike": {"aws:SourceAccount": "*"}}}]}),
                vec!["statement 1"],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sns:Publish",
                "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-1"}}}]}),
                vec!["statement 1"],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sns:Publish",
                "Condition": {"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:s3:::b"}}}]}),
                vec!["statement 1"],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}}]}),
                vec!["statement 1"],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt",
                "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}]}),
                vec!["statement 1"],
            ),
            // Any account in disguise.
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "s3:GetObject"}]}),
                vec!["statement 1"],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:GetObject"}]}),
                vec!["statement 1"],
            ),
        ];
        for (policy, expected) in cases {
            assert_eq!(public_statements(&policy), expected, "{policy}");
        }
    }

    #[test]
    fn the_tls_deny_is_read_by_meaning() {
        let deny = |value: Value| {
            json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": value}}}]})
        };
        assert!(denies_insecure_transport(&deny(json!("false"))));
        assert!(denies_insecure_transport(&deny(json!(false))));
        assert!(!denies_insecure_transport(&deny(json!("true"))));
        assert!(!denies_insecure_transport(&json!({"Statement": []})));
        let put_only = json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
        assert!(
            !denies_insecure_transport(&put_only),
            "a deny of one action is not TLS-only"
        );
    }

    #[test]
    fn breadth_finds_admin_before_a_service_wildcard() {
        let admin = json!({"Statement": [
            {"Sid": "Logs", "Effect": "Allow", "Action": "logs:*", "Resource": "*"},
            {"Sid": "All", "Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]});
        assert_eq!(
            breadth(&admin),
            Some(Breadth::Admin("statement All".into()))
        );
        let service = json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:*"], "Resource": "arn:aws:s3:::b/*"}]});
        assert_eq!(
            breadth(&service),
            Some(Breadth::ServiceWildcard(
                "statement 1".into(),
                "s3:*".into()
            ))
        );
        let not_action =
            json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]});
        assert_eq!(
            breadth(&not_action),
            Some(Breadth::Admin("statement 1".into()))
        );
        let narrow = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Deny", "Action": "*", "Resource": "*"}]});
        assert_eq!(breadth(&narrow), None);
    }

    #[test]
    fn trust_names_open_and_foreign_principals_without_an_external_id() {
        let own = "123456789012";
        let cases = [
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}),
                vec![Trust::Open("statement 1".into())],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}]}),
                vec![Trust::OtherAccountWithoutExternalId(
                    "statement 1".into(),
                    "999999999999".into(),
                )],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "999999999999"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "x"}}}]}),
                vec![],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/ci"}, "Action": "sts:AssumeRole"}]}),
                vec![],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
                vec![],
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "sts:AssumeRole"}]}),
                vec![Trust::Open("statement 1".into())],
            ),
            (
                json!({"Statement": [{"Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
                "Action": "sts:AssumeRoleWithWebIdentity"}]}),
                vec![Trust::Open("statement 1".into())],
            ),
            (
                json!({"Statement": [{"Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:o/r:ref:refs/heads/main"}}}]}),
                vec![],
            ),
        ];
        for (policy, expected) in cases {
            assert_eq!(trust(&policy, own), expected, "{policy}");
        }
    }

    #[test]
    fn documents_are_read_plain_or_url_encoded() {
        let plain = r#"{"Statement": []}"#;
        assert_eq!(parse(plain), Some(json!({"Statement": []})));
        assert_eq!(
            parse("%7B%22Statement%22%3A%20%5B%5D%7D"),
            Some(json!({"Statement": []}))
        );
        assert_eq!(parse("not a policy"), None);
    }
}
