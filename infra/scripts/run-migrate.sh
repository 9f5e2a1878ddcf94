#!/usr/bin/env bash
# Runs `signpost migrate` once as an ECS Fargate task, waits for it, and exits non-zero unless
# the migration succeeded. Run it after pointing migrate_image at a new release and before
# moving the service (image) to it; see infra/README.md, "Deploying a new release".
#
#   infra/scripts/run-migrate.sh [TERRAFORM_DIR]
#
# TERRAFORM_DIR (default: the current directory) is the root configuration that uses the
# signpost-aws module and exposes its `migrate` output under the same name, as
# infra/terraform/examples/aws-deployment does. Needs terraform (with access to the state),
# the AWS CLI v2 with credentials allowed ecs:RunTask, ecs:DescribeTasks and iam:PassRole on
# the execution role, and python3.
set -euo pipefail

die() {
    printf 'run-migrate: %s\n' "$*" >&2
    exit 1
}

dir="${1:-.}"
command -v terraform >/dev/null || die "terraform not found"
command -v aws >/dev/null || die "aws CLI not found"

json="$(terraform -chdir="$dir" output -json migrate)" || die "no 'migrate' output in $dir"

# One field of the output; lists are joined with commas, booleans become ENABLED/DISABLED.
field() {
    python3 -c '
import json, sys
v = json.load(sys.stdin)[sys.argv[1]]
if isinstance(v, bool):
    print("ENABLED" if v else "DISABLED")
elif isinstance(v, list):
    print(",".join(v))
else:
    print(v)
' "$1" <<<"$json"
}

region="$(field region)"
cluster="$(field cluster)"
task_definition="$(field task_definition_arn)"
container="$(field container_name)"
subnets="$(field subnet_ids)"
security_groups="$(field security_group_ids)"
public_ip="$(field assign_public_ip)"
log_group="$(field log_group_name)"
log_prefix="$(field log_stream_prefix)"

echo "run-migrate: starting $task_definition on cluster $cluster ($region)"
task_arn="$(aws ecs run-task --region "$region" --cluster "$cluster" \
    --task-definition "$task_definition" --launch-type FARGATE --count 1 \
    --started-by signpost-migrate \
    --network-configuration "awsvpcConfiguration={subnets=[$subnets],securityGroups=[$security_groups],assignPublicIp=$public_ip}" \
    --query 'tasks[0].taskArn' --output text)"
[[ -n $task_arn && $task_arn != None ]] || die "the task did not start (see the run-task failures above)"
task_id="${task_arn##*/}"
echo "run-migrate: task $task_id started; waiting for it to stop (at most 10 minutes)"

aws ecs wait tasks-stopped --region "$region" --cluster "$cluster" --tasks "$task_arn" ||
    die "task $task_id did not stop in time; check it with: aws ecs describe-tasks --region $region --cluster $cluster --tasks $task_arn"

IFS=$'\t' read -r exit_code stopped_reason < <(aws ecs describe-tasks --region "$region" \
    --cluster "$cluster" --tasks "$task_arn" \
    --query 'tasks[0].[containers[0].exitCode, stoppedReason]' --output text)

echo "run-migrate: logs: aws logs tail --region $region $log_group --log-stream-names $log_prefix/$container/$task_id"
if [[ $exit_code == 0 ]]; then
    echo "run-migrate: migration succeeded"
else
    die "migration failed (exit code $exit_code, stopped reason: $stopped_reason)"
fi
