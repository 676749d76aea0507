package plugin

import (
	v1 "github.com/gatewayd-io/gatewayd-plugin-sdk/plugin/v1"
)

// Version is the plugin's version without a leading "v". Release builds set it with
//
//	-ldflags "-X github.com/gatewayd-plugin-actions/gatewayd-plugin-example/plugin.Version=1.2.3"
//
// and GatewayD shows it as id.version in its GetPlugins API.
var Version = "0.0.0-dev"

// PluginID identifies the plugin. Name must equal the repository name, the binary name and the
// name used in gatewayd_plugin.yaml.
var PluginID = v1.PluginID{
	Name:      "gatewayd-plugin-example",
	Version:   Version,
	RemoteUrl: "github.com/gatewayd-plugin-actions/gatewayd-plugin-example",
}

// Hooks are the hooks this plugin attaches to, in the form GatewayD reads them (numbers).
var Hooks = []v1.HookName{
	v1.HookName_HOOK_NAME_ON_CONFIG_LOADED,
	v1.HookName_HOOK_NAME_ON_TRAFFIC_FROM_CLIENT,
}

// PluginConfig is the metadata returned by GetPluginConfig. GatewayD reads id.{name,version,remoteUrl},
// description, authors, license, projectUrl, config (string values only), hooks and requires.
var PluginConfig = map[string]any{
	"id": map[string]any{
		"name":      PluginID.GetName(),
		"version":   PluginID.GetVersion(),
		"remoteUrl": PluginID.GetRemoteUrl(),
	},
	"description": "A minimal pass-through GatewayD plugin used to exercise gatewayd-plugin-actions",
	"authors":     []any{"gatewayd-plugin-actions contributors"},
	"license":     "Apache-2.0",
	"projectUrl":  "https://github.com/gatewayd-plugin-actions/gatewayd-plugin-example",
	"config":      map[string]any{"passThrough": "true"},
	"hooks":       hookNumbers(Hooks),
	"tags":        []any{"example", "passthrough"},
	"categories":  []any{"example"},
}

func hookNumbers(hooks []v1.HookName) []any {
	numbers := make([]any, 0, len(hooks))
	for _, hook := range hooks {
		numbers = append(numbers, int32(hook))
	}

	return numbers
}
