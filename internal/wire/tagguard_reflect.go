package wire

import (
	"bytes"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Walking kmsg messages for the tagged-field guard: where strings and byte
// slices point, and flipping every scalar. Each type is analysed once with
// reflect into a typePlan (offsets, sizes, kinds); the walks then use
// unsafe pointer arithmetic, as reflect.Value per field costs ~100 ns and a
// fetch request has hundreds of fields.

type byteRange struct{ start, end int }

// planKind is what the guard does with a value.
type planKind uint8

const (
	kindSkip    planKind = iota
	kindScalar           // ints, uints, floats, byte arrays: flipped
	kindBool             // left alone
	kindString           // content: located by aliasing
	kindBytes            // []byte content: located by aliasing
	kindTags             // kmsg.Tags: values located by aliasing
	kindSlice            // walk the elements
	kindArray            // arrays of non-bytes: walk the elements
	kindPointer          // walk the pointee when non-nil
	kindStruct           // walk the fields
)

type typePlan struct {
	kind   planKind
	size   uintptr
	elem   *typePlan // slices, arrays, pointers
	length int       // arrays
	fields []planField
	def    unsafe.Pointer // structs: an instance after Default()
}

type planField struct {
	offset  uintptr
	plan    *typePlan
	version bool // the request's own Version field: not a value
	// gated[version]: is this scalar encoded only when not at its default
	// (a tagged field)? 0 unknown, 1 no, 2 yes.
	gated *[64]atomic.Int32
}

// sliceHeader is the layout of every Go slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

var (
	tagsType  = reflect.TypeFor[kmsg.Tags]()
	plansMu   sync.Mutex // serializes building plans
	plansDone sync.Map   // reflect.Type → *typePlan, complete
)

func planOf(t reflect.Type) *typePlan {
	if p, ok := plansDone.Load(t); ok {
		return p.(*typePlan)
	}
	plansMu.Lock()
	defer plansMu.Unlock()
	building := map[reflect.Type]*typePlan{}
	p := buildPlan(t, building)
	for typ, tp := range building {
		plansDone.Store(typ, tp)
	}
	return p
}

func buildPlan(t reflect.Type, building map[reflect.Type]*typePlan) *typePlan {
	if p, ok := plansDone.Load(t); ok {
		return p.(*typePlan)
	}
	if p, ok := building[t]; ok {
		return p
	}
	p := &typePlan{size: t.Size()}
	building[t] = p
	switch t.Kind() {
	case reflect.Bool:
		p.kind = kindBool
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint,
		reflect.Float32, reflect.Float64:
		p.kind = kindScalar
	case reflect.String:
		p.kind = kindString
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			p.kind = kindScalar
		} else {
			p.kind, p.elem, p.length = kindArray, buildPlan(t.Elem(), building), t.Len()
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			p.kind = kindBytes
		} else {
			p.kind, p.elem = kindSlice, buildPlan(t.Elem(), building)
		}
	case reflect.Pointer:
		p.kind, p.elem = kindPointer, buildPlan(t.Elem(), building)
	case reflect.Struct:
		if t == tagsType {
			p.kind = kindTags
			break
		}
		p.kind = kindStruct
		def := reflect.New(t)
		if d, ok := def.Interface().(interface{ Default() }); ok {
			d.Default()
		}
		p.def = def.UnsafePointer()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			pf := planField{offset: f.Offset, plan: buildPlan(f.Type, building)}
			pf.version = f.Name == "Version" && f.Type.Kind() == reflect.Int16
			if pf.plan.kind == kindScalar {
				pf.gated = new([64]atomic.Int32)
			}
			p.fields = append(p.fields, pf)
		}
	}
	return p
}

// aliasedRanges returns the sorted, merged ranges of buf that strings, []byte
// fields and unknown tag values of the message msg (a pointer to a kmsg
// struct) point into.
func aliasedRanges(msg any, buf []byte) []byteRange {
	v := reflect.ValueOf(msg)
	a := aliaser{base: uintptr(unsafe.Pointer(unsafe.SliceData(buf))), size: uintptr(len(buf))}
	a.walk(v.UnsafePointer(), planOf(v.Type().Elem()))
	slices.SortFunc(a.out, func(x, y byteRange) int { return x.start - y.start })
	merged := a.out[:0]
	for _, r := range a.out {
		if n := len(merged); n > 0 && r.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, r.end)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

type aliaser struct {
	base, size uintptr
	out        []byteRange
}

func (a *aliaser) add(p unsafe.Pointer, n int) {
	if n == 0 || p == nil {
		return
	}
	if off := uintptr(p) - a.base; uintptr(p) >= a.base && off < a.size {
		a.out = append(a.out, byteRange{int(off), int(off) + n})
	}
}

func (a *aliaser) walk(p unsafe.Pointer, tp *typePlan) {
	switch tp.kind {
	case kindString:
		s := *(*string)(p)
		a.add(unsafe.Pointer(unsafe.StringData(s)), len(s))
	case kindBytes:
		b := *(*[]byte)(p)
		a.add(unsafe.Pointer(unsafe.SliceData(b)), len(b))
	case kindTags:
		(*kmsg.Tags)(p).Each(func(_ uint32, val []byte) {
			a.add(unsafe.Pointer(unsafe.SliceData(val)), len(val))
		})
	case kindPointer:
		if q := *(*unsafe.Pointer)(p); q != nil {
			a.walk(q, tp.elem)
		}
	case kindSlice:
		h := (*sliceHeader)(p)
		for i := 0; i < h.len; i++ {
			a.walk(unsafe.Add(h.data, uintptr(i)*tp.elem.size), tp.elem)
		}
	case kindArray:
		for i := 0; i < tp.length; i++ {
			a.walk(unsafe.Add(p, uintptr(i)*tp.elem.size), tp.elem)
		}
	case kindStruct:
		for _, f := range tp.fields {
			a.walk(unsafe.Add(p, f.offset), f.plan)
		}
	}
}

// flipper changes every scalar of a message except bools (XOR 0x55, or 0xaa
// where 0x55 would land on the field's default value) so that its encoding
// differs from the original at every byte of those scalars. Bools need no
// flip: a bool byte (0 or 1) never starts a candidate.
//
// The layout of the encoding must not move. Tagged fields are encoded only
// when not at their default value: a non-default scalar never becomes default
// (hence the second mask), and a default scalar is left alone when it is
// tag-gated. Whether it is, is learned once per field and version by flipping
// it alone and re-encoding. That answer can be wrong for a field inside a
// tagged struct seen absent once and present later; the flip then only adds
// bytes, the caller sees the length change and refuses the request.
type flipper struct {
	version    int16
	encodedLen int
	encode     func() int // the length of the message's encoding now
}

// flipMessage flips the scalars of msg, a pointer to a kmsg request struct.
func (f *flipper) flipMessage(msg any) {
	v := reflect.ValueOf(msg)
	f.flipStruct(v.UnsafePointer(), planOf(v.Type().Elem()), true)
}

func (f *flipper) flipStruct(p unsafe.Pointer, tp *typePlan, top bool) {
	for _, pf := range tp.fields {
		fp := unsafe.Add(p, pf.offset)
		switch pf.plan.kind {
		case kindBool:
		case kindScalar:
			if top && pf.version {
				continue
			}
			value := unsafe.Slice((*byte)(fp), pf.plan.size)
			def := unsafe.Slice((*byte)(unsafe.Add(tp.def, pf.offset)), pf.plan.size)
			if bytes.Equal(value, def) {
				if !f.gated(pf, fp) {
					xorBytes(value, 0x55)
				}
				continue // a default tagged field is absent from the encoding
			}
			xorBytes(value, 0x55)
			if bytes.Equal(value, def) {
				xorBytes(value, 0xff) // 0x55 ^ 0xff = 0xaa: not the default
			}
		default:
			f.flipValue(fp, pf.plan)
		}
	}
}

func (f *flipper) flipValue(p unsafe.Pointer, tp *typePlan) {
	switch tp.kind {
	case kindScalar: // an element of a slice or array: never tagged itself
		xorBytes(unsafe.Slice((*byte)(p), tp.size), 0x55)
	case kindPointer:
		if q := *(*unsafe.Pointer)(p); q != nil {
			f.flipValue(q, tp.elem)
		}
	case kindSlice:
		h := (*sliceHeader)(p)
		for i := 0; i < h.len; i++ {
			f.flipValue(unsafe.Add(h.data, uintptr(i)*tp.elem.size), tp.elem)
		}
	case kindArray:
		for i := 0; i < tp.length; i++ {
			f.flipValue(unsafe.Add(p, uintptr(i)*tp.elem.size), tp.elem)
		}
	case kindStruct:
		f.flipStruct(p, tp, false)
	}
}

// gated reports whether the default-valued scalar field at p is encoded only
// when not at its default, learning it from the current message if unknown.
func (f *flipper) gated(pf planField, p unsafe.Pointer) bool {
	if f.version < 0 || int(f.version) >= len(pf.gated) {
		return true // unknown: leave it alone (a touched byte in it is refused)
	}
	slot := &pf.gated[f.version]
	if g := slot.Load(); g != 0 {
		return g == 2
	}
	value := unsafe.Slice((*byte)(p), pf.plan.size)
	xorBytes(value, 0x55)
	gated := f.encode() != f.encodedLen
	xorBytes(value, 0x55) // restored
	slot.Store(int32(1 + b2u(gated)))
	return gated
}

func xorBytes(b []byte, mask byte) {
	for i := range b {
		b[i] ^= mask
	}
}
