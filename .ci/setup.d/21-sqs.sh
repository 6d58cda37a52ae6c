# Installs local-aws-sqs, the SQS server that the SQS sink's tests run against
# (pinned in .ci/node-sqs/package-lock.json), and tells the tests where its
# launcher is. Sourced by .ci/test; runs npm only when node_modules is missing.
sqs_dir="$PWD/.ci/node-sqs"
if [ ! -d "$sqs_dir/node_modules/local-aws-sqs" ]; then
  echo "installing local-aws-sqs with npm ci"
  (cd "$sqs_dir" && npm ci --no-audit --no-fund)
fi
export WEBTRACK_LOCAL_SQS="$sqs_dir/serve.mjs"
