package wire

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersionsKey is the API key of ApiVersions (KIP-35).
const apiVersionsKey int16 = 18

// VersionRange is an inclusive range of versions served for one API key.
type VersionRange struct{ Min, Max int16 }

// Contains reports whether v lies in the range.
func (vr VersionRange) Contains(v int16) bool { return v >= vr.Min && v <= vr.Max }

// Feature is one KIP-584 feature flag advertised in ApiVersions v3+
// (for example "metadata.version", "transaction.version", "group.version").
type Feature struct {
	// Name is the feature name.
	Name string
	// MinVersion and MaxVersion are the levels this broker supports.
	MinVersion, MaxVersion int16
	// FinalizedLevel is the cluster-wide finalized level; a level <= 0 means
	// the feature is not finalized (disabled) and it is not listed among the
	// finalized features.
	FinalizedLevel int16
}

// Registry records, per API key, the versions the broker serves. It is the
// single source of ApiVersions answers: responses are computed from it, never
// typed by hand. The zero value is an empty registry ready to use; all methods
// are safe for concurrent use.
type Registry struct {
	mu sync.RWMutex
	// Guarded by mu.
	ranges        map[int16]VersionRange
	features      []Feature
	featuresEpoch int64
	featuresSet   bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Register declares that the broker serves versions min..max of key,
// replacing an earlier registration of the same key. Check reports ranges that
// cannot be served (min > max, a negative min, a key or version kmsg does not
// know).
func (r *Registry) Register(key int16, min, max int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ranges == nil {
		r.ranges = make(map[int16]VersionRange)
	}
	r.ranges[key] = VersionRange{Min: min, Max: max}
}

// Lookup returns the range registered for key. It reports false for a key
// that is not registered or whose registered range is empty.
func (r *Registry) Lookup(key int16) (VersionRange, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	vr, ok := r.ranges[key]
	if !ok || vr.Min > vr.Max || vr.Min < 0 {
		return VersionRange{}, false
	}
	return vr, true
}

// Keys returns the registered keys in ascending order.
func (r *Registry) Keys() []int16 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	keys := make([]int16, 0, len(r.ranges))
	for k := range r.ranges {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Check reports every registration that cannot be served: an empty or
// negative range, a key kmsg has no request type for, or a max version newer
// than kmsg can decode. A broker calls it once at startup (or in a test).
func (r *Registry) Check() error {
	var errs []error
	for _, key := range r.Keys() {
		r.mu.RLock()
		vr := r.ranges[key]
		r.mu.RUnlock()
		req := kmsg.RequestForKey(key)
		switch {
		case vr.Min < 0 || vr.Min > vr.Max:
			errs = append(errs, fmt.Errorf("wire: key %d: invalid version range %d..%d", key, vr.Min, vr.Max))
		case req == nil:
			errs = append(errs, fmt.Errorf("wire: key %d: unknown to kmsg", key))
		case vr.Max > req.MaxVersion():
			errs = append(errs, fmt.Errorf("wire: key %d (%s): max version %d above kmsg's %d",
				key, kmsg.NameForKey(key), vr.Max, req.MaxVersion()))
		}
	}
	return errors.Join(errs...)
}

// SetFeatures replaces the advertised KIP-584 features. epoch is the
// finalized-features epoch (for samsa: the metadata offset the levels were
// read at); it must be >= 0 for clients to trust the finalized levels.
func (r *Registry) SetFeatures(epoch int64, features []Feature) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.features = slices.Clone(features)
	r.featuresEpoch = epoch
	r.featuresSet = true
}

// ApiVersionsResponse builds the ApiVersions answer for a request of the given
// version: error code 0, every registered key with its range (sorted by key),
// and from v3 on the supported and finalized features. The caller owns the
// returned message.
func (r *Registry) ApiVersionsResponse(version int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(version)
	resp.ApiKeys = r.apiKeys()
	if version < 3 {
		return resp
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.featuresSet {
		return resp
	}
	for _, f := range r.features {
		// ApiVersionsResponse.json: "in v0-v3, features with
		// MinSupportedVersion = 0 are omitted" (KAFKA-17011, fixed in v4).
		if version < 4 && f.MinVersion == 0 {
			continue
		}
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = f.Name, f.MinVersion, f.MaxVersion
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
	}
	resp.FinalizedFeaturesEpoch = r.featuresEpoch
	for _, f := range r.features {
		if f.FinalizedLevel <= 0 {
			continue
		}
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = f.Name, f.FinalizedLevel, f.FinalizedLevel
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
	}
	return resp
}

// apiVersionsFallback is the KIP-511 answer to an ApiVersions request of a
// version the broker does not serve: a v0 body with UNSUPPORTED_VERSION and
// the full key list, from which the client picks a version to retry with.
func (r *Registry) apiVersionsFallback() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = r.apiKeys()
	return resp
}

func (r *Registry) apiKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := r.Keys()
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(keys))
	for _, k := range keys {
		vr, ok := r.Lookup(k)
		if !ok {
			continue
		}
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, vr.Min, vr.Max
		out = append(out, ak)
	}
	return out
}
