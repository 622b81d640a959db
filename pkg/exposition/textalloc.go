package exposition

import "math/rand/v2"

// The text parser's memory. A 20 MB exposition holds some 100,000 series;
// allocating each one's Metric and Labels on its own, and growing each
// family's slice by doubling, made the garbage collector the parser's
// largest cost. Here the family being parsed is built in buffers reused
// from family to family, and each finished family is copied once into
// storage cut from shared slabs, exactly as long as it needs.

// seriesBuf holds the metrics of the family being parsed. Its chunks are
// reused by the next family; the first grows as a slice does (so that a
// small body costs what it needs), the others have 1<<chunkBits metrics
// so that a family of a million series is never moved as a whole.
type seriesBuf struct {
	chunks [][]Metric
	n      int
}

const chunkBits = 12 // 4096 metrics a chunk

func (b *seriesBuf) at(i int) *Metric { return &b.chunks[i>>chunkBits][i&(1<<chunkBits-1)] }

// push appends m and returns its index.
func (b *seriesBuf) push(m Metric) int {
	c, i := b.n>>chunkBits, b.n&(1<<chunkBits-1)
	if c == len(b.chunks) {
		size := 1 << chunkBits
		if c == 0 {
			size = 8 // the first chunk grows as a slice does
		}
		b.chunks = append(b.chunks, make([]Metric, 0, size))
	}
	if ch := b.chunks[c]; i < len(ch) {
		ch[i] = m // a slot an earlier family used
	} else {
		b.chunks[c] = append(ch, m)
	}
	b.n++
	return b.n - 1
}

// copyTo copies the metrics into out, which has room for b.n.
func (b *seriesBuf) copyTo(out []Metric) {
	for i, n := 0, 0; n < b.n; i++ {
		n += copy(out[n:b.n], b.chunks[i])
	}
}

// reset empties the buffer for the next family. The metrics stay in the
// chunks until overwritten: every one of them was copied out, and the
// copies hold the same labels and buckets.
func (b *seriesBuf) reset() { b.n = 0 }

// slab hands out slices cut from larger allocations. Each slice has its
// length as capacity, so appending to it copies rather than writes into
// its neighbour. The first slab has the size next says (a guess from the
// body's length), each one after twice the last, up to limit elements; a
// request larger than a quarter of that gets its own allocation.
type slab[T any] struct {
	free []T
	next int
}

func (s *slab[T]) take(n, limit int) []T {
	if n == 0 {
		return nil
	}
	if n > limit/4 {
		return make([]T, n)
	}
	if len(s.free) < n {
		size := min(max(s.next, 64, n), limit)
		s.free = make([]T, size)
		s.next = 2 * size
	}
	out := s.free[:n:n]
	s.free = s.free[n:]
	return out
}

// seriesIndex maps a label hash to the first metric of the current family
// with that hash. It is an open-addressing table that the next family
// reuses: entries of earlier families carry an older generation and count
// as empty, so that starting a family costs nothing however large the
// last one was. The label hash is unseeded, so a body could be made of
// label sets whose hashes share their low bits; the slot is therefore
// found from the hash mixed with a random seed, which keeps the probes
// short whatever the body.
type seriesIndex struct {
	slots []indexSlot
	seed  uint64
	gen   uint32
	n     int
}

type indexSlot struct {
	hash uint64
	i    int32 // a family of 2^31 series would be a body of over 60 GB
	gen  uint32
}

func newSeriesIndex() seriesIndex { return seriesIndex{seed: rand.Uint64(), gen: 1} }

// home is the first slot to probe for h: murmur3's finaliser of h^seed.
func (x *seriesIndex) home(h uint64) uint64 {
	h ^= x.seed
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h & uint64(len(x.slots)-1)
}

// reset forgets every entry.
func (x *seriesIndex) reset() {
	x.gen++
	x.n = 0
	if x.gen == 0 { // wrapped: old generations would count as current
		clear(x.slots)
		x.gen = 1
	}
}

// get returns the metric recorded for h.
func (x *seriesIndex) get(h uint64) (int, bool) {
	if x.n == 0 {
		return 0, false
	}
	mask := uint64(len(x.slots) - 1)
	for j := x.home(h); ; j = (j + 1) & mask {
		s := &x.slots[j]
		if s.gen != x.gen {
			return 0, false
		}
		if s.hash == h {
			return int(s.i), true
		}
	}
}

// put records metric i for h, which get did not find.
func (x *seriesIndex) put(h uint64, i int) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	mask := uint64(len(x.slots) - 1)
	j := x.home(h)
	for x.slots[j].gen == x.gen {
		j = (j + 1) & mask
	}
	x.slots[j] = indexSlot{hash: h, i: int32(i), gen: x.gen}
	x.n++
}

func (x *seriesIndex) grow() {
	old := x.slots
	x.slots = make([]indexSlot, max(2*len(old), 16))
	mask := uint64(len(x.slots) - 1)
	for _, s := range old {
		if s.gen != x.gen {
			continue
		}
		j := x.home(s.hash)
		for x.slots[j].gen == x.gen {
			j = (j + 1) & mask
		}
		x.slots[j] = s
	}
}
