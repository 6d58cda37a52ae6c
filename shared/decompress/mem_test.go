package decompress_test

import "runtime"

// testingMem reads the bytes allocated so far by the process.
type testingMem struct{ total uint64 }

func (m *testingMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
