#!/usr/bin/env bash
# The security posture and the validators on one template (YAML or JSON, in any folder); non-zero on any finding.
#   cfn-guard  infra/guard/*.guard  every rule must PASS (a FAIL fails; so does a SKIP: a rule that does not apply
#                                   to the template checks nothing)
#   cfn-lint   with the cfn-lint-serverless rules
#   sam        validate --lint (the SAM transform itself)
#   statelint  infra/statemachine/*.asl.json
# POSTURE_CHECKS (default all four: "guard lint sam statelint") runs only the named ones: the weakened copies of
# `make posture-weakened` each need only the check meant to catch them.
#
# tools/posture.sh --pipeline infra/pipeline.yaml judges the CI/CD template: infra/guard-pipeline's rules with the
# shared IAM, grants, encryption and S3 rules, cfn-lint (no SAM, no state machines). Rules about what it does not
# have (state machines' queues, the auditor's grants …) may skip there, by name (PIPELINE_NOT_APPLICABLE).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rules=("$root/infra/guard")
not_applicable=""
default_checks="guard lint sam statelint"
if [[ ${1:-} == --pipeline ]]; then
  shift
  rules=("$root/infra/guard-pipeline" "$root/infra/guard/iam.guard" "$root/infra/guard/grants.guard"
         "$root/infra/guard/encryption.guard" "$root/infra/guard/s3.guard")
  not_applicable=" encryption.guard/asymmetric_keys_only_sign encryption.guard/secrets_encrypted
    encryption.guard/sqs_encrypted encryption.guard/sqs_tls_only grants.guard/iam_no_broad_managed_policies
    iam.guard/auditors_read_only_configuration iam.guard/iam_wildcard_resources_only_where_unscopable "
  default_checks="guard lint"
  not_applicable=" $(echo $not_applicable) "
fi
template=${1:?usage: tools/posture.sh [--pipeline] TEMPLATE}
list=${POSTURE_CHECKS:-$default_checks}
checks=" $list "
runs() { [[ $checks == *" $1 "* ]]; }
export PATH="$root/.venv/bin:$root/node_modules/.bin:$root/.tools/bin:$PATH" SAM_CLI_TELEMETRY=0
failed=()

if runs guard; then
  echo "== cfn-guard: $template"
  rule_files=()
  rule_args=()
  for r in "${rules[@]}"; do
    if [[ -d $r ]]; then rule_files+=("$r"/*.guard); else rule_files+=("$r"); fi
    rule_args+=(--rules "$r")
  done
  expected=$(cat "${rule_files[@]}" | grep -c '^rule ')
  summary=$(cfn-guard validate --data "$template" "${rule_args[@]}" --show-summary all 2>&1)
  verdicts=$(grep -E '^[a-z0-9_]+\.guard/[a-z0-9_]+ +(PASS|FAIL|SKIP)$' <<<"$summary" | sort -u)
  echo "$verdicts" | sed 's/^/   /'
  passed=$(grep -c ' PASS$' <<<"$verdicts")
  # A rule named not applicable may skip (never fail): it counts as judged.
  skipped_ok=0
  while read -r rule verdict; do
    if [[ $verdict == SKIP && $not_applicable == *" $rule "* ]]; then skipped_ok=$((skipped_ok + 1)); fi
  done <<<"$(sed -E 's/ +/ /' <<<"$verdicts")"
  passed=$((passed + skipped_ok))
  if [[ $passed -ne $expected ]]; then
    grep -iE 'error|Message|PropertyPath' <<<"$summary" | sort -u | head -40 | sed 's/^/   /'
    echo "   $passed of $expected guard rules passed"
    failed+=(cfn-guard)
  fi
fi

if runs lint; then
  echo "== cfn-lint (+ serverless rules)"
  if ! cfn-lint "$template" -a cfn_lint_serverless.rules; then failed+=(cfn-lint); fi
fi

if runs sam; then
  echo "== sam validate --lint"
  if ! sam validate --lint --template "$template" --region us-east-1; then failed+=(sam-validate); fi
fi

if runs statelint; then
  echo "== statelint"
  if ! statelint "$root"/infra/statemachine/*.asl.json; then failed+=(statelint); fi
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "posture: FAILED (${failed[*]}) for $template"
  exit 1
fi
echo "posture: passed for $template ($list)"
