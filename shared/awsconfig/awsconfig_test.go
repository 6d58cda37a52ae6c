package awsconfig_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/awsconfig"
)

// lambdaEnv clears what the tests set, as a fresh Lambda environment would.
func lambdaEnv(t *testing.T, kv map[string]string) {
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, kv[k])
	}
}

func TestCredentialsFromTheEnvironment(t *testing.T) {
	lambdaEnv(t, map[string]string{"AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"})
	cfg, err := awsconfig.FromEnvironment(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "ASIAEXAMPLE" || creds.SecretAccessKey != "secret" || creds.SessionToken != "token" {
		t.Errorf("credentials %+v, %v", creds, err)
	}
	if cfg.Region != "eu-central-1" {
		t.Errorf("region %q, want AWS_REGION's", cfg.Region)
	}
	if cfg, _ := awsconfig.FromEnvironment(context.Background(), "us-west-2"); cfg.Region != "us-west-2" {
		t.Errorf("region %q, want the sink URL's", cfg.Region)
	}
}

func TestCredentialsFromTheContainerEndpoint(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"s","Token":"t","Expiration":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`))
	}))
	defer srv.Close()
	lambdaEnv(t, map[string]string{"AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.URL + "/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "let-me-in"})
	cfg, err := awsconfig.FromEnvironment(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "ASIACONTAINER" || creds.SessionToken != "t" {
		t.Errorf("credentials %+v, %v", creds, err)
	}
	if auth != "let-me-in" {
		t.Errorf("the endpoint was asked with Authorization %q, want the token", auth)
	}
}

func TestNoCredentialsIsAnError(t *testing.T) {
	lambdaEnv(t, map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "only-an-id"})
	if _, err := awsconfig.FromEnvironment(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("no credentials: %v, want an error naming the variables", err)
	}
}
