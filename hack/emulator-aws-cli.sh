#!/usr/bin/env bash
# Runs the AWS CLI commands of the EKS access-entry user guide against the EKS
# emulator (hack/eks-emulator) and checks what they print, then reads the
# CloudTrail events of EKS writes from the emulator's SQS. A test tool: it
# builds the emulator, starts it on a free loopback port with dummy
# credentials, and stops it on exit. Needs Go and the AWS CLI (installed from
# Debian's awscli package when missing).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
emu_pid=""

cleanup() {
	if [[ -n "$emu_pid" ]]; then
		kill "$emu_pid" 2>/dev/null || true
		wait "$emu_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [[ -s "$work/emulator.log" ]]; then
		echo "--- emulator log (last 20 lines):" >&2
		tail -n 20 "$work/emulator.log" >&2
	fi
	exit 1
}

expect_eq() { # description got want
	[[ "$2" == "$3" ]] || fail "$1: got '$2', want '$3'"
	echo "ok: $1"
}

expect_contains() { # description got want
	[[ "$2" == *"$3"* ]] || fail "$1: '$2' does not contain '$3'"
	echo "ok: $1"
}

# expect_refused description want-text command...: the command must fail and
# print want-text (the CLI prints "An error occurred (Code) ...: message").
expect_refused() {
	local desc=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		fail "$desc: the call succeeded, want an error containing '$want'; output: $out"
	fi
	expect_contains "$desc" "$out" "$want"
}

if ! command -v aws >/dev/null 2>&1; then
	echo "aws CLI not found; installing Debian's awscli" >&2
	apt-get update
	apt-get install -y awscli
fi
echo "using $(aws --version 2>&1)"

cd "$repo_root"
go build -o "$work/eks-emulator" ./hack/eks-emulator

cat >"$work/config.yaml" <<'EOF'
clusters:
  - name: demo
    account: "111122223333"
    region: us-west-2
    authenticationMode: CONFIG_MAP
    creatorAdmin: arn:aws:iam::111122223333:role/cluster-creator
roles: # the trust policy of a role the operator assumes: this account, with an external ID
  - roleArn: arn:aws:iam::111122223333:role/cross-account-operator
    trustedAccounts: ["111122223333"]
    externalId: cli-external-id
updateDuration: 30s # long enough to observe UPDATING between CLI calls (about 1s each, several on a loaded machine)
EOF

events_queue=eks-access-events
"$work/eks-emulator" --listen 127.0.0.1:0 --config "$work/config.yaml" --events-queue "$events_queue" --verbose \
	>"$work/emulator.out" 2>"$work/emulator.log" &
emu_pid=$!
url=""
for _ in $(seq 1 300); do
	url=$(sed -n 's/^eks-emulator listening on //p' "$work/emulator.out")
	[[ -n "$url" ]] && break
	kill -0 "$emu_pid" 2>/dev/null || fail "the emulator exited during start-up"
	sleep 0.1
done
[[ -n "$url" ]] || fail "the emulator did not report its address within 10s"
echo "emulator at $url"

# Dummy credentials only; keep any real AWS configuration out of the way.
export AWS_ACCESS_KEY_ID=AKIAEMULATOREXAMPLE1 AWS_SECRET_ACCESS_KEY=emulator-dummy-secret
export AWS_DEFAULT_REGION=us-west-2 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION || true

awseks() { aws eks --endpoint-url "$url" "$@"; }
q() { awseks "$@" --output text; } # with --query, prints bare values

cluster=demo
acct=111122223333
my_role=arn:aws:iam::$acct:role/my-role
node_role=arn:aws:iam::$acct:role/EKS-my-cluster-self-managed-ng-1
viewers_role=arn:aws:iam::$acct:role/EKS-my-cluster-my-namespace-Viewers
my_user=arn:aws:iam::$acct:user/my-user
view_policy=arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy

echo "== prerequisites: versions and authentication mode"
out=$(awseks describe-cluster --name $cluster --query 'cluster.{"Kubernetes Version": version, "Platform Version": platformVersion}' --output json)
expect_contains "describe-cluster shows the Kubernetes version" "$out" '"Kubernetes Version": "1.34"'
expect_contains "describe-cluster shows the platform version" "$out" '"Platform Version": "eks.10"'
expect_eq "cluster starts in CONFIG_MAP" "$(q describe-cluster --name $cluster --query cluster.accessConfig.authenticationMode)" CONFIG_MAP
expect_refused "access entries need an API authentication mode" \
	"InvalidRequestException) when calling the CreateAccessEntry operation: The authentication mode of the cluster must be set to one of [API, API_AND_CONFIG_MAP]" \
	awseks create-access-entry --cluster-name $cluster --principal-arn "$my_role"

echo "== setting up access entries: update-cluster-config"
update_id=$(q update-cluster-config --name $cluster --access-config authenticationMode=API_AND_CONFIG_MAP --query update.id)
[[ -n "$update_id" ]] || fail "update-cluster-config returned no update id"
expect_eq "the update is an AccessConfigUpdate in progress" \
	"$(q describe-update --name $cluster --update-id "$update_id" --query '[update.type, update.status, update.params[0].value]')" \
	"$(printf 'AccessConfigUpdate\tInProgress\tAPI_AND_CONFIG_MAP')"
expect_eq "cluster is UPDATING" "$(q describe-cluster --name $cluster --query cluster.status)" UPDATING
expect_contains "list-updates records the update" "$(q list-updates --name $cluster --query updateIds)" "$update_id"
expect_refused "a second update while one runs" "ResourceInUseException" \
	awseks update-cluster-config --name $cluster --access-config authenticationMode=API
status=""
for _ in $(seq 1 300); do
	status=$(q describe-update --name $cluster --update-id "$update_id" --query update.status)
	[[ "$status" == Successful ]] && break
	sleep 0.2
done
expect_eq "the update succeeds" "$status" Successful
expect_eq "cluster is ACTIVE in API_AND_CONFIG_MAP" \
	"$(q describe-cluster --name $cluster --query '[cluster.status, cluster.accessConfig.authenticationMode]')" \
	"$(printf 'ACTIVE\tAPI_AND_CONFIG_MAP')"
expect_eq "EKS created the cluster creator's admin entry" \
	"$(q list-access-entries --cluster-name $cluster --query 'accessEntries[0]')" "arn:aws:iam::$acct:role/cluster-creator"

echo "== creating access entries"
expect_eq "EC2_Linux node entry gets EKS's username and group" \
	"$(q create-access-entry --cluster-name $cluster --principal-arn "$node_role" --type EC2_Linux --query '[accessEntry.type, accessEntry.username, accessEntry.kubernetesGroups[0]]')" \
	"$(printf 'EC2_LINUX\tsystem:node:{{EC2PrivateDNSName}}\tsystem:nodes')"
expect_refused "no --kubernetes-groups on a node entry" "InvalidParameterException" \
	awseks create-access-entry --cluster-name $cluster --principal-arn "arn:aws:iam::$acct:role/ng-2" --type EC2_Linux --kubernetes-groups Viewers
expect_eq "STANDARD role entry with a username" \
	"$(q create-access-entry --cluster-name $cluster --principal-arn "$my_role" --type STANDARD --username my-user --query '[accessEntry.type, accessEntry.username]')" \
	"$(printf 'STANDARD\tmy-user')"
expect_eq "STANDARD role entry with RBAC group" \
	"$(q create-access-entry --cluster-name $cluster --principal-arn "$viewers_role" --type STANDARD --username Viewers --kubernetes-groups Viewers --query '[accessEntry.username, accessEntry.kubernetesGroups[0]]')" \
	"$(printf 'Viewers\tViewers')"
expect_eq "IAM user entry" \
	"$(q create-access-entry --cluster-name $cluster --principal-arn "$my_user" --type STANDARD --username my-user --query accessEntry.principalArn)" \
	"$my_user"
expect_refused "one entry per principal" \
	"ResourceInUseException) when calling the CreateAccessEntry operation: The specified access entry resource is already in use on this cluster." \
	awseks create-access-entry --cluster-name $cluster --principal-arn "$my_role"
expect_refused "reserved username prefix" \
	"InvalidParameterException) when calling the CreateAccessEntry operation: The username must not begin with system:" \
	awseks create-access-entry --cluster-name $cluster --principal-arn "arn:aws:iam::$acct:role/other" --username system:admin
expect_refused "service-linked roles are not principals" "service-linked" \
	awseks create-access-entry --cluster-name $cluster --principal-arn "arn:aws:iam::$acct:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"
entry_arn=$(q describe-access-entry --cluster-name $cluster --principal-arn "$my_role" --query accessEntry.accessEntryArn)
[[ "$entry_arn" =~ ^arn:aws:eks:us-west-2:$acct:access-entry/$cluster/role/$acct/my-role/[0-9a-f-]{36}$ ]] ||
	fail "access entry ARN '$entry_arn' has not the EKS shape"
echo "ok: access entry ARN $entry_arn"
expect_eq "list-access-entries lists all five entries" \
	"$(q list-access-entries --cluster-name $cluster --query 'length(accessEntries)')" 5

echo "== access policies"
expect_contains "list-access-policies includes AmazonEKSClusterAdminPolicy" \
	"$(q list-access-policies --query 'accessPolicies[].name')" AmazonEKSClusterAdminPolicy
out=$(q associate-access-policy --cluster-name $cluster --principal-arn "$my_role" \
	--access-scope type=namespace,namespaces=my-namespace1,my-namespace2 --policy-arn "$view_policy" \
	--query '[associatedAccessPolicy.accessScope.type, join(`,`, associatedAccessPolicy.accessScope.namespaces)]')
expect_eq "associate-access-policy at namespace scope" "$out" "$(printf 'namespace\tmy-namespace1,my-namespace2')"
expect_eq "list-associated-access-policies" \
	"$(q list-associated-access-policies --cluster-name $cluster --principal-arn "$my_role" --query 'associatedAccessPolicies[0].policyArn')" \
	"$view_policy"
expect_eq "list-access-entries filtered by policy" \
	"$(q list-access-entries --cluster-name $cluster --associated-policy-arn "$view_policy" --query 'accessEntries[0]')" "$my_role"
expect_refused "no access policies on a node entry" \
	'This operation can only be performed on Access Entries with a type of "STANDARD".' \
	awseks associate-access-policy --cluster-name $cluster --principal-arn "$node_role" --access-scope type=cluster --policy-arn "$view_policy"
expect_refused "unknown access policy" "InvalidParameterException" \
	awseks associate-access-policy --cluster-name $cluster --principal-arn "$my_role" --access-scope type=cluster \
	--policy-arn arn:aws:eks::aws:cluster-access-policy/AmazonEKSEverythingPolicy

expect_refused "no access policies listed for a node entry" \
	'InvalidParameterException) when calling the ListAssociatedAccessPolicies operation: This operation can only be performed on Access Entries with a type of "STANDARD".' \
	awseks list-associated-access-policies --cluster-name $cluster --principal-arn "$node_role"

echo "== EKS Auto Mode node entries (type EC2)"
auto_node_role=arn:aws:iam::$acct:role/AmazonEKSAutoNodeRole
auto_node_policy=arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy
expect_eq "EC2 entry for an Auto Mode node role" \
	"$(q create-access-entry --cluster-name $cluster --principal-arn "$auto_node_role" --type EC2 --query '[accessEntry.type, accessEntry.username]')" \
	"$(printf 'EC2\tsystem:node:{{EC2PrivateDNSName}}')"
expect_eq "AmazonEKSAutoNodePolicy at cluster scope on the EC2 entry" \
	"$(q associate-access-policy --cluster-name $cluster --principal-arn "$auto_node_role" --access-scope type=cluster \
		--policy-arn "$auto_node_policy" --query '[associatedAccessPolicy.policyArn, associatedAccessPolicy.accessScope.type]')" \
	"$(printf '%s\tcluster' "$auto_node_policy")"
expect_eq "list-associated-access-policies shows it" \
	"$(q list-associated-access-policies --cluster-name $cluster --principal-arn "$auto_node_role" --query 'associatedAccessPolicies[].[policyArn, accessScope.type]')" \
	"$(printf '%s\tcluster' "$auto_node_policy")"
expect_refused "EC2 entries take no other policy" \
	"InvalidParameterException) when calling the AssociateAccessPolicy operation: Access entries of type EC2 take only the access policy $auto_node_policy, at cluster scope" \
	awseks associate-access-policy --cluster-name $cluster --principal-arn "$auto_node_role" --access-scope type=cluster --policy-arn "$view_policy"
expect_refused "nor AmazonEKSAutoNodePolicy at namespace scope" "at namespace scope cannot be associated" \
	awseks associate-access-policy --cluster-name $cluster --principal-arn "$auto_node_role" \
	--access-scope type=namespace,namespaces=kube-system --policy-arn "$auto_node_policy"

echo "== the access policy catalogue"
# The emulator binary prints its catalogue: the one list both sides come from.
want_policies=$("$work/eks-emulator" -list-access-policies)
pages_before=$(grep -c 'operation=ListAccessPolicies outcome=OK' "$work/emulator.log" || true)
got_policies=$(q list-access-policies --page-size 10 --query 'accessPolicies[].name' | tr '\t' '\n' | sed '/^$/d')
pages=$(($(grep -c 'operation=ListAccessPolicies outcome=OK' "$work/emulator.log") - pages_before))
want_count=$(wc -l <<<"$want_policies")
expect_eq "list-access-policies fetched every page of 10" "$pages" $(((want_count + 9) / 10))
expect_eq "list-access-policies lists as many policies as the catalogue" "$(wc -l <<<"$got_policies")" "$want_count"
expect_eq "list-access-policies lists the catalogue's names, in order" "$got_policies" "$want_policies"
expect_eq "every listed ARN is arn:aws:eks::aws:cluster-access-policy/NAME" \
	"$(q list-access-policies --query 'accessPolicies[].arn' | tr '\t' '\n' | sed '/^$/d')" \
	"$(sed 's|^|arn:aws:eks::aws:cluster-access-policy/|' <<<"$want_policies")"

echo "== updating access entries"
# EKS resets what an update leaves out: here the username goes back to the default.
expect_eq "update-access-entry sets groups and resets the username" \
	"$(q update-access-entry --cluster-name $cluster --principal-arn "$viewers_role" --kubernetes-groups Viewers --query '[accessEntry.username, accessEntry.kubernetesGroups[0]]')" \
	"$(printf 'arn:aws:sts::%s:assumed-role/EKS-my-cluster-my-namespace-Viewers/{{SessionName}}\tViewers' $acct)"
awseks tag-resource --resource-arn "$entry_arn" --tags team=platform >/dev/null
expect_eq "tag-resource and list-tags-for-resource" \
	"$(q list-tags-for-resource --resource-arn "$entry_arn" --query tags.team)" platform
expect_refused "aws: tag keys are reserved" "BadRequestException" \
	awseks tag-resource --resource-arn "$entry_arn" --tags aws:owner=me

echo "== deleting access entries"
awseks disassociate-access-policy --cluster-name $cluster --principal-arn "$my_role" --policy-arn "$view_policy" >/dev/null
expect_eq "disassociate-access-policy" \
	"$(q list-associated-access-policies --cluster-name $cluster --principal-arn "$my_role" --query 'length(associatedAccessPolicies)')" 0
awseks delete-access-entry --cluster-name $cluster --principal-arn "$my_role" >/dev/null
expect_refused "deleted entry is gone" \
	"ResourceNotFoundException) when calling the DescribeAccessEntry operation: The specified principalArn could not be found." \
	awseks describe-access-entry --cluster-name $cluster --principal-arn "$my_role"

echo "== authentication mode only moves forward"
update_id=$(q update-cluster-config --name $cluster --access-config authenticationMode=API --query update.id)
for _ in $(seq 1 300); do
	[[ "$(q describe-cluster --name $cluster --query cluster.status)" == ACTIVE ]] && break
	sleep 0.2
done
expect_eq "cluster is ACTIVE in API" "$(q describe-cluster --name $cluster --query '[cluster.status, cluster.accessConfig.authenticationMode]')" \
	"$(printf 'ACTIVE\tAPI')"
expect_eq "second update succeeded" "$(q describe-update --name $cluster --update-id "$update_id" --query update.status)" Successful
expect_refused "no way back to the ConfigMap" "InvalidParameterException) when calling the UpdateClusterConfig operation: Unsupported authentication mode update from API to API_AND_CONFIG_MAP" \
	awseks update-cluster-config --name $cluster --access-config authenticationMode=API_AND_CONFIG_MAP

echo "== STS"
expect_eq "sts get-caller-identity" \
	"$(aws sts get-caller-identity --endpoint-url "$url" --query Account --output text)" $acct
role_id=$(aws sts assume-role --endpoint-url "$url" --role-arn "arn:aws:iam::$acct:role/cluster-creator" \
	--role-session-name cli --query AssumedRoleUser.AssumedRoleId --output text)
[[ "$role_id" =~ ^AROA[A-Z2-7]{17}:cli$ ]] || fail "assume-role returned role ID '$role_id'"
echo "ok: sts assume-role ($role_id)"

operator_role=arn:aws:iam::$acct:role/cross-account-operator
expect_refused "assume-role with a wrong external ID" \
	"An error occurred (AccessDenied) when calling the AssumeRole operation: User: arn:aws:iam::$acct:root is not authorized to perform: sts:AssumeRole on resource: $operator_role" \
	aws sts assume-role --endpoint-url "$url" --role-arn "$operator_role" --role-session-name cli --external-id wrong
expect_refused "assume-role without the external ID" "(AccessDenied)" \
	aws sts assume-role --endpoint-url "$url" --role-arn "$operator_role" --role-session-name cli
read -r key secret token < <(aws sts assume-role --endpoint-url "$url" --role-arn "$operator_role" --role-session-name cli \
	--external-id cli-external-id --query 'Credentials.[AccessKeyId, SecretAccessKey, SessionToken]' --output text)
[[ "$key" =~ ^ASIA && -n "$secret" && -n "$token" ]] || fail "assume-role with the external ID returned key '$key'"
echo "ok: assume-role with the right external ID"
expect_eq "get-caller-identity with the role's credentials" \
	"$(AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token aws sts get-caller-identity --endpoint-url "$url" --query Arn --output text)" \
	"arn:aws:sts::$acct:assumed-role/cross-account-operator/cli"

echo "== IAM Identity Center's roles (iam list-roles --path-prefix)"
sso_path=/aws-reserved/sso.amazonaws.com/
debug() { # path json: POST to the emulator's debug API, print its answer
	python3 -c 'import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"}, method="POST")
print(urllib.request.urlopen(req).read().decode())' "$url/_emulator/$1" "$2"
}
for role in "role${sso_path}AWSReservedSSO_Developers_0123456789abcdef" "role${sso_path}AWSReservedSSO_Admins_1111222233334444" \
	"role${sso_path}us-east-1/AWSReservedSSO_Auditors_5555666677778888" "role/deployer"; do
	debug principals "{\"arn\": \"arn:aws:iam::$acct:$role\"}" >/dev/null
done
# --page-size 1: the CLI asks for one role a page and follows the markers.
# The CLI prints a line per page: one name a line.
sso_roles() { aws iam list-roles --endpoint-url "$url" --path-prefix "$1" --page-size 1 --query 'Roles[].RoleName' --output text | tr '\t' '\n'; }
for _ in $(seq 50); do [[ "$(sso_roles $sso_path)" == *Developers* ]] && break; sleep 0.2; done
expect_eq "list-roles under the reserved path, both path forms, one page a role" "$(sso_roles $sso_path)" \
	"$(printf 'AWSReservedSSO_Admins_1111222233334444\nAWSReservedSSO_Auditors_5555666677778888\nAWSReservedSSO_Developers_0123456789abcdef')"
expect_eq "list-roles under the regional path" "$(sso_roles ${sso_path}us-east-1/)" AWSReservedSSO_Auditors_5555666677778888
moved=$(debug permission-sets/reprovision "{\"account\": \"$acct\", \"permissionSet\": \"Developers\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["arn"].rsplit("/", 1)[1])')
[[ "$moved" =~ ^AWSReservedSSO_Developers_[0-9a-f]{16}$ && "$moved" != AWSReservedSSO_Developers_0123456789abcdef ]] ||
	fail "a re-provisioned permission set's role is named '$moved'"
for _ in $(seq 50); do [[ "$(sso_roles $sso_path)" == *"$moved"* ]] && break; sleep 0.2; done
expect_eq "list-roles after the permission set was provisioned again" "$(sso_roles $sso_path)" \
	"$(printf 'AWSReservedSSO_Admins_1111222233334444\nAWSReservedSSO_Auditors_5555666677778888\n%s' "$moved")"
expect_refused "list-roles with a path prefix that is not a path" "(ValidationError)" \
	aws iam list-roles --endpoint-url "$url" --path-prefix aws-reserved

echo "== EKS's CloudTrail events in SQS"
awssqs() { aws sqs --endpoint-url "$url" "$@"; }
# event_fields <receive-message output> <python expressions over m (the message),
# e (its body's event) and d (the event's detail)>: prints them tab-separated.
event_fields() {
	python3 -c '
import json, sys
m = json.loads(sys.argv[1])["Messages"][0]
e = json.loads(m["Body"]); d = e["detail"]
print("\t".join(str(eval(x)) for x in sys.argv[2:]))' "$@"
}
queue_url=$(awssqs get-queue-url --queue-name "$events_queue" --query QueueUrl --output text)
expect_eq "get-queue-url names the queue by account" "$queue_url" "$url/$acct/$events_queue"
expect_refused "get-queue-url of a queue that does not exist" \
	"An error occurred (AWS.SimpleQueueService.NonExistentQueue) when calling the GetQueueUrl operation: The specified queue does not exist." \
	awssqs get-queue-url --queue-name no-such-queue
# The writes above have their events queued; start from an empty queue.
awssqs purge-queue --queue-url "$queue_url"
expect_eq "purge-queue empties the queue" \
	"$(awssqs get-queue-attributes --queue-url "$queue_url" --attribute-names ApproximateNumberOfMessages --query Attributes.ApproximateNumberOfMessages --output text)" 0

event_role=arn:aws:iam::$acct:role/event-check
awseks create-access-entry --cluster-name $cluster --principal-arn "$event_role" >/dev/null
out=$(awssqs receive-message --queue-url "$queue_url" --wait-time-seconds 10 --message-system-attribute-names ApproximateReceiveCount --output json)
expect_eq "receive-message has the create's event, from the CLI's root identity" \
	"$(event_fields "$out" 'e["source"]' 'e["detail-type"]' 'd["eventName"]' 'd["requestParameters"]["name"]' 'd["requestParameters"]["principalArn"]' 'd["userIdentity"]["arn"]' 'm["Attributes"]["ApproximateReceiveCount"]')" \
	"$(printf 'aws.eks\tAWS API Call via CloudTrail\tCreateAccessEntry\t%s\t%s\tarn:aws:iam::%s:root\t1' $cluster "$event_role" $acct)"
expect_contains "the event names the CLI as its user agent" "$(event_fields "$out" 'd["userAgent"]')" "aws-cli/"
handle=$(event_fields "$out" 'm["ReceiptHandle"]')
awssqs change-message-visibility --queue-url "$queue_url" --receipt-handle "$handle" --visibility-timeout 0
out=$(awssqs receive-message --queue-url "$queue_url" --wait-time-seconds 5 --message-system-attribute-names ApproximateReceiveCount --output json)
expect_eq "change-message-visibility 0 gives the event back, a second receive" \
	"$(event_fields "$out" 'd["eventName"]' 'm["Attributes"]["ApproximateReceiveCount"]')" "$(printf 'CreateAccessEntry\t2')"
awssqs delete-message --queue-url "$queue_url" --receipt-handle "$(event_fields "$out" 'm["ReceiptHandle"]')"
expect_eq "delete-message: nothing visible or in flight" \
	"$(awssqs get-queue-attributes --queue-url "$queue_url" --attribute-names ApproximateNumberOfMessages ApproximateNumberOfMessagesNotVisible \
		--query '[Attributes.ApproximateNumberOfMessages, Attributes.ApproximateNumberOfMessagesNotVisible]' --output text)" "$(printf '0\t0')"
expect_eq "get-queue-attributes: the queue's ARN and visibility timeout" \
	"$(awssqs get-queue-attributes --queue-url "$queue_url" --attribute-names All --query '[Attributes.QueueArn, Attributes.VisibilityTimeout]' --output text)" \
	"$(printf 'arn:aws:sqs:us-west-2:%s:%s\t30' $acct "$events_queue")"

AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token \
	awseks delete-access-entry --cluster-name $cluster --principal-arn "$event_role" >/dev/null
out=$(awssqs receive-message --queue-url "$queue_url" --wait-time-seconds 10 --output json)
expect_eq "a write with assumed-role credentials is the role session's" \
	"$(event_fields "$out" 'd["eventName"]' 'd["userIdentity"]["type"]' 'd["userIdentity"]["arn"]' 'd["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]')" \
	"$(printf 'DeleteAccessEntry\tAssumedRole\tarn:aws:sts::%s:assumed-role/cross-account-operator/cli\t%s' $acct "$operator_role")"
awssqs delete-message --queue-url "$queue_url" --receipt-handle "$(event_fields "$out" 'm["ReceiptHandle"]')"

body='not an event: héllo ✓'
sent_md5=$(awssqs send-message --queue-url "$queue_url" --message-body "$body" --query MD5OfMessageBody --output text)
expect_eq "send-message answers the body's MD5" "$sent_md5" "$(printf '%s' "$body" | md5sum | cut -d' ' -f1)"
out=$(awssqs receive-message --queue-url "$queue_url" --output json)
expect_eq "receive-message gives the sent body back" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["Messages"][0]["Body"])' "$out")" "$body"
start=$(date +%s)
out=$(awssqs receive-message --queue-url "$queue_url" --wait-time-seconds 2 --output json)
expect_eq "a long poll of a queue with nothing visible answers empty" "$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1] or "{}").get("Messages", [])))' "$out")" 0
(($(date +%s) - start >= 2)) || fail "a 2 s long poll answered after $(($(date +%s) - start)) s"
echo "ok: the long poll waited"
expect_refused "receive-message of 11 messages" \
	"An error occurred (InvalidParameterValue) when calling the ReceiveMessage operation: Value 11 for parameter MaxNumberOfMessages is invalid." \
	awssqs receive-message --queue-url "$queue_url" --max-number-of-messages 11

echo "PASS: the AWS CLI works against the EKS emulator, and reads its events from SQS"
