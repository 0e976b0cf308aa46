package sdk

import "encoding/json"

// Sentinel is the line a proxy writes to stdout and to stderr after every
// /run and after a failed /init, so that log readers can tell where one
// activation's logs end.
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// Init is the "value" of a /init body.
type Init struct {
	Name   string            `json:"name"`
	Main   string            `json:"main"`
	Binary bool              `json:"binary"`
	Code   string            `json:"code,omitempty"`
	Env    map[string]string `json:"env,omitempty"`
}

// InitBody encodes the /init request body: {"value": init}.
func InitBody(in *Init) ([]byte, error) {
	return json.Marshal(struct {
		Value *Init `json:"value"`
	}{in})
}

// Run is a /run request: the parameters and the activation context, which
// the proxy exports as __OW_<KEY> variables.
type Run struct {
	Value         json.RawMessage `json:"value"`
	Namespace     string          `json:"namespace"`
	ActionName    string          `json:"action_name"`
	ActionVersion string          `json:"action_version"`
	ActivationID  string          `json:"activation_id"`
	TransactionID string          `json:"transaction_id"`
	Deadline      string          `json:"deadline"` // epoch ms, as a string
	APIKey        string          `json:"api_key,omitempty"`
}

// RunBody encodes the /run request body.
func RunBody(r *Run) ([]byte, error) {
	if len(r.Value) == 0 {
		r.Value = json.RawMessage("{}")
	}
	return json.Marshal(r)
}
