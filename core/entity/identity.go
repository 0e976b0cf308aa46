package entity

// Identity is a subject allowed to call the API: a UUID and a secret key
// (HTTP Basic user and password) that act in a namespace.
type Identity struct {
	Subject   string `json:"subject"`
	Namespace string `json:"namespace"`
	UUID      string `json:"uuid"`
	Key       string `json:"key"`
}

// AuthKey is "uuid:key", the form the CLI and __OW_API_KEY use.
func (id *Identity) AuthKey() string { return id.UUID + ":" + id.Key }

// GuestUUID and GuestKey are OpenWhisk standalone's well-known development
// credentials for namespace "guest". They are public: never use them for
// anything reachable from another machine.
const (
	GuestUUID = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"
	GuestKey  = "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
)
