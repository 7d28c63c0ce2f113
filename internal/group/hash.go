package group

import "unicode/utf8"

// OffsetsTopic is the internal topic holding committed offsets and group
// metadata.
const OffsetsTopic = "__consumer_offsets"

// PartitionFor returns the __consumer_offsets partition that owns groupID
// when the topic has partitions partitions: Kafka's
// Utils.abs(groupId.hashCode) % groupMetadataTopicPartitionCount, where
// hashCode is Java's String.hashCode over UTF-16 code units and abs masks
// the sign bit. It returns 0 when partitions is not positive.
func PartitionFor(groupID string, partitions int32) int32 {
	if partitions <= 0 {
		return 0
	}
	return (javaStringHash(groupID) & 0x7fffffff) % partitions
}

// javaStringHash is java.lang.String.hashCode of s (decoded as UTF-8, with
// invalid bytes read as U+FFFD as Java's decoder does).
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 && r <= utf8.MaxRune {
			r -= 0x10000
			h = 31*h + int32(0xd800+(r>>10))
			h = 31*h + int32(0xdc00+(r&0x3ff))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}
