package ownership

import "testing"

func TestOf(t *testing.T) {
	if _, ok := Of(map[string]string{"team": "a"}); ok {
		t.Error("an entry without ownership tags reads as owned")
	}
	got, ok := Of(map[string]string{TagInstance: "i", TagNamespace: "ns", TagName: "n", "x": "y"})
	if !ok || got != (Owner{Instance: "i", Namespace: "ns", Name: "n"}) {
		t.Errorf("Of = %+v, %v", got, ok)
	}
	if back, ok := Of(got.Tags()); !ok || back != got || len(got.Tags()) != Count {
		t.Errorf("Of(Tags()) = %+v, %v; %d tags, want %d", back, ok, len(got.Tags()), Count)
	}
	// One tag is enough to read as owned: an entry never carries part of them by accident.
	if o, ok := Of(map[string]string{TagName: "n"}); !ok || o.Name != "n" {
		t.Errorf("Of(one tag) = %+v, %v", o, ok)
	}
}

func TestIsOwnershipKey(t *testing.T) {
	for key, want := range map[string]bool{TagInstance: true, "EKSACCESS.IO/x": true, "team": false, "eksaccess.io": false} {
		if got := IsOwnershipKey(key); got != want {
			t.Errorf("IsOwnershipKey(%q) = %v, want %v", key, got, want)
		}
	}
}
