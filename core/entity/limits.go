package entity

// System limits, OpenWhisk's defaults (reference/openwhisk.md §3.9).
const (
	MinTimeout     = 100
	MaxTimeout     = 300000
	DefaultTimeout = 60000

	MinMemory     = 128
	MaxMemory     = 512
	DefaultMemory = 256

	MinLogs     = 0
	MaxLogs     = 10
	DefaultLogs = 10

	MinConcurrency     = 1
	MaxConcurrency     = 500
	DefaultConcurrency = 1

	MaxParameterBytes = 1 << 20  // parameters of an action, or an invoke payload
	MaxCodeBytes      = 48 << 20 // action code
	MaxResultBytes    = 1 << 20  // a result beyond this is truncated

	DefaultListLimit = 30
	MaxListLimit     = 200

	MaxBlockingWait = 60000 // ms
)

// DefaultLimits are the limits of an action that sets none.
func DefaultLimits() ActionLimits {
	return ActionLimits{Timeout: DefaultTimeout, Memory: DefaultMemory, Logs: DefaultLogs, Concurrency: DefaultConcurrency}
}
