package wire

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRegistryLookupAndKeys(t *testing.T) {
	var r Registry // the zero value is usable
	r.Register(18, 0, 4)
	r.Register(0, 0, 11)
	r.Register(3, 0, 12)
	r.Register(3, 1, 13) // replaces
	r.Register(50, 5, 2) // empty range: registered but not served

	if got, want := r.Keys(), []int16{0, 3, 18, 50}; !slices.Equal(got, want) {
		t.Fatalf("Keys() = %v, want %v", got, want)
	}
	tests := []struct {
		key  int16
		want VersionRange
		ok   bool
	}{
		{0, VersionRange{0, 11}, true},
		{3, VersionRange{1, 13}, true},
		{18, VersionRange{0, 4}, true},
		{50, VersionRange{}, false},
		{1, VersionRange{}, false},
	}
	for _, tc := range tests {
		if got, ok := r.Lookup(tc.key); got != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%d) = %v, %v; want %v, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRegistryCheck(t *testing.T) {
	r := NewRegistry()
	r.Register(18, 0, 4)
	if err := r.Check(); err != nil {
		t.Fatalf("Check() on a valid registry: %v", err)
	}
	r.Register(3, 4, 2)    // empty
	r.Register(1, -1, 4)   // negative
	r.Register(9999, 0, 0) // unknown to kmsg
	r.Register(0, 0, 1000) // newer than kmsg decodes
	err := r.Check()
	if err == nil {
		t.Fatal("Check() accepted invalid registrations")
	}
	for _, want := range []string{"key 3:", "key 1:", "key 9999:", "key 0 (Produce)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check() error %q does not mention %q", err, want)
		}
	}
}

func TestApiVersionsResponse(t *testing.T) {
	r := testRegistry()
	r.SetFeatures(42, []Feature{
		{Name: "metadata.version", MinVersion: 1, MaxVersion: 25, FinalizedLevel: 25},
		{Name: "group.version", MinVersion: 0, MaxVersion: 1, FinalizedLevel: 1},
		{Name: "transaction.version", MinVersion: 0, MaxVersion: 2, FinalizedLevel: 0},
	})
	wantKeys := []kmsg.ApiVersionsResponseApiKey{
		{ApiKey: 0, MinVersion: 0, MaxVersion: 11},
		{ApiKey: 3, MinVersion: 0, MaxVersion: 12},
		{ApiKey: 18, MinVersion: 0, MaxVersion: 4},
	}
	tests := []struct {
		version       int16
		wantSupported []string
		wantFinalized []string
		wantEpoch     int64
	}{
		{0, nil, nil, -1},
		{2, nil, nil, -1},
		// v3: features with min version 0 are omitted (KAFKA-17011).
		{3, []string{"metadata.version"}, []string{"metadata.version", "group.version"}, 42},
		{4, []string{"metadata.version", "group.version", "transaction.version"}, []string{"metadata.version", "group.version"}, 42},
	}
	for _, tc := range tests {
		resp := r.ApiVersionsResponse(tc.version)
		if resp.Version != tc.version || resp.ErrorCode != 0 {
			t.Fatalf("v%d: version %d error %d", tc.version, resp.Version, resp.ErrorCode)
		}
		if !slices.EqualFunc(resp.ApiKeys, wantKeys, func(a, b kmsg.ApiVersionsResponseApiKey) bool {
			return a.ApiKey == b.ApiKey && a.MinVersion == b.MinVersion && a.MaxVersion == b.MaxVersion
		}) {
			t.Fatalf("v%d: ApiKeys %+v", tc.version, resp.ApiKeys)
		}
		var sup, fin []string
		for _, f := range resp.SupportedFeatures {
			sup = append(sup, f.Name)
		}
		for _, f := range resp.FinalizedFeatures {
			fin = append(fin, f.Name)
			if f.MinVersionLevel != f.MaxVersionLevel {
				t.Errorf("v%d: finalized %s min %d != max %d", tc.version, f.Name, f.MinVersionLevel, f.MaxVersionLevel)
			}
		}
		if !slices.Equal(sup, tc.wantSupported) || !slices.Equal(fin, tc.wantFinalized) || resp.FinalizedFeaturesEpoch != tc.wantEpoch {
			t.Errorf("v%d: supported %v finalized %v epoch %d; want %v %v %d",
				tc.version, sup, fin, resp.FinalizedFeaturesEpoch, tc.wantSupported, tc.wantFinalized, tc.wantEpoch)
		}
		// The answer must survive an encode/decode round trip at its version.
		back := kmsg.NewPtrApiVersionsResponse()
		back.SetVersion(tc.version)
		if err := back.ReadFrom(resp.AppendTo(nil)); err != nil || len(back.ApiKeys) != len(wantKeys) {
			t.Errorf("v%d: round trip: %v, %d keys", tc.version, err, len(back.ApiKeys))
		}
	}
}

func TestApiVersionsFallback(t *testing.T) {
	resp := testRegistry().apiVersionsFallback()
	if resp.Version != 0 || resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) != 3 {
		t.Fatalf("fallback: version %d error %d keys %d", resp.Version, resp.ErrorCode, len(resp.ApiKeys))
	}
	// A v0 body is error code, key array, nothing else.
	if got, want := len(resp.AppendTo(nil)), 2+4+3*6; got != want {
		t.Fatalf("v0 fallback body is %d bytes, want %d", got, want)
	}
}
