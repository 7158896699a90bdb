package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(fs, func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DataDir != "./data" || c.LogFormat != "text" || c.PublicURL() != "http://localhost:8080" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestPrecedenceIsDefaultsFileEnvFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "berth.yaml")
	os.WriteFile(file, []byte("addr: 127.0.0.1:9000\nlog_level: debug\nlog_format: json\ndata_dir: /from/file\n"), 0o600)
	c, err := load(t, map[string]string{"BERTH_CONFIG": file, "BERTH_LOG_LEVEL": "warn", "BERTH_DATA_DIR": "/from/env"}, "--data-dir", "/from/flag")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" {
		t.Errorf("addr from file: got %q", c.Addr)
	}
	if c.LogFormat != "json" {
		t.Errorf("log format from file: got %q", c.LogFormat)
	}
	if c.LogLevel != "warn" {
		t.Errorf("env overrides file: got %q", c.LogLevel)
	}
	if c.DataDir != "/from/flag" {
		t.Errorf("flag overrides env: got %q", c.DataDir)
	}
}

func TestBadValuesNameTheSetting(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(file, []byte("adress: :1\n"), 0o600)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown yaml key", nil, []string{"--config", file}, "adress"},
		{"missing file", nil, []string{"--config", "/nonexistent.yaml"}, "--config"},
		{"bad addr", nil, []string{"--addr", "nonsense"}, "--addr"},
		{"bad log level", map[string]string{"BERTH_LOG_LEVEL": "loud"}, nil, "--log-level"},
		{"bad log format", nil, []string{"--log-format", "xml"}, "--log-format"},
		{"bad database scheme", nil, []string{"--database-url", "mysql://x/y"}, "--database-url"},
		{"bad redis url", nil, []string{"--redis-url", "http://x"}, "--redis-url"},
		{"relative external url", nil, []string{"--external-url", "registry.local"}, "--external-url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.env, tc.args...)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("want *config.Error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

func TestExternalURLGivesRegistryHost(t *testing.T) {
	c, err := load(t, nil, "--external-url", "https://registry.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	if c.RegistryHost() != "registry.example.com" || c.PublicURL() != "https://registry.example.com" {
		t.Fatalf("got host %q url %q", c.RegistryHost(), c.PublicURL())
	}
}

func TestOIDCModeNeedsIssuerAndClientID(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"BERTH_AUTH_MODE": "ldap"}, "--auth-mode"},
		{map[string]string{"BERTH_AUTH_MODE": "oidc"}, "--oidc-issuer"},
		{map[string]string{"BERTH_AUTH_MODE": "oidc", "BERTH_OIDC_ISSUER": "https://id.example.com"}, "--oidc-client-id"},
		{map[string]string{"BERTH_AUTH_MODE": "oidc", "BERTH_OIDC_ISSUER": "id.example.com", "BERTH_OIDC_CLIENT_ID": "berth"}, "--oidc-issuer"},
	} {
		_, err := load(t, tc.env)
		var cerr *Error
		if !errors.As(err, &cerr) || !strings.HasPrefix(cerr.Setting, tc.want) {
			t.Errorf("env %v: got %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
	c, err := load(t, map[string]string{"BERTH_AUTH_MODE": "oidc", "BERTH_OIDC_ISSUER": "https://id.example.com", "BERTH_OIDC_CLIENT_ID": "berth"},
		"--oidc-client-secret", "s3cret", "--oidc-admin-group", "ops")
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDCScopes != "openid,profile,email" || c.OIDCUsernameClaim != "preferred_username" || c.OIDCClientSecret != "s3cret" || c.OIDCAdminGroup != "ops" {
		t.Fatalf("unexpected OIDC settings: %+v", c)
	}
}

func TestRobotSettings(t *testing.T) {
	c, err := load(t, map[string]string{"BERTH_ROBOT_PREFIX": "bot_", "BERTH_ROBOT_EXPIRY_DAYS": "7"})
	if err != nil {
		t.Fatal(err)
	}
	if c.RobotPrefix != "bot_" || c.RobotExpiry().Hours() != 7*24 {
		t.Fatalf("robot settings: %q %v", c.RobotPrefix, c.RobotExpiry())
	}
	for _, bad := range []map[string]string{{"BERTH_ROBOT_PREFIX": "a b"}, {"BERTH_ROBOT_EXPIRY_DAYS": "0"}, {"BERTH_AUDIT_RETENTION_DAYS": "-1"}, {"BERTH_AUDIT_PULLS": "maybe"}} {
		if _, err := load(t, bad); err == nil {
			t.Fatalf("%v accepted", bad)
		}
	}
}

func TestOIDCAllowPrivateIsOffByDefaultAndSetByFlagEnvOrFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "berth.yaml")
	os.WriteFile(file, []byte("oidc_allow_private: true\n"), 0o600)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want bool
	}{
		{"default", nil, nil, false},
		{"bare flag", nil, []string{"--oidc-allow-private"}, true},
		{"flag set to false", map[string]string{"BERTH_OIDC_ALLOW_PRIVATE": "true"}, []string{"--oidc-allow-private=false"}, false},
		{"environment", map[string]string{"BERTH_OIDC_ALLOW_PRIVATE": "true"}, nil, true},
		{"yaml", map[string]string{"BERTH_CONFIG": file}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if c.OIDCPrivateAllowed() != tc.want {
				t.Fatalf("OIDCPrivateAllowed() = %v, want %v", c.OIDCPrivateAllowed(), tc.want)
			}
		})
	}
	if _, err := load(t, map[string]string{"BERTH_OIDC_ALLOW_PRIVATE": "sometimes"}); err == nil || !strings.Contains(err.Error(), "--oidc-allow-private") {
		t.Fatalf("a bad --oidc-allow-private was accepted: %v", err)
	}
}

func TestMetricsAddrMustBeHostPort(t *testing.T) {
	c, err := load(t, map[string]string{"BERTH_METRICS_ADDR": "127.0.0.1:9090"})
	if err != nil || c.MetricsAddr != "127.0.0.1:9090" {
		t.Fatalf("metrics addr from env: %q %v", c.MetricsAddr, err)
	}
	if c, err := load(t, nil); err != nil || c.MetricsAddr != "" {
		t.Fatalf("metrics addr must default to empty (served on --addr): %q %v", c.MetricsAddr, err)
	}
	if _, err := load(t, nil, "--metrics-addr", "9090"); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Fatalf("a bad --metrics-addr was accepted: %v", err)
	}
}

func TestStorageDriverDefaultsToFilesystemWithoutRedirect(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.StorageDriver != "filesystem" || c.StorageRedirects() || c.S3PathStyleAddressing() || c.StorageSendfileMode() != SendfileAuto {
		t.Fatalf("storage defaults: driver %q, redirect %v, path style %v, sendfile %v", c.StorageDriver, c.StorageRedirects(), c.S3PathStyleAddressing(), c.StorageSendfileMode())
	}
	if (&Config{}).StorageSendfileMode() != SendfileAuto {
		t.Fatal("a configuration built in code without the setting does not choose sendfile by client")
	}
}

func TestStorageSendfileIsAutoTrueOrFalse(t *testing.T) {
	for value, want := range map[string]string{"auto": SendfileAuto, "AUTO": SendfileAuto, "true": SendfileAlways, "1": SendfileAlways, "false": SendfileNever, "FALSE": SendfileNever} {
		c, err := load(t, map[string]string{"BERTH_STORAGE_SENDFILE": value})
		if err != nil || c.StorageSendfileMode() != want {
			t.Errorf("BERTH_STORAGE_SENDFILE=%s: mode %q, %v; want %q", value, c.StorageSendfileMode(), err, want)
		}
	}
	if c, err := load(t, nil, "--storage-sendfile"); err != nil || c.StorageSendfileMode() != SendfileAlways {
		t.Errorf("--storage-sendfile alone: %v, %v; want always", c.StorageSendfileMode(), err)
	}
	_, err := load(t, map[string]string{"BERTH_STORAGE_SENDFILE": "sometimes"})
	if err == nil || !strings.Contains(err.Error(), `"sometimes" is not auto, true or false`) || !strings.Contains(err.Error(), "BERTH_STORAGE_SENDFILE") {
		t.Errorf("BERTH_STORAGE_SENDFILE=sometimes: %v", err)
	}
}

func TestS3SettingsComeFromFlagsAndEnvironment(t *testing.T) {
	c, err := load(t, map[string]string{
		"BERTH_STORAGE_DRIVER": "s3",
		"BERTH_S3_BUCKET":      "berth-blobs",
		"BERTH_S3_ACCESS_KEY":  "access",
		"BERTH_S3_SECRET_KEY":  "secret",
	}, "--s3-endpoint", "http://127.0.0.1:7070", "--s3-region", "eu-west-1", "--s3-prefix", "registry/one", "--s3-path-style", "--storage-redirect")
	if err != nil {
		t.Fatal(err)
	}
	if c.StorageDriver != "s3" || c.S3Bucket != "berth-blobs" || c.S3Endpoint != "http://127.0.0.1:7070" ||
		c.S3Region != "eu-west-1" || c.S3Prefix != "registry/one" || c.S3AccessKey != "access" || c.S3SecretKey != "secret" ||
		!c.S3PathStyleAddressing() || !c.StorageRedirects() {
		t.Fatalf("S3 settings not loaded: %+v", c)
	}
}

func TestBadS3SettingsNameTheSetting(t *testing.T) {
	good := map[string]string{
		"BERTH_STORAGE_DRIVER": "s3",
		"BERTH_S3_BUCKET":      "berth-blobs",
		"BERTH_S3_ACCESS_KEY":  "access",
		"BERTH_S3_SECRET_KEY":  "secret",
	}
	with := func(k, v string) map[string]string {
		env := map[string]string{}
		for key, val := range good {
			env[key] = val
		}
		env[k] = v
		return env
	}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unknown driver", with("BERTH_STORAGE_DRIVER", "gcs"), "--storage-driver"},
		{"missing bucket", with("BERTH_S3_BUCKET", ""), "--s3-bucket"},
		{"bucket with upper case", with("BERTH_S3_BUCKET", "Berth"), "--s3-bucket"},
		{"bucket too long", with("BERTH_S3_BUCKET", strings.Repeat("b", 64)), "--s3-bucket"},
		{"missing access key", with("BERTH_S3_ACCESS_KEY", ""), "--s3-access-key"},
		{"missing secret key", with("BERTH_S3_SECRET_KEY", ""), "--s3-secret-key"},
		{"endpoint without scheme", with("BERTH_S3_ENDPOINT", "minio:9000"), "--s3-endpoint"},
		{"endpoint with a path", with("BERTH_S3_ENDPOINT", "http://minio:9000/bucket"), "--s3-endpoint"},
		{"region with spaces", with("BERTH_S3_REGION", "us east"), "--s3-region"},
		{"prefix escaping", with("BERTH_S3_PREFIX", "a/../b"), "--s3-prefix"},
		{"prefix too long", with("BERTH_S3_PREFIX", strings.Repeat("p", 1025)), "--s3-prefix"},
		{"path style not a bool", with("BERTH_S3_PATH_STYLE", "sometimes"), "--s3-path-style"},
		{"redirect not a bool", with("BERTH_STORAGE_REDIRECT", "maybe"), "--storage-redirect"},
		{"sendfile not a bool", with("BERTH_STORAGE_SENDFILE", "often"), "--storage-sendfile"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.env)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("want *config.Error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

// The secret key comes from the environment or the file, never a flag
// (process listings show flags); a malformed key is refused by every
// command, a missing one only where the database is PostgreSQL.
func TestSecretKeyIsEnvironmentOrFileOnlyAndRequiredWithPostgres(t *testing.T) {
	const key = "WWmcbP5hxiwqwdl9Ss5vEJWywxHAzkhkTSUdCW3V+00="
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	AddFlags(fs)
	if err := fs.Parse([]string{"--secret-key", key}); err == nil {
		t.Error("--secret-key is a flag")
	}
	c, err := load(t, map[string]string{"BERTH_SECRET_KEY": key})
	if err != nil || c.SecretKey != key {
		t.Fatalf("from the environment: %q, %v", c.SecretKey, err)
	}
	file := filepath.Join(t.TempDir(), "berth.yaml")
	os.WriteFile(file, []byte("secret_key: "+key+"\ndatabase_url: postgres://berth@db/berth\n"), 0o600)
	if c, err = load(t, nil, "--config", file); err != nil || c.SecretKey != key || c.RequireSecretKey() != nil {
		t.Fatalf("from the file: %q, %v", c.SecretKey, err)
	}

	for name, bad := range map[string]string{"short": "0123456789abcdef0123456789abcdef", "not an encoding": "my secret key!"} {
		_, err := load(t, map[string]string{"BERTH_SECRET_KEY": bad})
		var cerr *Error
		if !errors.As(err, &cerr) || cerr.Setting != "BERTH_SECRET_KEY (secret_key)" || !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("%s key: %v; want an error naming BERTH_SECRET_KEY saying how to generate one", name, err)
		}
	}

	c, err = load(t, map[string]string{"BERTH_DATABASE_URL": "postgresql://berth@db/berth"})
	if err != nil {
		t.Fatalf("berth gc and berth admin user run on PostgreSQL without the key: %v", err)
	}
	var cerr *Error
	if err := c.RequireSecretKey(); !errors.As(err, &cerr) || !strings.Contains(err.Error(), "BERTH_SECRET_KEY") || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Errorf("PostgreSQL without a key: %v; want an error naming BERTH_SECRET_KEY", err)
	}
	if c, _ := load(t, nil); c.RequireSecretKey() != nil {
		t.Error("SQLite without a key is refused; it generates one")
	}
}

func TestVulndbURLsAreRepeatableOrCommaSeparatedAndRefreshIsADuration(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.VulndbURLs()) != 0 || c.VulndbRefreshEvery() != 24*time.Hour {
		t.Fatalf("defaults: urls %q, refresh %v", c.VulndbURLs(), c.VulndbRefreshEvery())
	}
	a, b := "https://osv.example/Debian/all.zip", "http://mirror.internal/Go/all.zip"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"flag repeated", nil, []string{"--vulndb-url", a, "--vulndb-url", b}},
		{"flag with commas", nil, []string{"--vulndb-url", a + "," + b}},
		{"environment", map[string]string{"BERTH_VULNDB_URL": a + ", " + b, "BERTH_VULNDB_REFRESH": "6h"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.VulndbURLs(); len(got) != 2 || got[0] != a || got[1] != b {
				t.Fatalf("urls %q", got)
			}
		})
	}
	c, err = load(t, nil, "--vulndb-refresh", "0")
	if err != nil || c.VulndbRefreshEvery() != 0 {
		t.Fatalf("refresh 0: %v, %v", c.VulndbRefreshEvery(), err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--vulndb-url", "ftp://osv.example/all.zip"}, "--vulndb-url"},
		{[]string{"--vulndb-url", "/srv/osv/all.zip"}, "--vulndb-url"},
		{[]string{"--vulndb-refresh", "daily"}, "--vulndb-refresh"},
		{[]string{"--vulndb-refresh", "10ms"}, "--vulndb-refresh"},
	} {
		_, err := load(t, nil, tc.args...)
		var cerr *Error
		if !errors.As(err, &cerr) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
	// A token in a bad URL is not repeated in the error.
	_, err = load(t, nil, "--vulndb-url", "ftp://user:s3cret@osv.example/all.zip")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL with a password: %v", err)
	}
}

func TestSBOMCycloneDXIsOffByDefaultAndTrueOrFalse(t *testing.T) {
	c, err := load(t, nil)
	if err != nil || c.SBOMCycloneDXOn() {
		t.Fatalf("default: %v %v", c.SBOMCycloneDXOn(), err)
	}
	if c, err := load(t, map[string]string{"BERTH_SBOM_CYCLONEDX": "true"}); err != nil || !c.SBOMCycloneDXOn() {
		t.Fatalf("BERTH_SBOM_CYCLONEDX=true: %v", err)
	}
	if _, err := load(t, map[string]string{"BERTH_SBOM_CYCLONEDX": "maybe"}); err == nil || !strings.Contains(err.Error(), "--sbom-cyclonedx") {
		t.Fatalf("BERTH_SBOM_CYCLONEDX=maybe: %v", err)
	}
}
