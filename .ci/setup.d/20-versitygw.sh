# Installs versitygw, the S3 gateway that the S3 sink's tests run against.
# Sourced by .ci/test with WEBTRACK_TOOLS set. The build takes minutes, so a
# binary of the same version already in $WEBTRACK_TOOLS/bin is kept (its
# --version says nothing useful, hence the stamp file).
versitygw_version=v1.8.0
export PATH="$WEBTRACK_TOOLS/bin:$PATH"
if [ ! -x "$WEBTRACK_TOOLS/bin/versitygw" ] ||
  [ "$(cat "$WEBTRACK_TOOLS/bin/.versitygw-version" 2>/dev/null)" != "$versitygw_version" ]; then
  echo "building versitygw $versitygw_version (takes a few minutes)"
  GOBIN="$WEBTRACK_TOOLS/bin" go install "github.com/versity/versitygw/cmd/versitygw@$versitygw_version"
  echo "$versitygw_version" >"$WEBTRACK_TOOLS/bin/.versitygw-version"
fi
