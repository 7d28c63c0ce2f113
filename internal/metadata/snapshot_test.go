package metadata

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func snapshotBytes(t *testing.T, img Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// imagesEqual compares two images through their public accessors.
func imagesEqual(t *testing.T, a, b Image) {
	t.Helper()
	if a.Index() != b.Index() || a.ClusterID() != b.ClusterID() || a.NextProducerID() != b.NextProducerID() ||
		a.PartitionCount() != b.PartitionCount() {
		t.Fatalf("header differs: %d/%q/%d/%d vs %d/%q/%d/%d", a.Index(), a.ClusterID(), a.NextProducerID(), a.PartitionCount(),
			b.Index(), b.ClusterID(), b.NextProducerID(), b.PartitionCount())
	}
	if !reflect.DeepEqual(a.Brokers(), b.Brokers()) {
		t.Fatalf("brokers differ:\n%+v\n%+v", a.Brokers(), b.Brokers())
	}
	ta, tb := a.Topics(), b.Topics()
	if len(ta) != len(tb) {
		t.Fatalf("%d topics vs %d", len(ta), len(tb))
	}
	for i := range ta {
		if !reflect.DeepEqual(ta[i], tb[i]) {
			t.Fatalf("topic %d differs:\n%+v\n%+v", i, ta[i], tb[i])
		}
		byID, ok := b.TopicByID(ta[i].ID)
		if !ok || byID.Name != ta[i].Name {
			t.Fatalf("by-id index differs for %s", ta[i].Name)
		}
		if _, ok := b.CollidingTopic(CollisionKey(ta[i].Name) + "x"); ok {
			t.Fatal("phantom collision")
		}
	}
	for _, name := range []string{"", "0", "1", "2"} {
		if !reflect.DeepEqual(a.BrokerConfigs(name), b.BrokerConfigs(name)) {
			t.Fatalf("broker configs %q differ", name)
		}
	}
}

func TestSnapshotRestoreEqual(t *testing.T) {
	for _, n := range []int{0, 1, 50, 500} {
		s := NewState()
		rejected := 0
		for i, r := range randomRecords(uint64(n), n) {
			if err := s.Apply(uint64(i+1), r); err != nil {
				rejected++
			}
		}
		_ = s.Apply(uint64(n+1), InitCluster{ClusterID: "cid"})
		img := s.Image()
		data := snapshotBytes(t, img)
		restored, err := ReadSnapshot(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("n=%d: restore: %v", n, err)
		}
		imagesEqual(t, img, restored)
		if again := snapshotBytes(t, restored); !bytes.Equal(again, data) {
			t.Fatalf("n=%d: snapshot of the restored image differs", n)
		}
		// A restored state keeps applying like the original.
		s2 := NewStateFrom(restored)
		more := randomRecords(uint64(n)+99, 50)
		for i, r := range more {
			e1 := s.Apply(uint64(n+2+i), r)
			e2 := s2.Apply(uint64(n+2+i), r)
			if (e1 == nil) != (e2 == nil) {
				t.Fatalf("n=%d: record %d: %v vs %v", n, i, e1, e2)
			}
		}
		imagesEqual(t, s.Image(), s2.Image())
		t.Logf("n=%d: %d rejected, %d topics, snapshot %d bytes", n, rejected, img.TopicCount(), len(data))
	}
}

// The same records give the same image, byte for byte: determinism.
func TestReplayDeterministic(t *testing.T) {
	recs := randomRecords(7, 300)
	var first []byte
	for range 3 {
		s := NewState()
		for i, r := range recs {
			_ = s.Apply(uint64(i+1), r)
		}
		b := snapshotBytes(t, s.Image())
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatal("replay is not deterministic")
		}
	}
}

func TestReadSnapshotErrors(t *testing.T) {
	s := NewState()
	for i, r := range []Record{broker(1), topic("a", 1, 2), topic("b", 2, 1)} {
		if err := s.Apply(uint64(i+1), r); err != nil {
			t.Fatal(err)
		}
	}
	good := string(snapshotBytes(t, s.Image()))
	for _, tc := range []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"bad magic", strings.Replace(good, "SAMSA", "XAMSA", 1)},
		{"truncated", good[:len(good)/2]},
		{"duplicate topic", strings.Replace(good, `"name":"b"`, `"name":"a"`, 1)},
		{"bad partition", strings.Replace(good, `"isr":[1]`, `"isr":[7]`, 1)},
		{"negative producer id", strings.Replace(good, `"next_producer_id":0`, `"next_producer_id":-1`, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.data == good {
				t.Fatal("test case did not alter the snapshot")
			}
			if _, err := ReadSnapshot(strings.NewReader(tc.data)); !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("err = %v, want ErrInvalidRecord", err)
			}
		})
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestReadSnapshotBounded(t *testing.T) {
	old := snapshotLimit
	snapshotLimit = 1 << 20
	defer func() { snapshotLimit = old }()
	r := io.MultiReader(strings.NewReader(snapshotMagic), endless{})
	if _, err := ReadSnapshot(r); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("err = %v, want ErrInvalidRecord (size limit)", err)
	}
}
