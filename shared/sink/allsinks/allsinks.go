// Package allsinks registers every sink driver linked into a binary. Import it
// for its side effect; each driver is linked by one file here, so a build tag
// on that file can leave a large client out of a binary.
package allsinks
