// Command gatewayd-plugin-example is a minimal GatewayD plugin. GatewayD starts it as a child
// process and talks to it over gRPC (hashicorp/go-plugin). Run directly, it refuses to start.
package main

import (
	"flag"
	"os"
	"time"

	sdkConfig "github.com/gatewayd-io/gatewayd-plugin-sdk/config"
	"github.com/gatewayd-io/gatewayd-plugin-sdk/logging"
	sdkPlugin "github.com/gatewayd-io/gatewayd-plugin-sdk/plugin"
	v1 "github.com/gatewayd-io/gatewayd-plugin-sdk/plugin/v1"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/gatewayd-plugin-actions/gatewayd-plugin-example/plugin"
)

// Failure knobs for integration tests of test harnesses (see README.md). Unset, they do nothing.
const (
	exitAtStartEnv = "EXAMPLE_EXIT_AT_START"
	crashAfterEnv  = "EXAMPLE_CRASH_AFTER"

	exitAtStartCode = 1
	crashCode       = 2
)

func main() {
	logLevel := flag.String("log-level", "info", "Log level: trace, debug, info, warn, error or off")
	flag.Parse()

	// hclog JSON on stderr: go-plugin relays it into GatewayD's log. Stdout belongs to the
	// go-plugin handshake; nothing may be printed there before Serve.
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       plugin.PluginID.GetName(),
		Level:      logging.GetLogLevel(*logLevel),
		Output:     os.Stderr,
		JSONFormat: true,
		Color:      hclog.ColorOff,
	})

	if os.Getenv(exitAtStartEnv) == "1" {
		logger.Error(exitAtStartEnv + "=1: exiting with status 1 before serving (simulated start-up failure)")
		os.Exit(exitAtStartCode)
	}

	if value := os.Getenv(crashAfterEnv); value != "" {
		delay, err := time.ParseDuration(value)
		if err != nil || delay <= 0 {
			logger.Warn("ignoring "+crashAfterEnv+": not a positive Go duration", "value", value)
		} else {
			go crashAfter(logger, delay)
		}
	}

	logger.Info("Starting plugin", "version", plugin.Version)

	impl := &plugin.Plugin{Logger: logger}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  v1.Handshake.ProtocolVersion,
			MagicCookieKey:   sdkConfig.GetEnv("MAGIC_COOKIE_KEY", ""),
			MagicCookieValue: sdkConfig.GetEnv("MAGIC_COOKIE_VALUE", ""),
		},
		Plugins: v1.GetPluginSetMap(map[string]goplugin.Plugin{
			plugin.PluginID.GetName(): plugin.NewExamplePlugin(impl),
		}),
		GRPCServer: sdkPlugin.DefaultGRPCServer,
		Logger:     logger,
	})
}

// crashAfter simulates a plugin that dies after it started: GatewayD's health check then reports
// "Failed to ping plugin" (and reloads it when reloadOnCrash is true).
func crashAfter(logger hclog.Logger, delay time.Duration) {
	time.Sleep(delay)
	logger.Error(crashAfterEnv+" elapsed: exiting with status 2 (simulated crash)", "after", delay.String())
	os.Exit(crashCode)
}
