package filesink

// Classify is exported for tests.
var Classify = classify
