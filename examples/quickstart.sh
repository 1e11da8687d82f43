#!/usr/bin/env bash
# examples/quickstart.sh: Sentinel end to end on this machine, against a
# local AWS emulator (moto), with the real `aws` CLI as the client.
#
# It builds `sentinel`, starts the emulator, creates two IAM users (alice,
# bob) and three roles, writes a policy and an AWS config into a scratch
# directory (nothing in your home is touched), and walks through:
#   1. allowed access through `credential_process`
#   2. a denial, and the rule that made it
#   3. an approval: alice requests, bob approves, alice gets in
#   4. break-glass: invoked, rate-limited, closed
#   5. `exec --server` with a revocation taking effect mid-session
#   6. the decision log
# Needs: Rust, Python 3 (moto is installed with pip if missing), the aws CLI.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
ci=false
case "${CI:-}" in [Tt][Rr][Uu][Ee]) ci=true ;; esac

bold=$'\e[1m'; dim=$'\e[2m'; reset=$'\e[0m'
[[ -t 1 ]] || { bold=""; dim=""; reset=""; }
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$reset"; }
say() { printf '%s%s%s\n' "$dim" "$*" "$reset"; }
warn() { printf '\n!!! %s\n\n' "$*" >&2; }
die() { printf '\nquickstart: ERROR: %s\n' "$*" >&2; exit 1; }
# run CMD...: prints the command, then runs it.
run() { printf '%s$ %s%s\n' "$bold" "$*" "$reset"; "$@"; }
# expect_fail CMD...: prints and runs a command that must fail.
expect_fail() {
    printf '%s$ %s%s\n' "$bold" "$*" "$reset"
    local rc=0
    "$@" || rc=$?
    ((rc != 0)) || die "expected this to be refused: $*"
    say "(refused, exit code $rc, as expected)"
}

# shellcheck source=scripts/lib/emulator.sh
source "$root/scripts/lib/emulator.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/sentinel-quickstart.XXXXXX")
server_pid=""
cleanup() {
    local rc=$?
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
    stop_emulator
    [[ -n ${moto_log:-} ]] && rm -f "$moto_log"
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "building sentinel"
cargo build --quiet -p sentinel-cli
sentinel="$root/target/debug/sentinel"
say "$sentinel"

ensure_moto
ensure_aws_cli
command -v aws >/dev/null || die "the aws CLI is needed: python3 -m pip install awscli"
start_emulator
endpoint=$SENTINEL_TEST_AWS_ENDPOINT

# Everything lives in the scratch directory.
export HOME="$work/home" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" XDG_STATE_HOME="$work/state"
export AWS_CONFIG_FILE="$work/aws/config" AWS_SHARED_CREDENTIALS_FILE="$work/aws/credentials"
export AWS_ENDPOINT_URL="$endpoint" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_SENTINEL
mkdir -p "$HOME" "$work/aws" "$XDG_CONFIG_HOME/sentinel"

step "creating IAM users and roles in the emulator"
admin() { AWS_ACCESS_KEY_ID=admin AWS_SECRET_ACCESS_KEY=admin aws "$@"; }
trust='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["sts:AssumeRole","sts:SetSourceIdentity","sts:TagSession"]}]}'
for role in dev-admin prod-admin ops-admin; do
    admin iam create-role --role-name "$role" --assume-role-policy-document "$trust" >/dev/null
done
: >"$AWS_SHARED_CREDENTIALS_FILE"
for user in alice bob; do
    admin iam create-user --user-name "$user" >/dev/null
    read -r key secret < <(admin iam create-access-key --user-name "$user" \
        --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
    printf '[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$user" "$key" "$secret" >>"$AWS_SHARED_CREDENTIALS_FILE"
    say "IAM user $user ($key)"
done

# alice's profiles: the role profiles Sentinel reads (role_arn +
# source_profile), and the ones the aws CLI uses (credential_process).
{
    for p in alice bob; do printf '[profile %s]\nregion = us-east-1\n\n' "$p"; done
    for p in dev prod ops; do
        printf '[profile %s]\nrole_arn = arn:aws:iam::123456789012:role/%s-admin\nsource_profile = alice\nregion = us-east-1\n\n' "$p" "$p"
        printf '[profile sentinel-%s]\ncredential_process = %s credentials --profile %s\nregion = us-east-1\n\n' "$p" "$sentinel" "$p"
    done
} >"$AWS_CONFIG_FILE"

cat >"$XDG_CONFIG_HOME/sentinel/policy.yaml" <<'EOF'
version: "1"
admins: [bob]                       # may revoke anyone and use (and lift) the kill switch
rules:
  - name: dev-for-the-team
    effect: allow
    conditions: { profiles: [dev], users: [alice, bob] }
  - name: prod-needs-approval
    effect: require_approval
    conditions: { profiles: [prod] }
  - name: ops-through-the-server
    effect: require_server_session
    conditions: { profiles: [ops] }
    max_server_duration: 1h
approvals:
  rules:
    - name: prod-approvers
      profiles: [prod]
      approvers: [bob]
breakglass:
  rules:
    - name: oncall
      profiles: [prod]
      users: [alice]
      reason_codes: [incident, security]
      max_duration: 2h
rate_limits:
  rules:
    - name: prod-breakglass
      profiles: [prod]
      cooldown: 1h
      max_per_user: 3
      quota_window: 24h
EOF
run "$sentinel" policy validate "$XDG_CONFIG_HOME/sentinel/policy.yaml"
say "policy: $XDG_CONFIG_HOME/sentinel/policy.yaml; state: SQLite under $XDG_DATA_HOME/sentinel"

step "1. allowed: the aws CLI gets credentials through credential_process"
run aws sts get-caller-identity --profile sentinel-dev --query Arn --output text
say "(the assumed role; the session carries SourceIdentity sentinel.alice.direct.<id>)"

step "2. denied: prod needs an approval"
expect_fail aws sts get-caller-identity --profile sentinel-prod --query Arn --output text
expect_fail "$sentinel" policy test --user alice --profile prod

step "3. approval: alice asks, bob approves, alice gets in"
id=$(AWS_PROFILE=alice "$sentinel" request --profile prod --duration 1h \
    --justification "deploy hotfix for INC-1234" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
say "alice filed request $id"
expect_fail env AWS_PROFILE=alice "$sentinel" approve "$id"
run env AWS_PROFILE=bob "$sentinel" approve "$id" --comment "go ahead"
run aws sts get-caller-identity --profile sentinel-prod --query Arn --output text
say "(SourceIdentity now carries the approval marker; see the decision log below)"

step "4. break-glass: emergency access, rate-limited, closed"
bg=$(AWS_PROFILE=alice "$sentinel" breakglass --profile prod --reason-code incident --duration 30m \
    --justification "payments database is down, failing over by hand" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
run env AWS_PROFILE=alice "$sentinel" breakglass-check "$bg"
expect_fail env AWS_PROFILE=alice "$sentinel" breakglass --profile prod --reason-code incident \
    --justification "trying to open a second event at once"
run env AWS_PROFILE=alice "$sentinel" breakglass-close "$bg" --reason "failover done"
expect_fail env AWS_PROFILE=alice "$sentinel" breakglass --profile prod --reason-code incident \
    --justification "again, inside the one-hour cooldown"

step "5. exec --server: a credential server for one command, revoked mid-way"
marker="$work/revoked"
first="$work/first-call"
script="aws sts get-caller-identity --query Arn --output text | tee '$first'
echo '(child) waiting for the revocation...'
while [ ! -f '$marker' ]; do sleep 0.2; done
aws sts get-caller-identity --query Arn --output text"
AWS_PROFILE=alice "$sentinel" exec --server --profile ops -- sh -c "$script" &
server_pid=$!
for _ in $(seq 1 100); do
    AWS_PROFILE=alice "$sentinel" server-sessions --status active --json 2>/dev/null | grep -q '"id"' && break
    sleep 0.2
done
run env AWS_PROFILE=alice "$sentinel" server-sessions --status active
sleep 1
expect_fail env AWS_PROFILE=alice "$sentinel" server-revoke --user bob --reason "only admins may do this"
run env AWS_PROFILE=bob "$sentinel" server-revoke --user alice --reason "laptop reported stolen"
touch "$marker"
if wait "$server_pid"; then die "the child got credentials after the revocation"; fi
server_pid=""
grep -q assumed-role "$first" || die "the child's first call, before the revocation, did not get credentials"
say "(the second call was refused: the revocation took effect at the next credential request)"
expect_fail aws sts get-caller-identity --profile sentinel-dev --query Arn --output text
run env AWS_PROFILE=bob "$sentinel" server-lift --user alice
run aws sts get-caller-identity --profile sentinel-dev --query Arn --output text

step "6. the decision log"
log="$XDG_STATE_HOME/sentinel/decisions.jsonl"
python3 - "$log" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print(f'{d["time"][:19]}  {d["effect"]:6} {d["user"]:6} {d["profile"]:5} {d.get("rule") or "-":22} {d.get("source_identity", "")}')
EOF
run "$sentinel" audit verify-log

step "done"
say "everything ran in $work (removed on exit)"
