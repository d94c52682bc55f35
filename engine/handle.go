package engine

// Handle names a connection: bits 0..23 slot index, 24..31 loop index, 32..63 generation
// (never 0). The zero Handle is never a valid connection.
//
// A Handle stays safe after its connection closes: the slot's generation changes when the slot
// is freed, so an old Handle never names the connection that later reuses the slot or the fd.
type Handle uint64

const (
	slotBits = 24
	loopBits = 8
	maxSlots = 1 << slotBits
	maxLoops = 1 << loopBits
)

func makeHandle(loop int, slot int32, gen uint32) Handle {
	return Handle(uint64(slot) | uint64(loop)<<slotBits | uint64(gen)<<32)
}

// Loop returns the index of the loop that owns the connection.
func (h Handle) Loop() int { return int(h>>slotBits) & (maxLoops - 1) }

// Slot returns the connection's slot index in its loop's table.
func (h Handle) Slot() int { return int(h) & (maxSlots - 1) }

func (h Handle) gen() uint32 { return uint32(h >> 32) }
