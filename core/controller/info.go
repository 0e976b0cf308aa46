package controller

import (
	"strings"

	"github.com/stokehq/stoke/core/entity"
)

// info is the body of GET / and GET /api/v1 (OpenWhisk Controller.scala
// `info`): what a client needs to know before it calls.
type info struct {
	Description string                   `json:"description"`
	APIPaths    []string                 `json:"api_paths"`
	Limits      infoLimits               `json:"limits"`
	Runtimes    map[string][]runtimeInfo `json:"runtimes"`
	Support     map[string]string        `json:"support,omitempty"`
}

// infoLimits uses OpenWhisk's names and units (memory and logs in bytes).
type infoLimits struct {
	ActionsPerMinute  int `json:"actions_per_minute"`
	ConcurrentActions int `json:"concurrent_actions"`
	MinActionDuration int `json:"min_action_duration"`
	MaxActionDuration int `json:"max_action_duration"`
	MinActionMemory   int `json:"min_action_memory"`
	MaxActionMemory   int `json:"max_action_memory"`
	MinActionLogs     int `json:"min_action_logs"`
	MaxActionLogs     int `json:"max_action_logs"`
	MaxParameterSize  int `json:"max_parameter_size"`
	MaxActionCodeSize int `json:"max_action_code_size"`
}

type runtimeInfo struct {
	Kind       string `json:"kind"`
	Default    bool   `json:"default"`
	Deprecated bool   `json:"deprecated"`
	Attached   bool   `json:"attached"`
	Image      string `json:"image,omitempty"`
	Backend    string `json:"backend"`
	// Backends run this kind, the default first; the "backend" annotation
	// picks one.
	Backends []string `json:"backends,omitempty"`
}

func (c *Controller) info() info {
	rts := map[string][]runtimeInfo{}
	for _, r := range c.cfg.Manifest.All() {
		fam := family(r.Kind)
		rts[fam] = append(rts[fam], runtimeInfo{Kind: r.Kind, Default: r.Default, Image: r.Image, Backend: r.Backend, Backends: r.Backends})
	}
	return info{
		Description: "Stoke, an OpenWhisk-compatible serverless platform",
		APIPaths:    []string{"/api/v1"},
		Limits:      c.limits(),
		Runtimes:    rts,
	}
}

func (c *Controller) limits() infoLimits {
	return infoLimits{
		ActionsPerMinute:  c.cfg.InvocationsPerMinute,
		ConcurrentActions: c.cfg.ConcurrentInvocations,
		MinActionDuration: entity.MinTimeout,
		MaxActionDuration: entity.MaxTimeout,
		MinActionMemory:   entity.MinMemory << 20,
		MaxActionMemory:   entity.MaxMemory << 20,
		MinActionLogs:     entity.MinLogs << 20,
		MaxActionLogs:     entity.MaxLogs << 20,
		MaxParameterSize:  entity.MaxParameterBytes,
		MaxActionCodeSize: entity.MaxCodeBytes,
	}
}

// namespaceLimits is GET /namespaces/{ns}/limits, OpenWhisk's UserLimits
// shape. Stoke has no per-namespace overrides yet, so these are the
// system limits.
func (c *Controller) namespaceLimits() map[string]int {
	return map[string]int{
		"invocationsPerMinute":  c.cfg.InvocationsPerMinute,
		"concurrentInvocations": c.cfg.ConcurrentInvocations,
		"minActionMemory":       entity.MinMemory << 20,
		"maxActionMemory":       entity.MaxMemory << 20,
		"minActionLogs":         entity.MinLogs << 20,
		"maxActionLogs":         entity.MaxLogs << 20,
		"minActionTimeout":      entity.MinTimeout,
		"maxActionTimeout":      entity.MaxTimeout,
		"minActionConcurrency":  entity.MinConcurrency,
		"maxActionConcurrency":  entity.MaxConcurrency,
		"maxParameterSize":      entity.MaxParameterBytes,
		"maxPayloadSize":        entity.MaxParameterBytes,
	}
}

// family is the part of a kind before ':' ("nodejs" of "nodejs:20").
func family(kind string) string {
	f, _, _ := strings.Cut(kind, ":")
	return f
}
