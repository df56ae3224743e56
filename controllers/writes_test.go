package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"scrutin.dev/scrutin/internal/specs"
)

// writeLog sits between the controller and the API server: it records every write
// the controller sends, by the namespace of the object written (a Namespace by its
// own name), and fails on demand the applies of chosen objects.
type writeLog struct {
	mu     sync.Mutex
	writes map[string][]string // namespace -> "verb Kind/name"
	fail   map[string]bool     // "namespace/name" of objects whose applies fail
}

func newWriteLog() *writeLog {
	return &writeLog{writes: map[string][]string{}, fail: map[string]bool{}}
}

// wrap is c with its writes recorded.
func (w *writeLog) wrap(c client.Client) client.Client {
	return interceptor.NewClient(noWatch{c}, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			w.record("create", obj)
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			w.record("update", obj)
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			w.record("patch", obj)
			return c.Patch(ctx, obj, patch, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			w.record("delete", obj)
			return c.Delete(ctx, obj, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, ac runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			var obj named
			switch a := ac.(type) {
			case specs.Applied:
				obj = appliedNamed{a}
			case named:
				obj = a
			default:
				return fmt.Errorf("apply of a %T, not an object", ac)
			}
			w.record("apply", obj)
			if w.failing(obj) {
				return errors.New("injected failure")
			}
			return c.Apply(ctx, ac, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			w.record("update/"+sub, obj)
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			w.record("patch/"+sub, obj)
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	})
}

// named is what the log needs of an object written.
type named interface {
	GetNamespace() string
	GetName() string
}

// appliedNamed is a typed apply configuration as the log names it.
type appliedNamed struct{ specs.Applied }

func (a appliedNamed) GetNamespace() string { return ptr.Deref(a.Applied.GetNamespace(), "") }
func (a appliedNamed) GetName() string      { return ptr.Deref(a.Applied.GetName(), "") }

func (w *writeLog) record(verb string, obj named) {
	ns := obj.GetNamespace()
	if ns == "" {
		ns = obj.GetName()
	}
	kind := fmt.Sprintf("%T", obj)
	if o, ok := obj.(runtime.Object); ok && o.GetObjectKind().GroupVersionKind().Kind != "" {
		kind = o.GetObjectKind().GroupVersionKind().Kind
	}
	if a, ok := obj.(appliedNamed); ok {
		kind = ptr.Deref(a.GetKind(), kind)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes[ns] = append(w.writes[ns], verb+" "+kind+"/"+obj.GetName())
}

// in lists the writes recorded so far to these namespaces.
func (w *writeLog) in(namespaces ...string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, ns := range namespaces {
		out = append(out, w.writes[ns]...)
	}
	return out
}

// failApplies makes the applies of namespace/name fail, or succeed again.
func (w *writeLog) failApplies(namespace, name string, fail bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fail[namespace+"/"+name] = fail
}

func (w *writeLog) failing(obj named) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fail[obj.GetNamespace()+"/"+obj.GetName()]
}

// noWatch is a client without Watch, which the controller never calls.
type noWatch struct{ client.Client }

func (noWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("watch is not supported")
}
