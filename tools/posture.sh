#!/usr/bin/env bash
# The security posture and the validators on one template (YAML or JSON, in any folder); non-zero on any finding.
#   cfn-guard  infra/guard/*.guard  every rule must PASS (a FAIL fails; so does a SKIP: a rule that does not apply
#                                   to the template checks nothing)
#   cfn-lint   with the cfn-lint-serverless rules
#   sam        validate --lint (the SAM transform itself)
#   statelint  infra/statemachine/*.asl.json
# POSTURE_CHECKS (default all four: "guard lint sam statelint") runs only the named ones: the weakened copies of
# `make posture-weakened` each need only the check meant to catch them.
set -uo pipefail
template=${1:?usage: tools/posture.sh TEMPLATE}
list=${POSTURE_CHECKS:-guard lint sam statelint}
checks=" $list "
runs() { [[ $checks == *" $1 "* ]]; }
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/.venv/bin:$root/node_modules/.bin:$root/.tools/bin:$PATH" SAM_CLI_TELEMETRY=0
failed=()

if runs guard; then
  echo "== cfn-guard: $template"
  expected=$(cat "$root"/infra/guard/*.guard | grep -c '^rule ')
  summary=$(cfn-guard validate --data "$template" --rules "$root/infra/guard" --show-summary all 2>&1)
  verdicts=$(grep -E '^[a-z0-9_]+\.guard/[a-z0-9_]+ +(PASS|FAIL|SKIP)$' <<<"$summary" | sort -u)
  echo "$verdicts" | sed 's/^/   /'
  passed=$(grep -c ' PASS$' <<<"$verdicts")
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
