package filesink

import "testing"

// Classify is exported for tests.
var Classify = classify

// OrphanAge is exported for tests.
const OrphanAge = orphanAge

// RecordSyncs makes every directory sync also append the directory to
// *synced, until the test ends.
func RecordSyncs(t *testing.T, synced *[]string) {
	real := syncDir
	t.Cleanup(func() { syncDir = real })
	syncDir = func(dir string) error {
		*synced = append(*synced, dir)
		return real(dir)
	}
}
