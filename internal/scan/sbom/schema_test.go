package sbom

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// validateJSONSchema checks doc against the schema at schemaURL, which
// with its references is given in resources (URL to file), formats
// asserted.
func validateJSONSchema(t *testing.T, doc []byte, schemaURL string, resources map[string]string) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for url, file := range resources {
		f, err := os.Open(file)
		if err != nil {
			t.Fatalf("open schema: %v", err)
		}
		v, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("parse schema %s: %v", file, err)
		}
		if err := c.AddResource(url, v); err != nil {
			t.Fatalf("add schema %s: %v", url, err)
		}
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("document does not validate against %s:\n%v", schemaURL, err)
	}
}

// moduleDir is where the go command keeps a module this one requires.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	return dir
}

// cycloneDXSchemas are the CycloneDX 1.5 JSON schema and the schemas it
// references, as the cyclonedx-go module ships them.
func cycloneDXSchemas(t *testing.T) map[string]string {
	dir := filepath.Join(moduleDir(t, "github.com/CycloneDX/cyclonedx-go"), "schema")
	return map[string]string{
		"http://cyclonedx.org/schema/bom-1.5.schema.json":  filepath.Join(dir, "bom-1.5.schema.json"),
		"http://cyclonedx.org/schema/spdx.schema.json":     filepath.Join(dir, "spdx.schema.json"),
		"http://cyclonedx.org/schema/jsf-0.82.schema.json": filepath.Join(dir, "jsf-0.82.schemax.json"),
	}
}
