package osb_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// FuzzRequestBodies sends arbitrary bodies to the endpoints that decode
// them: every answer must be a client error or a success, never a 5xx.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"service_id":"` + svcID + `","plan_id":"` + planSmall + `","parameters":{"size":"s"}}`,
		`{"service_id":"` + svcID + `","plan_id":"` + planLarge + `","parameters":null,"context":{"platform":"x"}}`,
		`{"service_id":"` + svcID + `","plan_id":"` + planSmall + `","bind_resource":{"app_guid":"a"}}`,
		`{"service_id":1}`, `[]`, `{"parameters":[1,2]}`, `{"maintenance_info":{"version":"1"}}`, ``,
	} {
		f.Add(seed, uint8(0))
	}
	h := newHarness(f, nil, nil)
	handler := h.srv.Handler()
	f.Fuzz(func(t *testing.T, body string, which uint8) {
		method, path := http.MethodPut, "/v2/service_instances/fz"
		switch which % 3 {
		case 1:
			method = http.MethodPatch
		case 2:
			path = "/v2/service_instances/fz/service_bindings/fb"
		}
		req := httptest.NewRequest(method, path+"?accepts_incomplete=false", bytes.NewBufferString(body))
		req.SetBasicAuth("broker", "secret")
		req.Header.Set(osb.HeaderAPIVersion, osb.APIVersion)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
	})
}
