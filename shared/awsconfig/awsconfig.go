// Package awsconfig builds the AWS SDK configuration for the S3 and SQS
// sinks. How it is built is the binary's choice, made where it registers
// those sinks: the Lambda function reads only what Lambda gives every
// function (FromEnvironment), which keeps the SDK's config package, with its
// shared files, SSO and STS, out of its binary and its cold start; the local
// server takes the SDK's whole default chain (package chain), which
// developers' profiles and SSO need.
package awsconfig

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
)

// Loader builds the SDK configuration for a client of the given region, or
// of the environment's region when it is empty.
type Loader func(ctx context.Context, region string) (aws.Config, error)

// FromEnvironment builds the configuration from what Lambda gives every
// function: the region from AWS_REGION (or AWS_DEFAULT_REGION), credentials
// from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or,
// when those are absent, from the container credentials endpoint
// (AWS_CONTAINER_CREDENTIALS_FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN),
// as SnapStart and container platforms provide them. AWS_ENDPOINT_URL sets
// the base endpoint. It makes no network call.
func FromEnvironment(_ context.Context, region string) (aws.Config, error) {
	cfg := aws.Config{Region: region}
	if cfg.Region == "" {
		cfg.Region = os.Getenv("AWS_REGION")
	}
	if cfg.Region == "" {
		cfg.Region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if v := os.Getenv("AWS_ENDPOINT_URL"); v != "" {
		cfg.BaseEndpoint = aws.String(v)
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	switch uri := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"); {
	case id != "" && secret != "":
		cfg.Credentials = credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))
	case uri != "":
		token := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
		cfg.Credentials = aws.NewCredentialsCache(endpointcreds.New(uri, func(o *endpointcreds.Options) {
			o.AuthorizationToken = token
		}))
	default:
		return cfg, errors.New("no AWS credentials: neither AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set (Lambda sets them from the function's role)")
	}
	return cfg, nil
}
