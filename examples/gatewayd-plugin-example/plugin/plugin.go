// Package plugin implements the example GatewayD plugin: it reports its metadata and passes
// traffic through unchanged.
package plugin

import (
	"context"
	"sync/atomic"

	v1 "github.com/gatewayd-io/gatewayd-plugin-sdk/plugin/v1"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Plugin implements the GatewayD plugin gRPC service. Hooks it does not implement answer
// "Unimplemented"; GatewayD only calls the hooks listed in PluginConfig.
type Plugin struct {
	v1.UnimplementedGatewayDPluginServiceServer

	Logger hclog.Logger

	trafficFromClient atomic.Uint64
}

// ExamplePlugin is the go-plugin glue: it serves Plugin over gRPC (net/rpc is not supported).
type ExamplePlugin struct {
	goplugin.NetRPCUnsupportedPlugin

	Impl *Plugin
}

var _ goplugin.GRPCPlugin = (*ExamplePlugin)(nil)

// NewExamplePlugin returns the go-plugin plugin for the given implementation.
func NewExamplePlugin(impl *Plugin) *ExamplePlugin {
	return &ExamplePlugin{Impl: impl}
}

// GRPCServer registers the plugin with the gRPC server.
func (p *ExamplePlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	v1.RegisterGatewayDPluginServiceServer(s, p.Impl)

	return nil
}

// GRPCClient returns the client used by the host (GatewayD) and by the tests.
func (p *ExamplePlugin) GRPCClient(
	_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn,
) (any, error) {
	return v1.NewGatewayDPluginServiceClient(c), nil
}

// GetPluginConfig returns the plugin's metadata.
func (p *Plugin) GetPluginConfig(_ context.Context, _ *v1.Struct) (*v1.Struct, error) {
	return v1.NewStruct(PluginConfig)
}

// OnConfigLoaded receives GatewayD's global config and returns it unchanged.
func (p *Plugin) OnConfigLoaded(_ context.Context, req *v1.Struct) (*v1.Struct, error) {
	p.logger().Debug("OnConfigLoaded", "keys", len(req.GetFields()))

	return req, nil
}

// OnTrafficFromClient sees every message a client sends and passes it through unchanged.
func (p *Plugin) OnTrafficFromClient(_ context.Context, req *v1.Struct) (*v1.Struct, error) {
	count := p.trafficFromClient.Add(1)
	p.logger().Debug("OnTrafficFromClient", "count", count)

	return req, nil
}

// TrafficFromClient is the number of OnTrafficFromClient calls seen so far.
func (p *Plugin) TrafficFromClient() uint64 {
	return p.trafficFromClient.Load()
}

func (p *Plugin) logger() hclog.Logger {
	if p.Logger == nil {
		return hclog.NewNullLogger()
	}

	return p.Logger
}
