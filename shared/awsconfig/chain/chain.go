// Package chain loads the AWS SDK configuration through the SDK's whole
// default chain: environment, shared config and credentials files, profiles,
// SSO, web identity, container and instance roles. The local server uses it;
// a Lambda function does not need it (see awsconfig.FromEnvironment).
package chain

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Load is an awsconfig.Loader over config.LoadDefaultConfig.
func Load(ctx context.Context, region string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}
