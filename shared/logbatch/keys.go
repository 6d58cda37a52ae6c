package logbatch

import "github.com/webtrack/webtrack/shared/apierror"

// MaxKeyBytes is the longest key the service accepts.
const MaxKeyBytes = 128

// reservedKeys may not be sent as content keys: the service sets them. An
// entry's own __topic__ and __source__ are content, stored under their names
// (see own).
var reservedKeys = map[string]bool{
	"__time__":           true,
	"__partition_time__": true,
	"_extract_others_":   true,
	"__extract_others__": true,
}

// reservedTags may not be sent in __tags__: the service sets them when it
// records client metadata, and webtrack names each line's request.
var reservedTags = map[string]bool{"__client_ip__": true, "__receive_time__": true, "__request_id__": true}

// checkKey reports why key may not name a field: it must be 1 to 128 bytes
// of letters, digits, '_' and '-', not starting with a digit.
func checkKey(key []byte) string {
	if len(key) == 0 {
		return "is empty"
	}
	if len(key) > MaxKeyBytes {
		return "is longer than 128 bytes"
	}
	if key[0] >= '0' && key[0] <= '9' {
		return "starts with a digit"
	}
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "may hold only letters, digits, '_' and '-'"
		}
	}
	return ""
}

func invalidKey(where place, key []byte, why string) *apierror.Error {
	return apierror.New(apierror.InvalidKey, "%s: key %q %s", where, key, why)
}
