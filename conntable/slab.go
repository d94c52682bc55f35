package conntable

// slab is a growable array of pointer-free records addressed by uint32 index.
// It grows by whole chunks instead of by append doubling, for two reasons: a
// growing table never copies its records (no multi-megabyte copy under a shard
// lock, no transient 2× memory), and the slack is at most one chunk, not up to
// half the array. T must hold no pointers so the chunks are noscan memory.
type slab[T any] struct {
	chunks [][]T
	n      uint32 // records handed out so far; indexes below n are valid
}

// A chunk is 128 records (2 KiB of 16-byte groups, 3 KiB of 24-byte members,
// 4 KiB of 32-byte timers: each an exact size class). Each shard's last
// chunks are partly empty, half a chunk of groups and of members a shard on
// average: with 64 shards and 15,000 users of one connection each, ~11 B a
// connection, where 256-record chunks left twice that.
const (
	chunkBits = 7
	chunkLen  = 1 << chunkBits
	chunkMask = chunkLen - 1
)

// at returns record i; i must be below s.n.
func (s *slab[T]) at(i uint32) *T {
	return &s.chunks[i>>chunkBits][i&chunkMask]
}

// grow hands out a fresh zeroed record index, adding a chunk when needed.
func (s *slab[T]) grow() uint32 {
	i := s.n
	if int(i>>chunkBits) == len(s.chunks) {
		s.chunks = append(s.chunks, make([]T, chunkLen))
	}
	s.n++
	return i
}
