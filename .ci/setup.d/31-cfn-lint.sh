# Checks for cfn-lint, which validates template.yaml
# (functions/lambda/template_test.go). The machine image ships it (pip,
# Python 3.11); where it is missing, pip installs it if PyPI is reachable.
# Otherwise the template test fails and says so; the other tests still run.
cfn_lint_version=1.51.0
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "cfn-lint is missing: installing cfn-lint $cfn_lint_version with pip"
  python3 -m pip install --quiet "cfn-lint==$cfn_lint_version" ||
    echo "pip could not install cfn-lint; TestTemplateLint will fail"
fi
