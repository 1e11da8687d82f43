//! Who the caller is: principals → usernames under the `identity` section.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sentinel_policy::{
    CompiledPolicy, IdentifiedBy, IdentityError, Principal, PrincipalError, Username,
};

const PLAIN: &str = "version: '1'\nrules: [{name: all, effect: allow}]\n";

fn policy(extra: &str) -> CompiledPolicy {
    CompiledPolicy::parse(&format!("{PLAIN}{extra}"), "identity.yaml").unwrap()
}

fn who(p: &CompiledPolicy, arn: &str) -> Result<String, IdentityError> {
    p.identify(&Principal::parse(arn).unwrap())
        .map(|i| i.username.to_string())
}

#[test]
fn iam_users_are_named_by_their_user_name_lowercased_and_nothing_else() {
    let p = policy("");
    assert_eq!(
        who(&p, "arn:aws:iam::123456789012:user/Alice").unwrap(),
        "alice"
    );
    assert_eq!(
        who(&p, "arn:aws:iam::123456789012:user/ops/alice").unwrap(),
        "alice"
    );
    // `a.lice` is someone else than `alice` (the old reduction merged them).
    assert_eq!(
        who(&p, "arn:aws:iam::123456789012:user/a.lice").unwrap(),
        "a.lice"
    );
    let by = p
        .identify(&Principal::parse("arn:aws:iam::123456789012:user/bob").unwrap())
        .unwrap()
        .by;
    assert_eq!(by, IdentifiedBy::IamUser);
}

#[test]
fn long_names_that_share_a_prefix_stay_apart() {
    let p = policy("");
    let a = who(
        &p,
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_1/christopher.montgomery@example.com",
    )
    .unwrap();
    let b = who(
        &p,
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_1/christopher.montgomery@example.org",
    )
    .unwrap();
    assert_ne!(a, b);
    assert_eq!(a, "christopher.montgomery@example.com");
    let max = "a".repeat(64);
    assert_eq!(
        who(&p, &format!("arn:aws:iam::123456789012:user/{max}")).unwrap(),
        max
    );
}

#[test]
fn a_session_name_picked_by_the_caller_is_not_an_identity() {
    // Anyone allowed to assume "dev" can call the session "carol".
    let p = policy("");
    let err = who(&p, "arn:aws:sts::123456789012:assumed-role/dev/carol").unwrap_err();
    assert!(matches!(err, IdentityError::UntrustedRole { ref role, .. } if role == "dev"));
    let msg = err.to_string();
    assert!(msg.contains("chosen by whoever assumes the role"), "{msg}");
    assert!(msg.contains("AWSReservedSSO_*"), "{msg}");
}

#[test]
fn iam_identity_center_sessions_name_their_user() {
    let p = policy("");
    let arn = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_0123abcd/Alice@Example.com";
    let id = p.identify(&Principal::parse(arn).unwrap()).unwrap();
    assert_eq!(id.username, "alice@example.com");
    assert_eq!(id.by, IdentifiedBy::TrustedRole("AWSReservedSSO_*".into()));
}

#[test]
fn trusted_roles_replace_the_default() {
    let p = policy("identity:\n  trusted_roles: []\n");
    let sso = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_1/alice";
    assert!(matches!(
        who(&p, sso),
        Err(IdentityError::UntrustedRole { ref trusted, .. }) if trusted == "none"
    ));

    let p = policy("identity:\n  trusted_roles: ['arn:aws:iam::123456789012:role/okta-*']\n");
    assert_eq!(
        who(&p, "arn:aws:sts::123456789012:assumed-role/okta-dev/Bob").unwrap(),
        "bob"
    );
    // The same role name in another account is not trusted.
    assert!(who(&p, "arn:aws:sts::210987654321:assumed-role/okta-dev/bob").is_err());
    assert!(who(&p, sso).is_err());
}

#[test]
fn sessions_sentinel_vended_are_never_an_identity() {
    let p = policy(
        "identity:\n  trusted_roles: ['prod-*']\n  principals:\n    'arn:aws:iam::123456789012:role/prod-admin': ops\n",
    );
    for arn in [
        "arn:aws:sts::123456789012:assumed-role/prod-admin/sentinel-alice-0123456789abcdef",
        "arn:aws:sts::123456789012:assumed-role/prod-db/sentinel-bob-0123456789abcdef",
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_X/Sentinel-mallory",
    ] {
        let err = who(&p, arn).unwrap_err();
        assert!(
            matches!(err, IdentityError::VendedSession { .. }),
            "{arn}: {err}"
        );
        assert!(err.to_string().contains("cannot call Sentinel"), "{err}");
    }
}

#[test]
fn accounts_outside_the_allow_list_are_refused() {
    let p = policy("identity:\n  accounts: ['123456789012']\n");
    assert_eq!(
        who(&p, "arn:aws:iam::123456789012:user/alice").unwrap(),
        "alice"
    );
    let err = who(&p, "arn:aws:iam::999999999999:user/alice").unwrap_err();
    assert!(
        matches!(err, IdentityError::ForeignAccount { ref account, .. } if account == "999999999999")
    );
    assert!(err.to_string().contains("identity.accounts"), "{err}");
}

#[test]
fn root_and_federated_users_need_a_mapping() {
    let p = policy("");
    let root = "arn:aws:iam::123456789012:root";
    let fed = "arn:aws:sts::123456789012:federated-user/alice";
    assert!(matches!(who(&p, root), Err(IdentityError::Root { .. })));
    assert!(matches!(
        who(&p, fed),
        Err(IdentityError::FederatedUser { .. })
    ));

    let p = policy(&format!(
        "identity:\n  principals:\n    '{root}': break-glass-root\n    '{fed}': alice\n"
    ));
    assert_eq!(who(&p, root).unwrap(), "break-glass-root");
    assert_eq!(who(&p, fed).unwrap(), "alice");
}

#[test]
fn mappings_name_roles_sessions_and_users() {
    let p = policy(
        "identity:\n  principals:\n    'arn:aws:iam::123456789012:role/ci/deploy': ci-bot\n    'arn:aws:sts::123456789012:assumed-role/deploy/nightly': nightly-bot\n    'arn:aws:iam::123456789012:user/Legacy.Name': legacy\n",
    );
    assert_eq!(
        who(&p, "arn:aws:sts::123456789012:assumed-role/deploy/anything").unwrap(),
        "ci-bot"
    );
    // The exact session wins over the role.
    assert_eq!(
        who(&p, "arn:aws:sts::123456789012:assumed-role/deploy/nightly").unwrap(),
        "nightly-bot"
    );
    assert_eq!(
        who(&p, "arn:aws:iam::123456789012:user/legacy.name").unwrap(),
        "legacy"
    );
    let id = p
        .identify(&Principal::parse("arn:aws:sts::123456789012:assumed-role/deploy/x").unwrap())
        .unwrap();
    assert_eq!(
        id.by,
        IdentifiedBy::Mapping("arn:aws:iam::123456789012:role/ci/deploy".into())
    );
}

#[test]
fn principals_that_cannot_call_are_refused_when_parsed() {
    for arn in [
        "arn:aws:iam::123456789012:role/dev",
        "arn:aws:iam::123456789012:group/admins",
        "arn:aws:s3:::bucket",
        "arn:aws:iam::12345678901:user/alice",
        "arn:aws:iam::123456789012:user/alice smith",
        "arn:aws:sts::123456789012:assumed-role/dev",
        "",
    ] {
        assert!(
            matches!(
                Principal::parse(arn),
                Err(PrincipalError::Invalid { .. } | PrincipalError::Unsupported { .. })
            ),
            "{arn}"
        );
    }
}

#[test]
fn admins_and_warnings() {
    let p = CompiledPolicy::parse(
        "version: '1'\nrules:\n  - name: prod\n    effect: require_approval\n    conditions: { profiles: [prod, staging] }\napprovals:\n  rules:\n    - name: prod\n      profiles: [prod]\n      approvers: [bob]\nadmins: [sec]\n",
        "p.yaml",
    )
    .unwrap();
    assert!(p.is_admin(&Username::parse("sec").unwrap()));
    assert!(!p.is_admin(&Username::parse("bob").unwrap()));
    let w = p.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].path, "rules[0]");
    assert!(
        w[0].message
            .contains("nobody may approve requests for staging"),
        "{}",
        w[0]
    );

    let none = CompiledPolicy::parse(
        "version: '1'\nrules:\n  - name: prod\n    effect: require_approval\n",
        "p.yaml",
    )
    .unwrap();
    let w = none.warnings();
    assert_eq!(w.len(), 1);
    assert!(
        w[0].help.as_deref().unwrap().contains("approvals"),
        "{}",
        w[0]
    );

    let fine = CompiledPolicy::parse(
        "version: '1'\nrules:\n  - name: prod\n    effect: require_approval\napprovals:\n  rules: [{name: all, approvers: [bob]}]\n",
        "p.yaml",
    )
    .unwrap();
    assert!(fine.warnings().is_empty());
}
