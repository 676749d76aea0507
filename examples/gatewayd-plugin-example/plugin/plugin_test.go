package plugin

import (
	"os"
	"testing"

	v1 "github.com/gatewayd-io/gatewayd-plugin-sdk/plugin/v1"
	goplugin "github.com/hashicorp/go-plugin"
)

// dispense starts the plugin's gRPC server in-process and returns a client connected to it,
// the way GatewayD sees the plugin after the handshake.
func dispense(t *testing.T) (v1.GatewayDPluginServiceClient, *Plugin) {
	t.Helper()

	impl := &Plugin{}
	client, server := goplugin.TestPluginGRPCConn(t, false, map[string]goplugin.Plugin{
		PluginID.GetName(): NewExamplePlugin(impl),
	})
	t.Cleanup(func() {
		_ = client.Close()
		server.Stop()
	})

	raw, err := client.Dispense(PluginID.GetName())
	if err != nil {
		t.Fatalf("dispense: %v", err)
	}

	service, ok := raw.(v1.GatewayDPluginServiceClient)
	if !ok {
		t.Fatalf("dispensed %T, want a GatewayDPluginServiceClient", raw)
	}

	return service, impl
}

func TestPluginConfigReportsVersion(t *testing.T) {
	t.Parallel()

	id, ok := PluginConfig["id"].(map[string]any)
	if !ok {
		t.Fatalf("PluginConfig[id] is %T", PluginConfig["id"])
	}

	if id["version"] != Version {
		t.Errorf("id.version = %v, want Version %q", id["version"], Version)
	}

	// The harness sets this when it builds the test binary with -ldflags -X ...plugin.Version=...
	if want := os.Getenv("EXAMPLE_EXPECT_VERSION"); want != "" && Version != want {
		t.Errorf("Version = %q, want %q (ldflags injection)", Version, want)
	}
}

func TestGetPluginConfigOverGRPC(t *testing.T) {
	t.Parallel()

	service, _ := dispense(t)

	metadata, err := service.GetPluginConfig(t.Context(), &v1.Struct{})
	if err != nil {
		t.Fatalf("GetPluginConfig: %v", err)
	}

	fields := metadata.AsMap()

	id, ok := fields["id"].(map[string]any)
	if !ok || id["name"] != "gatewayd-plugin-example" || id["version"] != Version {
		t.Errorf("id = %v, want name gatewayd-plugin-example and version %q", fields["id"], Version)
	}

	hooks, ok := fields["hooks"].([]any)
	if !ok || len(hooks) != 2 || hooks[0] != float64(1) || hooks[1] != float64(16) {
		t.Errorf("hooks = %v, want [1 16] (OnConfigLoaded, OnTrafficFromClient)", fields["hooks"])
	}
}

func TestOnTrafficFromClientPassesThrough(t *testing.T) {
	t.Parallel()

	service, impl := dispense(t)

	req, err := v1.NewStruct(map[string]any{
		"request": []byte("Q\x00\x00\x00\x0dSELECT 1;\x00"),
		"client":  map[string]any{"local": "127.0.0.1:15432", "remote": "127.0.0.1:40000"},
	})
	if err != nil {
		t.Fatalf("NewStruct: %v", err)
	}

	resp, err := service.OnTrafficFromClient(t.Context(), req)
	if err != nil {
		t.Fatalf("OnTrafficFromClient: %v", err)
	}

	if got, want := string(resp.GetFields()["request"].GetBytesValue()), string(req.GetFields()["request"].GetBytesValue()); got != want {
		t.Errorf("request changed: got %q, want %q", got, want)
	}

	if impl.TrafficFromClient() != 1 {
		t.Errorf("TrafficFromClient() = %d, want 1", impl.TrafficFromClient())
	}
}

func TestOnConfigLoadedReturnsConfigUnchanged(t *testing.T) {
	t.Parallel()

	service, _ := dispense(t)

	req, err := v1.NewStruct(map[string]any{"loggers": map[string]any{"default": map[string]any{"level": "info"}}})
	if err != nil {
		t.Fatalf("NewStruct: %v", err)
	}

	resp, err := service.OnConfigLoaded(t.Context(), req)
	if err != nil {
		t.Fatalf("OnConfigLoaded: %v", err)
	}

	level := resp.AsMap()["loggers"].(map[string]any)["default"].(map[string]any)["level"] //nolint:forcetypeassert
	if level != "info" {
		t.Errorf("loggers.default.level = %v, want info", level)
	}
}
