# Installs the AWS Lambda Runtime Interface Emulator, under which the Lambda
# function's tests run the built bootstrap (functions/lambda/rie_test.go).
# Sourced by .ci/test with WEBTRACK_TOOLS set. Pinned: the tests read the
# emulator's log lines.
rie_version=v0.0.0-20261030222936-bef5c4ba774d
export PATH="$WEBTRACK_TOOLS/bin:$PATH"
if [ "$(cat "$WEBTRACK_TOOLS/bin/.aws-lambda-rie-version" 2>/dev/null)" != "$rie_version" ] || [ ! -x "$WEBTRACK_TOOLS/bin/aws-lambda-rie" ]; then
  echo "installing aws-lambda-rie $rie_version"
  GOBIN="$WEBTRACK_TOOLS/bin" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$rie_version"
  echo "$rie_version" > "$WEBTRACK_TOOLS/bin/.aws-lambda-rie-version"
fi
