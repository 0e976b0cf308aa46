package memory_test

import (
	"testing"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/bus/bustest"
	"github.com/stokehq/stoke/core/bus/memory"
)

func TestBus(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Bus { return memory.New(256) })
}
