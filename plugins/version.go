package plugins

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stokehq/stoke/sdk"
)

// checkInfo refuses a backend built against another major API version,
// the second level of versioning after go-plugin's protocol version: the
// wire may match while the behaviour does not.
func checkInfo(info *sdk.Info) error {
	if info == nil {
		return errors.New("backend returned no info")
	}
	if info.Name == "" {
		return errors.New("backend info has no name")
	}
	got, err := major(info.APIVersion)
	if err != nil {
		return fmt.Errorf("backend %q: %w", info.Name, err)
	}
	want, err := major(sdk.APIVersion)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("backend %q speaks API %s, this host speaks %s: major versions differ",
			info.Name, info.APIVersion, sdk.APIVersion)
	}
	return nil
}

// major returns the major number of a semver string such as "1.2.3" or
// "v1.2.3-rc.1".
func major(v string) (int, error) {
	s := strings.TrimPrefix(v, "v")
	head, _, _ := strings.Cut(s, ".")
	n, err := strconv.Atoi(head)
	if err != nil || n < 0 || head == "" || head[0] == '+' {
		return 0, fmt.Errorf("bad API version %q: want semver such as 1.0.0", v)
	}
	return n, nil
}
